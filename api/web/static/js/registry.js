// The registry: cards filtered by status, topic, service, district, date and transcript text; pages; CSV.

import { api, download } from "./api.js";
import { applyI18n, fmtDateTime, t } from "./i18n.js";
import { emergencyLabel, EVERY_ROLE, EXPORT_ROLES, h, QA_ROLES, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const PAGE = 25;
const FIELDS = ["q", "status", "topic", "service", "district", "emergency", "caller", "date_from", "date_to"];
const STATUSES = ["draft", "confirmed", "routed", "accepted", "in_progress", "returned", "resolved", "closed"];
const $ = (id) => document.getElementById(id);
let user = null;
let tax = null;
let offset = 0;
let inflight = null;

function fillSelect(select, items) {
  const keep = select.value;
  select.replaceChildren(h("option", { value: "" }, t("reg.any")), ...items.map(([id, name]) => h("option", { value: id }, name)));
  select.value = keep;
}

function fillSelects() {
  fillSelect($("r-status"), STATUSES.map((s) => [s, t(`status.${s}`)]));
  fillSelect($("r-topic"), tax.options("topics").map((e) => [e.id, tax.name("topics", e.id)]));
  fillSelect($("r-service"), tax.options("services").map((e) => [e.id, tax.name("services", e.id)]));
  fillSelect($("r-district"), tax.options("districts").map((e) => [e.id, tax.name("districts", e.id)]));
  fillSelect($("r-emergency"), tax.options("emergency").map((e) => [e.id, emergencyLabel(tax, e.id)]));
}

function filters() {
  const form = $("filters");
  const out = {};
  for (const name of FIELDS) {
    const v = form.elements[name].value.trim();
    if (v) out[name] = v;
  }
  // Dates are whole local days: [from 00:00, to+1 00:00).
  if (out.date_from) out.date_from = new Date(`${out.date_from}T00:00:00`).toISOString();
  if (out.date_to) {
    const d = new Date(`${out.date_to}T00:00:00`);
    d.setDate(d.getDate() + 1);
    out.date_to = d.toISOString();
  }
  return out;
}

function syncUrl() {
  const form = $("filters");
  const qs = new URLSearchParams();
  for (const name of FIELDS) if (form.elements[name].value) qs.set(name, form.elements[name].value);
  if (offset) qs.set("offset", offset);
  history.replaceState(null, "", `${location.pathname}${qs.toString() ? `?${qs}` : ""}`);
}

function fromUrl() {
  const qs = new URLSearchParams(location.search);
  const form = $("filters");
  for (const name of FIELDS) if (qs.has(name)) form.elements[name].value = qs.get(name);
  offset = Math.max(0, Number(qs.get("offset")) || 0);
}

function address(c) {
  const a = c.address || {};
  return [a.street, a.house && `${a.house}`, a.building && `к.${a.building}`, a.apartment && `кв.${a.apartment}`]
    .filter(Boolean)
    .join(", ");
}

async function load() {
  syncUrl();
  inflight?.abort();
  inflight = new AbortController();
  const body = $("cards").tBodies[0];
  try {
    const data = await api("/api/cards", { query: { ...filters(), limit: PAGE, offset }, signal: inflight.signal });
    const rows = data.data || [];
    body.replaceChildren(
      ...rows.map((c) =>
        h(
          "tr",
          { dataset: { cardId: c.id } },
          h("td", { class: "mono" }, c.reg_number || "—"),
          h("td", {}, fmtDateTime(c.created_at)),
          h("td", {}, statusBadge(c.status), c.emergency && c.emergency !== "none" ? [" ", h("span", { class: "badge em" }, c.emergency)] : null),
          h("td", {}, tax.name("topics", c.topic)),
          h("td", {}, tax.name("services", c.service)),
          h("td", {}, tax.name("districts", c.address?.district)),
          h("td", {}, address(c)),
          h("td", { class: "sum", title: c.summary || "" }, c.summary || ""),
          h("td", { class: "mono" }, c.caller_number || ""),
          h("td", {}, fmtDateTime(c.due_at)),
          h("td", {}, c.call_id && QA_ROLES.includes(user.role) ? h("a", { href: `/qa/${c.call_id}`, class: "btn btn-sm" }, t("reg.review")) : null),
        ),
      ),
    );
    $("empty").hidden = rows.length > 0;
    const total = data.count ?? rows.length;
    $("range").textContent = total ? t("reg.range", { from: offset + 1, to: offset + rows.length, total }) : "";
    $("prev").disabled = offset === 0;
    $("next").disabled = offset + rows.length >= total;
  } catch (err) {
    if (err.name !== "AbortError") toast(err.message, { error: true });
  }
}

async function main() {
  user = await startPage({ page: "/registry", roles: EVERY_ROLE });
  if (!user) return;
  $("export").hidden = !EXPORT_ROLES.includes(user.role);
  tax = await taxonomy();
  fillSelects();
  fromUrl();
  const form = $("filters");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    offset = 0;
    load();
  });
  form.addEventListener("reset", () => setTimeout(() => { offset = 0; load(); }, 0));
  form.addEventListener("change", (e) => {
    if (e.target.tagName === "SELECT" || e.target.type === "date") {
      offset = 0;
      load();
    }
  });
  let timer;
  $("r-q").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { offset = 0; load(); }, 300);
  });
  $("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  $("next").addEventListener("click", () => { offset += PAGE; load(); });
  $("export").addEventListener("click", async () => {
    const qs = new URLSearchParams(filters()).toString();
    try {
      await download(`/api/cards/export.csv${qs ? `?${qs}` : ""}`, "callcard-cards.csv");
    } catch (err) {
      toast(err.message, { error: true });
    }
  });
  window.addEventListener("langchange", () => { applyI18n(document); fillSelects(); load(); });
  await load();
}

main();
