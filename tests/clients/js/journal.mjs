// One journey's record: each step's value or the error it raised, printed as one JSON line.
// The pytest side (tests/clients/harness.py: ok, refused) asserts on every entry.

const entries = {};

/** Run `fn` as the step `name`; record {ok, value} or {ok: false, error, type, code, message}
 * (`type`: the error's class, which names aws-jwt-verify's errors; their `name` is "Error"). */
export async function step(name, fn) {
  try {
    entries[name] = { ok: true, value: (await fn()) ?? null };
  } catch (err) {
    entries[name] = {
      ok: false,
      error: err?.name ?? String(err),
      type: err?.constructor?.name ?? null,
      code: err?.code ?? null,
      message: err?.message ?? String(err),
    };
  }
  return entries[name];
}

/** The journey's input: the JSON object pytest writes to stdin. */
export async function input() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

/** Print the journal (the last line of stdout is what pytest reads). */
export function done() {
  process.stdout.write(`\n${JSON.stringify(entries)}\n`);
}

/** The payload of a JWT, unverified (for looking at claims only). */
export function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** GET/POST the API with a bearer token: {status, body}. */
export async function api(base, method, path, token, init = {}) {
  const headers = { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) };
  const response = await fetch(`${base}${path}`, { ...init, method, headers });
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}

/**
 * Record the Cognito operations a client sends through `fetch` (X-Amz-Target, AuthFlow,
 * ChallengeName, HTTP status): what the library really did, asserted by pytest.
 */
export function recordCognitoCalls(endpoint) {
  const calls = [];
  const original = globalThis.fetch;
  globalThis.fetch = async (resource, options = {}) => {
    const url = typeof resource === "string" ? resource : resource.url ?? String(resource);
    const response = await original(resource, options);
    if (url.startsWith(endpoint)) {
      const headers = new Headers(options.headers ?? (resource instanceof Request ? resource.headers : {}));
      const target = (headers.get("x-amz-target") ?? "").replace("AWSCognitoIdentityProviderService.", "");
      let body = {};
      try {
        body = JSON.parse(typeof options.body === "string" ? options.body : "{}");
      } catch {}
      calls.push({
        operation: target,
        authFlow: body.AuthFlow ?? null,
        challenge: body.ChallengeName ?? null,
        status: response.status,
      });
    }
    return response;
  };
  return calls;
}

/** One Cognito call on the wire (AWS JSON 1.1, unsigned as a public client sends it). */
export async function cognitoCall(endpoint, operation, body) {
  const response = await fetch(`${endpoint}/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    const err = new Error(answer.message ?? answer.Message ?? JSON.stringify(answer));
    err.name = String(answer.__type ?? response.status).split("#").pop();
    throw err;
  }
  return answer;
}
