// The login page: username and password in, a token and the person's start page out. A person who must
// replace a password someone else chose (the first admin, after an admin's reset) gets the change form first.

import { ApiError, api, changePassword, clearSession, homeFor, login, logout, token } from "./api.js";
import { applyI18n, lang, LANGS, setLang, t } from "./i18n.js";
import { h } from "./shell.js";

const $ = (id) => document.getElementById(id);

function topbar() {
  const bar = $("topbar");
  const switcher = h("div", { class: "lang-switch", role: "group", "aria-label": t("lang.label") });
  for (const code of LANGS) {
    switcher.append(
      h("button", { type: "button", lang: code, "aria-pressed": String(lang() === code), onclick: () => setLang(code) },
        code === "kk" ? "ҚАЗ" : "РУС"),
    );
  }
  bar.replaceChildren(h("span", { class: "brand" }, "callcard 109"), h("div", { class: "spacer" }), switcher);
}

/**
 * Whether ``text`` has a backslash, whitespace, a control or format character, or a hidden "//" or "/\\" at its
 * start, as typed or percent-decoded to any depth (a decoded "%20" may stay, as on the server).
 */
function hasHostileCharacters(text) {
  let form = text;
  for (let depth = 0; depth < 4; depth += 1) {
    if (/[\\\s\p{C}\p{Z}]/u.test(depth ? form.replaceAll(" ", "") : form)) return true;
    let decoded;
    try {
      decoded = decodeURIComponent(form);
    } catch {
      return true; // escapes that are not UTF-8
    }
    if (decoded === form) return false;
    if (/^\/[/\\]/.test(decoded)) return true;
    form = decoded;
  }
  return true;
}

/**
 * Where to go after logging in: ``next`` when it is a plain path on this origin, else "" (the role's start
 * page). The server already drops any other ``next`` (safe_next in api/web/next_path.py); this is the same
 * check in the browser, resolved the way the browser itself will resolve the address.
 */
export function safeNext(raw = new URLSearchParams(location.search).get("next")) {
  if (!raw || raw.length > 2000 || !raw.startsWith("/") || /^\/[/\\]/.test(raw) || hasHostileCharacters(raw)) return "";
  let url;
  try {
    url = new URL(raw, location.origin);
  } catch {
    return "";
  }
  if (url.origin !== location.origin || !url.pathname.startsWith("/") || url.pathname.startsWith("//")) return "";
  if (url.pathname === "/login") return "";
  return url.pathname + url.search + url.hash;
}

function go(user) {
  location.replace(safeNext() || homeFor(user));
}

function showError(box, message) {
  box.textContent = message;
  box.hidden = false;
}

// ---- logging in ----------------------------------------------------------------------------------------

async function submitLogin(e) {
  e.preventDefault();
  const err = $("login-error");
  const btn = $("login-submit");
  const username = $("username").value.trim();
  const password = $("password").value;
  err.hidden = true;
  if (!username || !password) {
    showError(err, t("login.failed"));
    return;
  }
  btn.disabled = true;
  btn.textContent = t("login.busy");
  try {
    const user = await login(username, password);
    if (user.ui_language && !localStorage.getItem("callcard.lang")) setLang(user.ui_language);
    if (user.must_change_password) {
      showChangeForm(user, password);
      return;
    }
    go(user);
  } catch (ex) {
    showError(err, ex instanceof ApiError && ex.status === 401 ? t("login.failed") : ex.message);
    $("password").select();
  } finally {
    btn.disabled = false;
    btn.textContent = t("login.submit");
  }
}

// ---- the forced password change ------------------------------------------------------------------------

let changing = null; // the user who must change their password

function showChangeForm(user, currentPassword = "") {
  changing = user;
  $("login-form").hidden = true;
  $("change-form").hidden = false;
  $("change-username").value = user.username;
  $("current-password").value = currentPassword;
  $(currentPassword ? "new-password" : "current-password").focus();
}

async function submitChange(e) {
  e.preventDefault();
  const err = $("change-error");
  const btn = $("change-submit");
  const current = $("current-password").value;
  const password = $("new-password").value;
  err.hidden = true;
  if (!current || !password) {
    showError(err, t("pw.empty"));
    return;
  }
  if (password !== $("new-password2").value) {
    showError(err, t("pw.mismatch"));
    $("new-password2").select();
    return;
  }
  if (password === current) {
    showError(err, t("pw.same"));
    $("new-password").select();
    return;
  }
  btn.disabled = true;
  btn.textContent = t("pw.busy");
  try {
    const user = await changePassword(changing.username, current, password);
    if (user.must_change_password) {
      showError(err, t("pw.still"));
      return;
    }
    go(user);
  } catch (ex) {
    if (ex instanceof ApiError && ex.status === 401) {
      clearSession(); // the session ended meanwhile: log in again with the password that now holds
      location.replace(location.pathname + location.search);
      return;
    }
    showError(err, ex.message);
  } finally {
    btn.disabled = false;
    btn.textContent = t("pw.submit");
  }
}

/** A person sent here by a page (403 "password_change_required") is signed in already: straight to the form. */
async function resume() {
  if (!token()) return;
  try {
    const user = await api("/api/auth/me", { redirect: false });
    if (user.must_change_password) showChangeForm(user);
  } catch (ex) {
    if (ex instanceof ApiError && ex.status === 401) clearSession();
  }
}

applyI18n(document);
topbar();
window.addEventListener("langchange", topbar);
$("login-form").addEventListener("submit", submitLogin);
$("change-form").addEventListener("submit", submitChange);
$("change-logout").addEventListener("click", async () => {
  await logout();
  location.replace("/login");
});
window.__login = { ready: false, safeNext };
resume().finally(() => {
  window.__login.ready = true;
});
