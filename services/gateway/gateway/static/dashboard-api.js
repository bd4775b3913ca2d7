// The client API with the key the client typed: kept in this tab's sessionStorage only, never in a URL,
// forgotten after IDLE_MS without the person touching the page.
export const IDLE_MS = 30 * 60 * 1000;
const KEYS = { client: "wamux.client", key: "wamux.key", active: "wamux.active", language: "wamux.language" };

export const session = {
  get client() { return sessionStorage.getItem(KEYS.client) || ""; },
  get key() { return sessionStorage.getItem(KEYS.key) || ""; },
  get language() { return sessionStorage.getItem(KEYS.language) || ""; },
  set language(value) { sessionStorage.setItem(KEYS.language, value); },
  save(client, key) {
    sessionStorage.setItem(KEYS.client, client);
    sessionStorage.setItem(KEYS.key, key);
    this.touch();
  },
  touch() { sessionStorage.setItem(KEYS.active, String(Date.now())); },
  expired() {
    const active = Number(sessionStorage.getItem(KEYS.active) || 0);
    return Boolean(this.key) && Date.now() - active > IDLE_MS;
  },
  clear() {
    sessionStorage.removeItem(KEYS.key);
    sessionStorage.removeItem(KEYS.active);
  },
};

/** What went wrong, as the catalogue's key and its parameters: the page never shows the server's own words. */
export class ApiError extends Error {
  constructor(key, params = {}, status = 0) {
    super(key);
    this.key = key;
    this.params = params;
    this.status = status;
  }
}

export class SessionExpired extends ApiError {
  constructor() { super("error.expired"); }
}

async function call(path, { method = "GET", body, errors = {} } = {}) {
  if (session.expired()) throw new SessionExpired();
  const url = path.startsWith("/api/") ? path : `/api/clients/${encodeURIComponent(session.client)}${path}`;
  const headers = { Authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError("error.network");
  }
  if (response.ok) return response;
  // A write names its own words for what the person can fix (a wrong number, a taken one…).
  if (errors[response.status]) throw new ApiError(errors[response.status], {}, response.status);
  // 400 only when the client id is not an id at all: to the person, the same mismatch.
  if ([400, 401, 403, 404].includes(response.status)) throw new ApiError("error.mismatch", {}, response.status);
  if (response.status === 429) {
    const wait = Number.parseInt(response.headers.get("Retry-After") || "60", 10);
    throw new ApiError("error.rate", { n: Number.isFinite(wait) ? wait : 60 }, 429);
  }
  throw new ApiError("error.server", { status: response.status }, response.status);
}

/** A write (POST, PUT) with a JSON body; ``errors`` maps a status to the catalogue key that explains it. */
export async function send(path, method, body, errors = {}) {
  const response = await call(path, { method, body, errors });
  return { status: response.status, body: await response.json() };
}

export async function json(path, errors = {}) {
  return (await call(path, { errors })).json();
}

/** ``null`` when the endpoint does not exist (404 from an older gateway), the body otherwise. */
export async function optionalJson(path) {
  try {
    return await json(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function blob(path, errors = {}) {
  return (await call(path, { errors })).blob();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}
