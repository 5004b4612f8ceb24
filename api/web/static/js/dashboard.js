// The dashboard: calls and cards per hour and day, top topics, how often the model was right, emergencies.

import { api } from "./api.js";
import { applyI18n, fmtPct, fmtTime, lang, t } from "./i18n.js";
import { loadOrganisationStats, renderOrganisationTable } from "./monitoring-orgs.js";
import { EVERY_ROLE, h, startPage, taxonomy, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let tax = null;
let data = null;
let organisations = null; // GET /api/stats/organisations (monitoring-orgs.js)

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Grouped bars (calls, cards) with every n-th label; a table for screen readers. */
function bars(container, rows, label) {
  const W = 600;
  const H = 170;
  const pad = { l: 30, r: 6, t: 8, b: 22 };
  const max = Math.max(1, ...rows.map((r) => Math.max(r.calls, r.cards)));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-hidden": "true", preserveAspectRatio: "none" });
  const bw = (W - pad.l - pad.r) / Math.max(1, rows.length);
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    root.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), stroke: "#e3e7ec" }));
    root.append(svg("text", { x: pad.l - 4, y: y(v) + 3, "text-anchor": "end" }, v));
  }
  const every = Math.ceil(rows.length / 12);
  rows.forEach((r, i) => {
    const x = pad.l + i * bw;
    const w = Math.max(1, bw / 2 - 1.5);
    root.append(svg("rect", { class: "bar", x: x + 1, y: y(r.calls), width: w, height: H - pad.b - y(r.calls) }));
    root.append(svg("rect", { class: "bar2", x: x + 1 + w + 1, y: y(r.cards), width: w, height: H - pad.b - y(r.cards) }));
    if (i % every === 0) root.append(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, label(r)));
  });
  const table = h(
    "table",
    { class: "sr-only" },
    h("tr", {}, h("th", {}, ""), h("th", {}, t("dash.calls")), h("th", {}, t("dash.cards"))),
    rows.map((r) => h("tr", {}, h("th", {}, label(r)), h("td", {}, r.calls), h("td", {}, r.cards))),
  );
  container.replaceChildren(root, table);
}

function hbar(name, value, max, text) {
  return h("li", {}, h("span", { class: "name", title: name }, name), h("meter", { min: 0, max, value, "aria-label": name }), h("span", { class: "n" }, text));
}

function kpi(id, value, key, title) {
  return h("div", { class: "panel kpi", id, title: title || "" }, h("div", { class: "v" }, value), h("div", { class: "k" }, t(key)));
}

function render() {
  if (!data) return;
  const em = data.emergency || {};
  const fcr = data.first_call_resolution || {};
  $("kpis").replaceChildren(
    kpi("k-calls", data.totals.calls_24h, "dash.calls_today"),
    kpi("k-cards", data.totals.cards_24h, "dash.cards_today"),
    kpi("k-em", em.proposed ?? 0, "dash.em_proposed"),
    kpi("k-tr", em.transferred ?? 0, "dash.em_transferred"),
    kpi("k-dis", em.dismissed ?? 0, "dash.em_dismissed"),
    kpi("k-fcr", fmtPct(fcr.share), "dash.fcr", fcr.n ? `n = ${fcr.n}` : ""),
  );
  const locale = lang() === "kk" ? "kk-KZ" : "ru-RU";
  bars($("per-hour"), data.per_hour, (r) => fmtTime(r.hour));
  bars($("per-day"), data.per_day, (r) => new Date(`${r.day}T12:00:00`).toLocaleDateString(locale, { day: "2-digit", month: "2-digit" }));
  const top = data.top_topics || [];
  const tmax = Math.max(1, ...top.map((x) => x.count));
  $("top-topics").replaceChildren(
    ...(top.length ? top.map((x) => hbar(tax.name("topics", x.topic), x.count, tmax, x.count)) : [h("li", { class: "muted" }, t("dash.nodata"))]),
  );
  const acc = data.accepted_unchanged || {};
  const names = Object.keys(acc);
  $("accepted").replaceChildren(
    ...(names.some((f) => acc[f].n)
      ? names.map((f) => hbar(t(`field.${f}`), acc[f].share ?? 0, 1, acc[f].n ? `${fmtPct(acc[f].share)}` : "—"))
      : [h("li", { class: "muted" }, t("dash.nodata"))]),
  );
  $("updated").textContent = t("dash.updated", { time: fmtTime(data.generated_at) });
  if (organisations) renderOrganisationTable($("organisations"), organisations, tax);
}

async function load() {
  try {
    [data, organisations] = await Promise.all([
      api("/api/stats/dashboard", { query: { days: $("days").value } }),
      loadOrganisationStats($("days").value),
    ]);
    render();
  } catch (err) {
    toast(err.message, { error: true });
  }
}

async function main() {
  const user = await startPage({ page: "/dashboard", roles: EVERY_ROLE });
  if (!user) return;
  tax = await taxonomy();
  $("days").addEventListener("change", load);
  window.addEventListener("langchange", () => { applyI18n(document); render(); });
  await load();
  setInterval(load, 60_000);
  window.__dash = { ready: true };
}

main();
