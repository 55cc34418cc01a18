// aws-jwt-verify: a CognitoJwtVerifier for the pool and one app client, its JWKS cache fed with
// the local layer's /<pool>/.well-known/jwks.json (the verifier would otherwise fetch AWS's).
import { CognitoJwtVerifier } from "aws-jwt-verify";
import { done, input, step } from "./journal.mjs";

const cfg = await input();
const jwks = await (await fetch(`${cfg.cognito}/${cfg.pool}/.well-known/jwks.json`)).json();

function verifierFor(clientId, tokenUse = null) {
  const verifier = CognitoJwtVerifier.create({ userPoolId: cfg.pool, clientId, tokenUse });
  verifier.cacheJwks(jwks);
  return verifier;
}

const church = verifierFor(cfg.clients.church);
const pick = (p) => ({ token_use: p.token_use, client_id: p.client_id ?? null, aud: p.aud ?? null, iss: p.iss });
await step("jwks", () => ({ kids: jwks.keys.map((k) => k.kid), algs: jwks.keys.map((k) => k.alg) }));
await step("churchAccess", async () => pick(await church.verify(cfg.tokens.church.access)));
await step("churchId", async () => pick(await church.verify(cfg.tokens.church.id)));
await step("idTokenAsAccess", () => verifierFor(cfg.clients.church, "access").verify(cfg.tokens.church.id));
await step("eventsOnChurch", () => church.verify(cfg.tokens.events.access));
await step("eventsOnEvents", async () => pick(await verifierFor(cfg.clients.events).verify(cfg.tokens.events.access)));
await step("tampered", () => {
  const [header, payload, signature] = cfg.tokens.church.access.split(".");
  const body = JSON.parse(Buffer.from(payload, "base64url").toString());
  const forged = Buffer.from(JSON.stringify({ ...body, "integreat:app": "events" })).toString("base64url");
  return church.verify(`${header}.${forged}.${signature}`);
});
done();
