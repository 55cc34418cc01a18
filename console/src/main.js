// Integreat's admin console. Sign-in: Amplify Auth v6 against the platform's one user pool through
// the app client of the account the user chooses (tokens are scoped to an app; the platform admin,
// in the `integreat-admin` group, may sign in through any app's client). Then only the documented
// API, with the access token: /me and /admin/apps decide what the user sees, and the API, not the
// console, decides what each call may read.
import { Amplify } from "aws-amplify";
import { fetchAuthSession, signIn, signOut } from "aws-amplify/auth";

import { apiClient } from "./api.js";
import { $, el, failure, fill } from "./dom.js";
import { lastDays } from "./usage.js";
import { appsView, appView, platformUsage, queuesView } from "./views.js";

const ACCOUNT_KEY = "integreat-console:account"; // the app whose client the user last signed in with
const RANGE_DAYS = 14;
let outputs; // console_outputs.json: the API, the pool, every app's client id and folders
let get; // GET of the API with the signed-in user's token
let opened = null; // the app shown, if any
let platformView = false;

function show(text) {
  fill($("status"), text);
}

function configure(slug) {
  const app = outputs.apps.find((a) => a.app === slug) || outputs.apps[0];
  const cognito = { userPoolId: outputs.auth.user_pool_id, userPoolClientId: app.user_pool_client_id, loginWith: { email: true } };
  // Locally Cognito is the platform's own endpoint (as church-web's amplify_outputs.json says).
  if (outputs.auth.user_pool_endpoint) cognito.userPoolEndpoint = outputs.auth.user_pool_endpoint;
  Amplify.configure({ Auth: { Cognito: cognito } });
  $("account").value = app.app;
  localStorage.setItem(ACCOUNT_KEY, app.app);
}

async function start() {
  outputs = await (await fetch("console_outputs.json", { cache: "no-store" })).json();
  get = apiClient(outputs.api_url);
  for (const app of outputs.apps) $("account").add(new Option(`${app.name} (${app.app})`, app.app));
  configure(localStorage.getItem(ACCOUNT_KEY));
  const range = lastDays(RANGE_DAYS);
  $("from").value = range.from;
  $("to").value = range.to;
  const { tokens } = await fetchAuthSession();
  if (tokens) return load();
  show(`ready: sign in (${outputs.stage})`);
}

function range() {
  return { from: $("from").value, to: $("to").value };
}

function reset() {
  opened = null;
  platformView = false;
  for (const id of ["refusal", "platform", "app", "range-form"]) $(id).hidden = true;
  fill($("whoami"));
}

/** /me and /admin/apps: the platform admin sees every app, an app's admin their own, others a refusal. */
async function load() {
  reset();
  show("loading ...");
  const [me, admin] = await Promise.allSettled([get("/me"), get("/admin/apps")]);
  if (me.status === "rejected") {
    show("cannot read /me");
    return refuse(failure("GET /me", me.reason));
  }
  const caller = me.value;
  const appAdmin = caller.roles.includes("admin");
  const email = (await fetchAuthSession()).tokens?.idToken?.payload?.email; // the ID token's, for display
  fill($("whoami"), `Signed in as ${email || caller.username} through ${caller.app}'s account: `
    + (caller.platform_admin ? "the platform admin" : appAdmin ? `an admin of ${caller.app}` : `a member of ${caller.app}`));
  if (admin.status === "fulfilled") {
    platformView = true;
    showApps(admin.value.apps, "every app (GET /admin/apps)");
    fill($("queues"), queuesView(admin.value.queues));
    $("platform-usage").hidden = false;
    platformUsage(get, range(), $("platform-usage"));
    return show(`ready: the platform admin, ${admin.value.apps.length} apps`);
  }
  if (admin.reason.refused && appAdmin) {
    const own = outputs.apps.find((a) => a.app === caller.app) || { app: caller.app };
    showApps([{ ...own, status: "active" }], `your app only: GET /admin/apps answered ${admin.reason.status} (platform admin only)`);
    fill($("queues"));
    $("platform-usage").hidden = true;
    await openApp(caller.app);
    return show(`ready: an admin of ${caller.app}`);
  }
  show("refused");
  // What the API itself says to this caller: its refusal of the admin routes, shown as answered.
  const members = await get(`/apps/${caller.app}/members`).then(() => null, (error) => error);
  refuse(
    el("p", {}, "You need to be an app admin or the platform admin to use the console."),
    failure("GET /admin/apps", admin.reason),
    ...(members ? [failure(`GET /apps/${caller.app}/members`, members)] : []),
  );
}

function refuse(...nodes) {
  fill($("refusal"), ...nodes);
  $("refusal").hidden = false;
}

function showApps(apps, scope) {
  fill($("apps-scope"), `Showing ${scope}.`);
  fill($("apps"), appsView(apps, openApp));
  $("platform").hidden = false;
  $("range-form").hidden = false;
}

async function openApp(slug) {
  opened = slug;
  $("app").hidden = false;
  const folders = outputs.apps.find((a) => a.app === slug)?.folders || [];
  show(`loading ${slug} ...`);
  await appView(get, slug, folders, range());
  show(`showing ${slug}`);
}

const actions = {
  async signin(event) {
    event.preventDefault();
    show("signing in ...");
    configure($("account").value);
    if ((await fetchAuthSession()).tokens) await signOut();
    const result = await signIn({ username: $("email").value, password: $("password").value });
    if (!result.isSignedIn) return show(`sign-in needs another step: ${result.nextStep.signInStep}`);
    return load();
  },
  async signout() {
    await signOut();
    reset();
    show("signed out");
  },
  async range(event) {
    event.preventDefault();
    if (platformView) platformUsage(get, range(), $("platform-usage"));
    if (opened) await openApp(opened);
  },
};

function guarded(action) {
  return async (event) => {
    try {
      await action(event);
    } catch (error) {
      show(`failed: ${error.name}: ${error.message || error}`);
    }
  };
}

$("signin-form").addEventListener("submit", guarded(actions.signin));
$("signout").addEventListener("click", guarded(actions.signout));
$("range-form").addEventListener("submit", guarded(actions.range));
$("account").addEventListener("change", () => configure($("account").value));

start().catch((error) => show(`cannot start: ${error.message || error}`));
