// The client of the GraphRAG HTTP API: the token from session storage, JSON, SSE, errors.

const TOKEN_KEY = "graphrag.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ""; },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

let onUnauthorized = () => {};

/** Called when a request is refused with 401 (expired or revoked credentials). */
export function setUnauthorizedHandler(handler) { onUnauthorized = handler; }

function headers(extra = {}) {
  return { Authorization: "Bearer " + session.token, Accept: "application/json", ...extra };
}

async function failure(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON */ }
  if (response.status === 401) onUnauthorized(message);
  return new ApiError(response.status, code, message);
}

/** Send a request and return its JSON body (throws ApiError). */
export async function request(method, path, { json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options) => request("POST", path, { ...options, json });
export const del = (path, options) => request("DELETE", path, options);

/** GET a binary resource as an object URL (for images behind authentication). */
export async function blobUrl(path) {
  const response = await fetch(path, { headers: headers({ Accept: "image/png" }) });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

/** A query string from an object (arrays repeat the key). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of [value].flat()) {
      if (item !== undefined && item !== null && item !== "") search.append(key, String(item));
    }
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

/**
 * POST and read Server-Sent Events: onEvent(name, data) for each event (data parsed as JSON).
 * Resolves when the stream ends.
 */
export async function stream(path, json, onEvent, signal) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(json),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), onEvent);
      buffer = buffer.slice(end + 2);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
}

function dispatch(block, onEvent) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return;
  let parsed;
  try { parsed = JSON.parse(data.join("\n")); } catch { parsed = data.join("\n"); }
  onEvent(name, parsed);
}
