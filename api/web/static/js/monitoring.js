// The monitoring department: cards waiting to be routed (no organisation found, or returned as "not ours" with the
// organisation's reason) with a choice of organisation; cards resolved by their organisation, to close or reopen;
// the deadlines per organisation and the overdue cards.

import { api, ApiError } from "./api.js";
import { applyI18n, fmtDateTime, lang, t } from "./i18n.js";
import { loadOrganisationStats, renderOrganisationTable } from "./monitoring-orgs.js";
import { h, MONITORING_ROLES, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const OPEN = ["routed", "accepted", "in_progress"];
const REFRESH_MS = 30_000;
const STATS_DAYS = 30;

let tax = null;
let queue = [];
let resolved = [];
let late = [];
let stats = null;
let reopening = null; // the card id whose reopen form is shown
const choices = new Map(); // service -> the organisations serving it
let busy = false;

const orgName = (org) => (org ? (lang() === "kk" ? org.name_kk : org.name_ru) : "");
const regOf = (card) => card.reg_number || `#${card.id}`;

function explain(err) {
  if (!(err instanceof ApiError)) return t("error.generic");
  if (err.status === 409) return t("mon.err.409");
  if (err.status === 422) return t("mon.err.422", { detail: err.detail });
  return err.detail || t("error.generic");
}

async function organisationsFor(service) {
  const key = service || "";
  if (!choices.has(key)) {
    const data = await api("/api/organisations", { query: { service: service || undefined } });
    choices.set(key, data.data || []);
  }
  return choices.get(key);
}

function head(card) {
  return h(
    "div",
    { class: "head" },
    h("span", { class: "reg" }, regOf(card)),
    statusBadge(card.status),
    h("span", { class: "topic" }, tax.name("topics", card.topic)),
    card.service ? h("span", { class: "muted service" }, tax.name("services", card.service)) : null,
  );
}

function queueItem(card) {
  const why =
    card.status === "returned"
      ? t("mon.returned_by", { org: orgName(card.organisation), reason: card.status_notes || "" })
      : t("mon.unrouted", { reason: card.routing_reason || "—" });
  const selectId = `org-${card.id}`;
  const select = h("select", { id: selectId, name: "organisation_id" }, h("option", { value: "" }, t("mon.choose")));
  const problem = h("p", { class: "problem", role: "alert", hidden: true });
  const li = h(
    "li",
    { id: `q-${card.id}`, dataset: { id: card.id, reg: card.reg_number || "", status: card.status } },
    head(card),
    card.summary ? h("div", { class: "summary" }, card.summary) : null,
    h("div", { class: "why" }, why),
    h(
      "form",
      { class: "row", novalidate: true },
      h("label", { for: selectId, class: "sr-only" }, t("mon.org")),
      select,
      h("button", { type: "submit", class: "btn btn-primary btn-sm", disabled: busy }, t("mon.route")),
    ),
    problem,
  );
  organisationsFor(card.service)
    .then((orgs) => {
      const returner = card.status === "returned" ? card.organisation?.id : null;
      const offered = orgs.filter((o) => o.id !== returner);
      select.append(...offered.map((o) => h("option", { value: o.id }, orgName(o))));
      if (!offered.length) {
        problem.textContent = t("mon.no_orgs");
        problem.hidden = false;
      }
    })
    .catch((err) => toast(explain(err), { error: true }));
  li.querySelector("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!select.value) {
      problem.textContent = t("mon.pick_org");
      problem.hidden = false;
      select.focus();
      return;
    }
    const org = (choices.get(card.service || "") || []).find((o) => String(o.id) === select.value);
    act(() => api(`/api/cards/${card.id}/route`, { method: "POST", body: { organisation_id: Number(select.value), version: card.version } }),
      t("mon.ok.route", { reg: regOf(card), org: orgName(org) }));
  });
  return li;
}

