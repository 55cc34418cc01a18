// Integreat's documented API, called with the signed-in user's access token (Amplify Auth v6),
// as every app's frontend calls it: `Authorization: Bearer <access token>`.
import { fetchAuthSession } from "aws-amplify/auth";

/** A refusal or failure answered by the API: the HTTP status and its error shape's code. */
export class ApiError extends Error {
  constructor(path, status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.name = "ApiError";
    this.path = path;
    this.status = status;
    this.code = code;
  }

  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

export async function accessToken() {
  const { tokens } = await fetchAuthSession();
  if (!tokens) throw new Error("not signed in");
  return tokens.accessToken.toString();
}

/** `get(path)`: the JSON body of a GET of `apiUrl + path`, or an ApiError. */
export function apiClient(apiUrl) {
  return async function get(path) {
    const headers = { Authorization: `Bearer ${await accessToken()}` };
    const response = await fetch(apiUrl + path, { headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = body.error || {};
      throw new ApiError(path, response.status, error.code || "error", error.message || response.statusText);
    }
    return body;
  };
}

/** Every row of a keyset-paged list (`next` cursor, as /admin/usage pages), at most `pages` pages. */
export async function allPages(get, path, key, pages = 50) {
  const rows = [];
  let after = null;
  for (let page = 0; page < pages; page += 1) {
    const separator = path.includes("?") ? "&" : "?";
    const body = await get(after === null ? path : `${path}${separator}after=${encodeURIComponent(after)}`);
    rows.push(...body[key]);
    if (body.next === null || body.next === undefined) break;
    after = body.next;
  }
  return rows;
}
