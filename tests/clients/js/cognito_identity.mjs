// amazon-cognito-identity-js against the local Cognito layer (`endpoint` on the pool):
// SRP sign-in with authenticateUser, a wrong password refused, refreshSession.
import cognito from "amazon-cognito-identity-js";
import { api, claims, done, input, recordCognitoCalls, step } from "./journal.mjs";

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;
const cfg = await input();
const calls = recordCognitoCalls(cfg.cognito);
const pool = new CognitoUserPool({
  UserPoolId: cfg.pool,
  ClientId: cfg.clientId,
  endpoint: `${cfg.cognito}/`, // the local Cognito layer instead of cognito-idp.<region>.amazonaws.com
});
const user = () => new CognitoUser({ Username: cfg.email, Pool: pool });

function authenticate(password) {
  const details = new AuthenticationDetails({ Username: cfg.email, Password: password });
  return new Promise((resolve, reject) =>
    user().authenticateUser(details, { onSuccess: resolve, onFailure: reject }),
  );
}

function refresh(session) {
  return new Promise((resolve, reject) =>
    user().refreshSession(session.getRefreshToken(), (err, renewed) => (err ? reject(err) : resolve(renewed))),
  );
}

await step("wrongPassword", () => authenticate(`${cfg.password}-wrong`));
let mark = calls.length;
let session = null;
await step("signIn", async () => {
  session = await authenticate(cfg.password);
  return {
    access: claims(session.getAccessToken().getJwtToken()),
    id: claims(session.getIdToken().getJwtToken()),
    hasRefreshToken: Boolean(session.getRefreshToken().getToken()),
    calls: calls.slice(mark),
  };
});
await step("me", () => api(cfg.api, "GET", "/me", session?.getAccessToken().getJwtToken()));
mark = calls.length;
let renewed = null;
await step("refreshSession", async () => {
  renewed = await refresh(session);
  const access = renewed.getAccessToken().getJwtToken();
  return {
    changed: access !== session.getAccessToken().getJwtToken(),
    access: claims(access),
    calls: calls.slice(mark),
  };
});
await step("meAfterRefresh", () => api(cfg.api, "GET", "/me", renewed?.getAccessToken().getJwtToken()));
done();
