// Amplify JS v6 (aws-amplify/auth) against the local Cognito layer, through `userPoolEndpoint`:
// sign-up, confirmation, SRP sign-in, session, attributes, the API, refresh, sign-out
// (RevokeToken), password reset; then another app's client on church's routes.
import { Amplify } from "aws-amplify";
import {
  confirmSignUp,
  fetchAuthSession,
  fetchUserAttributes,
  resetPassword,
  signIn,
  signOut,
  signUp,
} from "aws-amplify/auth";
import { cognitoUserPoolsTokenProvider } from "aws-amplify/auth/cognito";
import { api, claims, cognitoCall, done, input, recordCognitoCalls, step } from "./journal.mjs";

const cfg = await input();
const calls = recordCognitoCalls(cfg.cognito);
const since = (mark) => calls.slice(mark).map((c) => ({ ...c }));

// Amplify keeps tokens in a key-value storage; an in-memory one (its documented
// KeyValueStorageInterface) lets the journey read the refresh token Amplify holds.
const store = new Map();
const storage = {
  setItem: async (key, value) => void store.set(key, value),
  getItem: async (key) => store.get(key) ?? null,
  removeItem: async (key) => void store.delete(key),
  clear: async () => store.clear(),
};
const refreshToken = () => [...store].find(([key]) => key.endsWith(".refreshToken"))?.[1] ?? null;

function configure(app) {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: cfg.pool,
        userPoolClientId: cfg.clients[app],
        userPoolEndpoint: cfg.cognito, // the local Cognito layer instead of cognito-idp.<region>.amazonaws.com
        loginWith: { email: true },
        signUpVerificationMethod: "code",
      },
    },
  });
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
}

async function tokens(options) {
  const session = await fetchAuthSession(options);
  const access = session.tokens?.accessToken?.toString();
  const id = session.tokens?.idToken?.toString();
  if (!access || !id) throw new Error("fetchAuthSession returned no tokens");
  return { access, id };
}

const refreshWithToken = (token) =>
  cognitoCall(cfg.cognito, "InitiateAuth", {
    ClientId: cfg.clients.church,
    AuthFlow: "REFRESH_TOKEN_AUTH",
    AuthParameters: { REFRESH_TOKEN: token },
  }).then((answer) => ({ hasAccessToken: Boolean(answer.AuthenticationResult?.AccessToken) }));

const { email, password } = cfg;
configure("church");
await step("signUp", async () => {
  const out = await signUp({ username: email, password, options: { userAttributes: { email } } });
  return { isSignUpComplete: out.isSignUpComplete, step: out.nextStep.signUpStep };
});
await step("confirmSignUp", async () => {
  const out = await confirmSignUp({ username: email, confirmationCode: "123456" });
  return { isSignUpComplete: out.isSignUpComplete, step: out.nextStep.signUpStep };
});
await step("wrongPassword", () => signIn({ username: email, password: `${password}-wrong` }));
let mark = calls.length;
await step("signIn", async () => {
  const out = await signIn({ username: email, password });
  return { isSignedIn: out.isSignedIn, step: out.nextStep.signInStep, calls: since(mark) };
});
let first = null;
await step("session", async () => {
  first = await tokens();
  const access = claims(first.access);
  return { access, id: claims(first.id), hasRefreshToken: refreshToken() !== null };
});
await step("attributes", () => fetchUserAttributes());
await step("me", () => api(cfg.api, "GET", "/me", first?.access));
await step("churchInbox", () => api(cfg.api, "GET", "/apps/church/inbox", first?.access));
await step("refreshBeforeSignOut", () => refreshWithToken(refreshToken()));
mark = calls.length;
let renewed = null;
await step("forceRefresh", async () => {
  renewed = await tokens({ forceRefresh: true });
  return { changed: renewed.access !== first?.access, access: claims(renewed.access), calls: since(mark) };
});
await step("meAfterRefresh", () => api(cfg.api, "GET", "/me", renewed?.access));
const held = refreshToken();
mark = calls.length;
await step("signOut", async () => {
  await signOut();
  return { calls: since(mark), tokensLeft: refreshToken() !== null };
});
await step("refreshAfterSignOut", () => refreshWithToken(held));
await step("resetPassword", async () => {
  const out = await resetPassword({ username: email });
  return { isPasswordReset: out.isPasswordReset, nextStep: out.nextStep };
});

// The same user through City Events' client: an events token, on church's routes.
configure("events");
let events = null;
await step("eventsSignIn", async () => {
  const out = await signIn({ username: email, password });
  events = await tokens();
  return { isSignedIn: out.isSignedIn, access: claims(events.access) };
});
await step("eventsMe", () => api(cfg.api, "GET", "/me", events?.access));
await step("eventsOnChurchInbox", () => api(cfg.api, "GET", "/apps/church/inbox", events?.access));
await step("eventsOnEventsInbox", () => api(cfg.api, "GET", "/apps/events/inbox", events?.access));
await signOut();
done();
