// The login page: username and password in, a token and the person's start page out.

import { ApiError, homeFor, login } from "./api.js";
import { applyI18n, lang, LANGS, setLang, t } from "./i18n.js";
import { h } from "./shell.js";

function topbar() {
  const bar = document.getElementById("topbar");
  const switcher = h("div", { class: "lang-switch", role: "group", "aria-label": t("lang.label") });
  for (const code of LANGS) {
    switcher.append(
      h("button", { type: "button", lang: code, "aria-pressed": String(lang() === code), onclick: () => setLang(code) },
        code === "kk" ? "ҚАЗ" : "РУС"),
    );
  }
  bar.replaceChildren(h("span", { class: "brand" }, "callcard 109"), h("div", { class: "spacer" }), switcher);
}

function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only paths on this site: never an absolute or protocol-relative address.
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "";
}

async function submit(e) {
  e.preventDefault();
  const err = document.getElementById("login-error");
  const btn = document.getElementById("login-submit");
  const username = document.getElementById("username").value.trim();
  const password = document.getElementById("password").value;
  err.hidden = true;
  if (!username || !password) {
    err.textContent = t("login.failed");
    err.hidden = false;
    return;
  }
  btn.disabled = true;
  btn.textContent = t("login.busy");
  try {
    const user = await login(username, password);
    if (user.ui_language && !localStorage.getItem("callcard.lang")) setLang(user.ui_language);
    location.replace(safeNext() || homeFor(user));
  } catch (ex) {
    err.textContent = ex instanceof ApiError && ex.status === 401 ? t("login.failed") : ex.message;
    err.hidden = false;
    btn.disabled = false;
    btn.textContent = t("login.submit");
    document.getElementById("password").select();
  }
}

applyI18n(document);
topbar();
window.addEventListener("langchange", topbar);
document.getElementById("login-form").addEventListener("submit", submit);
