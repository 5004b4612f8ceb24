// Talking to callcard's JSON API: the bearer token, errors as readable sentences, the signed-in user.

import { t } from "./i18n.js";

const TOKEN = "callcard.token";
const USER = "callcard.user";
const COOKIE = "callcard_token";

/** An API answer that was not 2xx; ``detail`` is the server's sentence for a person. */
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

export function token() {
  return localStorage.getItem(TOKEN) || "";
}

/** Remember the session (also as a same-site cookie, so the audio element's Range requests carry it). */
export function saveSession(accessToken, user) {
  localStorage.setItem(TOKEN, accessToken);
  localStorage.setItem(USER, JSON.stringify(user));
  document.cookie = `${COOKIE}=${encodeURIComponent(accessToken)}; path=/; SameSite=Strict`;
}

export function clearSession() {
  localStorage.removeItem(TOKEN);
  localStorage.removeItem(USER);
  document.cookie = `${COOKIE}=; path=/; max-age=0; SameSite=Strict`;
}

export function savedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER) || "null");
  } catch {
    return null;
  }
}

function loginRedirect() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.replace(`/login?next=${next}`);
}

/**
 * Call the API. ``body`` (an object) is sent as JSON. Resolves to the parsed JSON (or the Response when
 * ``raw`` is set); rejects with ApiError. A 401 sends the person to the login page.
 */
export async function api(path, { method = "GET", body, raw = false, query, signal } = {}) {
  const headers = { Accept: "application/json" };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, t("error.network"));
  }
  if (res.status === 401 && !path.startsWith("/api/auth/login")) {
    clearSession();
    loginRedirect();
    throw new ApiError(401, t("login.failed"));
  }
  if (!res.ok) {
    let detail = t("error.generic");
    let data = null;
    try {
      data = await res.json();
      if (typeof data.detail === "string") detail = data.detail;
      else if (Array.isArray(data.detail) && data.detail[0]?.msg) detail = data.detail.map((d) => d.msg).join("; ");
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, detail, data);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

/** Log in; resolves to the user. */
export async function login(username, password) {
  const data = await api("/api/auth/login", { method: "POST", body: { username, password } });
  saveSession(data.access_token, data.user);
  return data.user;
}

/** The signed-in user, checked with the server (redirects to /login when there is none). */
export async function currentUser() {
  if (!token()) {
    loginRedirect();
    throw new ApiError(401, "not signed in");
  }
  const user = await api("/api/auth/me");
  localStorage.setItem(USER, JSON.stringify(user));
  return user;
}

/** The page a role starts on. */
export function homeFor(user) {
  if (!user) return "/login";
  return user.role === "operator" ? "/desk" : user.role === "qa" ? "/registry" : "/dashboard";
}

/** Download a protected file (the bearer token cannot ride on a plain link). */
export async function download(path, filename) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