function resolvedItem(card) {
  const li = h(
    "li",
    { id: `r-${card.id}`, dataset: { id: card.id, reg: card.reg_number || "" } },
    head(card),
    h("div", { class: "org" }, orgName(card.organisation), card.resolved_at ? ` · ${fmtDateTime(card.resolved_at)}` : ""),
    card.resolution || card.status_notes ? h("div", { class: "why" }, `${t("mon.resolution")}: ${card.resolution || card.status_notes}`) : null,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "btn btn-primary btn-sm", dataset: { act: "close" }, disabled: busy,
        onclick: () => act(() => api(`/api/cards/${card.id}/close`, { method: "POST", body: { version: card.version } }), t("mon.ok.close", { reg: regOf(card) })) },
      t("mon.close")),
      h("button", { type: "button", class: "btn btn-sm", dataset: { act: "reopen" }, disabled: busy,
        onclick: () => { reopening = card.id; render(); $(`why-${card.id}`)?.focus(); } },
      t("mon.reopen")),
    ),
  );
  if (reopening === card.id) {
    const input = h("input", { id: `why-${card.id}`, name: "reason", type: "text", maxlength: 5000, required: true });
    const problem = h("p", { class: "problem", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "reopen", novalidate: true },
      h("label", { for: `why-${card.id}` }, t("mon.reopen.label")),
      h("div", { class: "row" }, input, h("button", { type: "submit", class: "btn btn-sm btn-primary" }, t("mon.reopen")),
        h("button", { type: "button", class: "btn btn-sm btn-ghost", onclick: () => { reopening = null; render(); } }, t("inbox.cancel"))),
      problem,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const reason = input.value.trim();
      if (!reason) {
        problem.textContent = t("mon.need.reopen");
        problem.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      act(async () => {
        await api(`/api/cards/${card.id}/reopen`, { method: "POST", body: { reason, version: card.version } });
        reopening = null;
      }, t("mon.ok.reopen", { reg: regOf(card), org: orgName(card.organisation) }));
    });
    li.append(form);
  }
  return li;
}

function lateItem(card) {
  return h(
    "li",
    { dataset: { id: card.id, reg: card.reg_number || "" } },
    h("div", { class: "head" }, h("span", { class: "reg" }, regOf(card)), statusBadge(card.status),
      h("span", { class: `badge ${card.deadline_stage === "escalated" ? "urgent" : "overdue"}` }, t(`inbox.overdue`)),
      h("span", { class: "org" }, orgName(card.organisation))),
    h("div", { class: "why" }, tax.name("topics", card.topic), card.due_at ? ` · ${t("inbox.due", { time: fmtDateTime(card.due_at) })}` : ""),
  );
}

function render() {
  $("queue").replaceChildren(...queue.map(queueItem));
  $("queue-empty").hidden = queue.length > 0;
  $("resolved").replaceChildren(...resolved.map(resolvedItem));
  $("resolved-empty").hidden = resolved.length > 0;
  $("late").replaceChildren(...late.map(lateItem));
  $("late-empty").hidden = late.length > 0;
  if (stats) renderOrganisationTable($("deadlines"), stats, tax, { columns: "now" });
}

async function act(request, done) {
  if (busy) return;
  busy = true;
  try {
    await request();
    toast(done);
  } catch (err) {
    toast(explain(err), { error: true });
  } finally {
    busy = false;
  }
  await load();
}

async function load() {
  try {
    const [unrouted, returned, finished, overdue, numbers] = await Promise.all([
      api("/api/cards", { query: { status: "confirmed", limit: 200 } }),
      api("/api/cards", { query: { status: "returned", limit: 200 } }),
      api("/api/cards", { query: { status: "resolved", limit: 200 } }),
      api("/api/inbox", { query: { overdue: "true", limit: 200 } }),
      loadOrganisationStats(STATS_DAYS),
    ]);
    queue = [...returned.data, ...unrouted.data.filter((c) => !c.organisation)];
    resolved = finished.data.filter((c) => c.organisation);
    late = overdue.data.filter((c) => OPEN.includes(c.status));
    stats = numbers;
    render();
  } catch (err) {
    toast(explain(err), { error: true });
  }
}

async function main() {
  const user = await startPage({ page: "/monitoring", roles: MONITORING_ROLES });
  if (!user) return;
  tax = await taxonomy();
  window.addEventListener("langchange", () => { applyI18n(document); render(); });
  await load();
  const choosing = () => [...document.querySelectorAll("#queue select")].some((s) => s.value);
  setInterval(() => { if (!busy && reopening === null && !choosing()) load(); }, REFRESH_MS);
  window.__monitoring = { ready: true, load };
}

main();
