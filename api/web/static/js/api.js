// Talking to callcard's JSON API: the bearer token, errors as readable sentences, the signed-in user.

import { t } from "./i18n.js";

const TOKEN = "callcard.token";
const USER = "callcard.user";
const COOKIE = "callcard_token";
/** The API's "code" on a 403 while the person must still replace a password someone else chose. */
export const PASSWORD_CHANGE_REQUIRED = "password_change_required";

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

/** Send the person to the login page's password change form, then back here. */
export function passwordChangeRedirect() {
  if (location.pathname === "/login") return;
  loginRedirect();
}

/**
 * Call the API. ``body`` (an object) is sent as JSON. Resolves to the parsed JSON (or the Response when
 * ``raw`` is set); rejects with ApiError. Unless ``redirect`` is false, a 401 sends the person to the login
 * page, and a 403 "password_change_required" to its password change form.
 */
export async function api(path, { method = "GET", body, raw = false, query, signal, redirect = true } = {}) {
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
  if (res.status === 401 && redirect && !path.startsWith("/api/auth/login")) {
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
    if (res.status === 403 && redirect && data?.code === PASSWORD_CHANGE_REQUIRED) passwordChangeRedirect();
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

/** End the session on the server (POST /api/auth/logout), then forget the token here whatever the answer. */
export async function logout() {
  const tok = token();
  try {
    if (tok) await fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${tok}` } });
  } catch {
    /* offline: the token is still forgotten below */
  } finally {
    clearSession();
  }
}

/**
 * Replace the password (PATCH /api/auth/me). The old token may end with the old password; then log in again
 * with the new one. Resolves to the user.
 */
export async function changePassword(username, currentPassword, password) {
  const data = await api("/api/auth/me", {
    method: "PATCH",
    body: { current_password: currentPassword, password },
    redirect: false,
  });
  if (data?.access_token) {
    saveSession(data.access_token, data.user);
    return data.user;
  }
  try {
    const user = await api("/api/auth/me", { redirect: false });
    localStorage.setItem(USER, JSON.stringify(user));
    return user;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
  return login(username, password);
}

/** The signed-in user, checked with the server (redirects to /login when there is none, and to the password
 * change form while the user must replace their password). */
export async function currentUser() {
  if (!token()) {
    loginRedirect();
    throw new ApiError(401, "not signed in");
  }
  const user = await api("/api/auth/me");
  localStorage.setItem(USER, JSON.stringify(user));
  if (user.must_change_password) {
    passwordChangeRedirect();
    throw new ApiError(403, t("pw.required"), { code: PASSWORD_CHANGE_REQUIRED });
  }
  return user;
}

/** Each role's start page (the pages each role may open: PAGE_ROLES in api/web/pages.py). */
const START_PAGES = { operator: "/desk", supervisor: "/registry", qa: "/registry", admin: "/dashboard", executor: "/inbox" };

/** The page a role starts on. */
export function homeFor(user) {
  if (!user) return "/login";
  return START_PAGES[user.role] || "/dashboard";
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
