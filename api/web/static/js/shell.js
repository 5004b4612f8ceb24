// What every signed-in page shares: the top bar, the role guard, the taxonomy, toasts and a DOM helper.

import { api, ApiError, currentUser, logout as endSession, PASSWORD_CHANGE_REQUIRED } from "./api.js";
import { applyI18n, lang, LANGS, setLang, t } from "./i18n.js";

/** Build an element: h("button", {class: "btn", onclick}, "text", child...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const ICONS = {
  logo: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="1" y="1" width="22" height="22" rx="5" fill="#2f7fd0"/><path d="M7.5 5.5c.6-.6 1.6-.6 2.2 0l1.5 1.6c.6.6.6 1.5 0 2.1l-.9.9c.8 1.7 2 2.9 3.6 3.6l.9-.9c.6-.6 1.5-.6 2.1 0l1.6 1.5c.6.6.6 1.6 0 2.2l-1 1c-.9.9-2.3 1.2-3.5.7-3.5-1.4-6.3-4.2-7.7-7.7-.5-1.2-.2-2.6.7-3.5z" fill="#fff"/></svg>',
  alert: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2 1 21h22L12 2z" fill="#fff"/><path d="M11 9h2v6h-2zM11 16.5h2v2h-2z" fill="#b3141b"/></svg>',
};

/** Show a short message in the corner (errors stay longer). */
export function toast(message, { error = false } = {}) {
  let box = document.getElementById("toast");
  if (!box) {
    box = h("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = message;
  box.classList.toggle("err", error);
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(() => { box.hidden = true; }, error ? 7000 : 2500);
}

// Who may open which page: the same table as PAGE_ROLES in api/web/pages.py.
export const EVERY_ROLE = ["operator", "supervisor", "qa", "admin"];
export const QA_ROLES = ["qa", "admin"];
export const EXPORT_ROLES = ["supervisor", "qa", "admin"]; // the registry's CSV export (api/policy.py)
export const INBOX_ROLES = ["executor", "supervisor", "admin"]; // an organisation's inbox (INBOX_READ)
export const MONITORING_ROLES = ["supervisor", "admin"]; // the monitoring department (MONITOR_DEADLINES)

const NAV = [
  { href: "/desk", key: "nav.desk", roles: EVERY_ROLE },
  { href: "/registry", key: "nav.registry", roles: EVERY_ROLE },
  { href: "/dashboard", key: "nav.dashboard", roles: EVERY_ROLE },
  { href: "/inbox", key: "nav.inbox", roles: INBOX_ROLES },
  { href: "/monitoring", key: "nav.monitoring", roles: MONITORING_ROLES },
  { href: "/admin/directory", key: "nav.directory", roles: ["admin"] },
];

function renderTopbar(user, page) {
  const bar = document.getElementById("topbar");
  if (!bar) return;
  bar.replaceChildren();
  const brand = h("a", { class: "brand", href: "/" });
  brand.innerHTML = ICONS.logo;
  brand.append(h("span", {}, "callcard 109"));
  const nav = h("nav", { class: "topnav", "aria-label": t("nav.main") });
  for (const item of NAV) {
    if (user && !item.roles.includes(user.role)) continue;
    nav.append(h("a", { href: item.href, "aria-current": page === item.href ? "page" : undefined }, t(item.key)));
  }
  if (page === "/qa") nav.append(h("a", { href: location.pathname, "aria-current": "page" }, t("nav.qa")));
  const switcher = h("div", { class: "lang-switch", role: "group", "aria-label": t("lang.label") });
  for (const code of LANGS) {
    switcher.append(
      h(
        "button",
        {
          type: "button",
          "aria-pressed": String(lang() === code),
          lang: code,
          title: code === "kk" ? "Қазақша" : "Русский",
          onclick: () => setLang(code),
        },
        code === "kk" ? "ҚАЗ" : "РУС",
      ),
    );
  }
  const right = [h("span", { class: "conn", id: "conn", hidden: true })];
  if (user) {
    right.push(h("span", { class: "user" }, `${user.full_name || user.username} · ${t(`role.${user.role}`)}`));
  }
  right.push(switcher);
  if (user) {
    right.push(
      h("button", { type: "button", id: "logout", class: "btn btn-sm btn-ghost", onclick: logout }, t("logout")),
    );
  }
  bar.append(brand, nav, h("div", { class: "spacer" }), ...right);
}

/** Log out: the server ends the session, this browser forgets the token, the login page opens. */
export async function logout() {
  await endSession();
  location.replace("/login");
}

/** Show "access refused" instead of the page's content. */
export function showForbidden() {
  const main = document.getElementById("main");
  main.replaceChildren(
    h(
      "div",
      { class: "notice", role: "alert", id: "forbidden" },
      h("h1", {}, t("error.forbidden")),
      h("p", {}, t("error.forbidden.text")),
      h("a", { class: "btn", href: "/desk" }, t("back.desk")),
    ),
  );
}

/**
 * Start a signed-in page: check the session, draw the top bar, refuse roles not in ``roles``.
 * Resolves to the user, or null when the page was refused.
 */
export async function startPage({ page, roles }) {
  applyI18n(document);
  renderTopbar(null, page);
  let user;
  try {
    user = await currentUser();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    if (err instanceof ApiError && err.body?.code === PASSWORD_CHANGE_REQUIRED) return null; // on its way to the form
    toast(err.message, { error: true });
    return null;
  }
  renderTopbar(user, page);
  window.addEventListener("langchange", () => renderTopbar(user, page));
  if (roles && !roles.includes(user.role)) {
    showForbidden();
    return null;
  }
  return user;
}

let taxonomyCache = null;

/** The card vocabulary from /api/taxonomy, with lookup helpers. */
export async function taxonomy() {
  if (!taxonomyCache) {
    const raw = await api("/api/taxonomy");
    const index = {};
    for (const kind of ["topics", "services", "emergency", "districts"]) {
      index[kind] = new Map((raw[kind] || []).map((e) => [e.id, e]));
    }
    taxonomyCache = {
      raw,
      index,
      /** Display name of an id in the current UI language ("" for none). */
      name(kind, id) {
        if (id === null || id === undefined || id === "") return "";
        const entry = index[kind].get(id);
        if (!entry) return String(id);
        return lang() === "kk" ? entry.kk : entry.ru;
      },
      /** Options for a combobox. */
      options(kind) {
        return (raw[kind] || []).map((e) => ({ id: e.id, ru: e.ru, kk: e.kk, service: e.service }));
      },
    };
  }
  return taxonomyCache;
}

/** The label of an emergency code: "104 · Аварийная газовая служба". */
export function emergencyLabel(tax, code) {
  if (!code || code === "none") return tax.name("emergency", "none");
  return `${code} · ${tax.name("emergency", code)}`;
}

/** A small confidence badge. */
export function confBadge(value) {
  if (value === null || value === undefined) return null;
  const v = Number(value);
  const cls = v >= 0.8 ? "high" : v >= 0.5 ? "mid" : "low";
  return h("span", { class: `conf ${cls}`, title: t("em.conf", { p: `${Math.round(v * 100)}%` }) }, `${Math.round(v * 100)}%`);
}

export function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, t(`status.${status}`));
}
