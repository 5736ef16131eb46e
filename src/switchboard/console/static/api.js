// The REST API, called with the session cookie and its CSRF token (on every method).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const session = { csrf: null, account: null, onSignedOut: () => {} };

export async function request(method, path, form) {
  const headers = { Accept: "application/json" };
  if (session.csrf) headers["X-Switchboard-Csrf"] = session.csrf;
  let body;
  if (form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      if (value === undefined || value === null || value === "") continue;
      for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
    }
    body = params.toString();
  }
  const reply = await fetch(path, { method, headers, body, credentials: "same-origin" });
  const text = await reply.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (reply.status === 401 && path !== "/console/api/session") session.onSignedOut();
  if (!reply.ok) throw new ApiError(reply.status, data);
  return data;
}

export const get = (path, query) =>
  request("GET", query ? `${path}?${new URLSearchParams(query)}` : path);
export const post = (path, form) => request("POST", path, form || {});

// Every page of a listing (its "meta.next_page_url"), up to a limit.
export async function all(path, key, query = {}, limit = 2000) {
  let url = `${path}?${new URLSearchParams({ PageSize: String(Math.min(200, limit)), ...query })}`;
  const items = [];
  while (url && items.length < limit) {
    const page = await request("GET", url);
    items.push(...(page[key] || []));
    const next = page.meta && page.meta.next_page_url;
    url = next ? new URL(next).pathname + new URL(next).search : null;
  }
  return items.slice(0, limit);
}

// An optional extension: its answer, or null when this server does not have it (its route
// answers 404 naming the path itself; a missing task or queue is named as a resource instead).
export async function optional(method, path, form) {
  try {
    return await request(method, path, form);
  } catch (error) {
    const message = (error.body && error.body.message) || "";
    if (error instanceof ApiError && (error.status === 405 ||
        (error.status === 404 && message.includes(path.split("?")[0])))) return null;
    throw error;
  }
}

export const ws = (sid, ...parts) => [`/v1/Workspaces/${sid}`, ...parts].join("/");
