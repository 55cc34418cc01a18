// Grace Church's frontend: Amplify JS v6 for sign-up and sign-in (the platform's one user pool,
// church's own app client), plain fetch for Integreat's API with the access token.
import { Amplify } from "aws-amplify";
import { confirmSignUp, fetchAuthSession, signIn, signOut, signUp } from "aws-amplify/auth";

const $ = (id) => document.getElementById(id);
let platform; // outputs.custom.integreat: the API, its routes, the app's folders

function show(id, value) {
  $(id).textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function log(line) {
  $("log").textContent += `${new Date().toISOString().slice(11, 19)} ${line}\n`;
}

async function configure() {
  const outputs = await (await fetch("amplify_outputs.json", { cache: "no-store" })).json();
  Amplify.configure(outputs);
  // Locally Cognito is the platform's own endpoint; Amplify's outputs schema has no field for it.
  const endpoint = outputs.custom.integreat.user_pool_endpoint;
  if (endpoint) {
    const config = Amplify.getConfig();
    Amplify.configure({ ...config, Auth: { Cognito: { ...config.Auth.Cognito, userPoolEndpoint: endpoint } } });
  }
  platform = outputs.custom.integreat;
  for (const folder of platform.folders) $("folder").add(new Option(folder, folder));
  $("folder").value = platform.folders.includes("uploads/") ? "uploads/" : platform.folders[0];
}

async function accessToken(forceRefresh = false) {
  const { tokens } = await fetchAuthSession({ forceRefresh });
  if (!tokens) throw new Error("not signed in");
  return tokens.accessToken.toString();
}

async function api(path, init = {}) {
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${await accessToken()}` };
  const response = await fetch(platform.api_url + path, { ...init, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${response.status} ${body.error?.code || ""} ${body.error?.message || ""}`);
  return body;
}

const credentials = () => ({ username: $("email").value, password: $("password").value });

const actions = {
  async signup() {
    const { username, password } = credentials();
    const result = await signUp({ username, password, options: { userAttributes: { email: username } } });
    return `signed up: next step ${result.nextStep.signUpStep}`;
  },
  async confirm() {
    const result = await confirmSignUp({ username: $("email").value, confirmationCode: $("code").value });
    return `confirmed: ${result.isSignUpComplete}`;
  },
  async signin() {
    const result = await signIn(credentials());
    return `signed in: ${result.isSignedIn}`;
  },
  async refresh() {
    const before = await accessToken();
    const after = await accessToken(true);
    return `tokens refreshed: ${before !== after ? "new access token" : "same access token"}`;
  },
  async signout() {
    await signOut();
    return "signed out";
  },
  async me() {
    show("me-result", await api(platform.routes.me));
    return "me shown";
  },
  async upload() {
    const file = $("file").files[0];
    if (!file) throw new Error("choose a file first");
    const folder = $("folder").value;
    const signed = await api(platform.routes.uploads, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ folder, filename: file.name, content_type: file.type || "application/octet-stream", size: file.size }),
    });
    // The presigned POST: every field the API signed, then the file (S3 wants it last).
    const form = new FormData();
    for (const [name, value] of Object.entries(signed.upload.fields)) form.append(name, value);
    form.append("file", file);
    const response = await fetch(signed.upload.url, { method: "POST", body: form });
    if (!response.ok) throw new Error(`S3 answered ${response.status}: ${await response.text()}`);
    show("files-result", `uploaded ${signed.key}`);
    return `uploaded ${signed.key}`;
  },
  async list() {
    const folder = encodeURIComponent($("folder").value);
    const listed = await api(`${platform.routes.files}?folder=${folder}`);
    show("files-result", listed.files.map((f) => f.key).join("\n") || "(no files yet)");
    return `listed ${listed.files.length} file(s)`;
  },
  async inbox() {
    show("inbox-result", await api(platform.routes.inbox));
    return "inbox read";
  },
};

for (const [id, action] of Object.entries(actions)) {
  $(id).addEventListener("click", async () => {
    show("status", `${id} ...`);
    try {
      const done = await action();
      show("status", done);
      log(`${id}: ${done}`);
    } catch (error) {
      show("status", `${id} failed: ${error.message || error}`);
      log(`${id} failed: ${error.name}: ${error.message || error}`);
    }
  });
}

configure().then(
  () => show("status", `ready: ${platform.app} (${platform.stage})`),
  (error) => show("status", `cannot load amplify_outputs.json: ${error.message}`),
);
