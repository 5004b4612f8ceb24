// The QA queue on the QA page: scored calls worst first (failed checks, emergencies, low recognition
// confidence), filtered by failed rule or the weekly sample, a page at a time; and drawing this week's sample.

import { api, ApiError } from "./api.js";
import { fmtDateTime, lang, t } from "./i18n.js";
import { h, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const state = { page: null, offset: 0, rule: "", sampled: false };

function ruleLabel(rule) {
  return lang() === "kk" ? rule.name_kk : rule.name_ru;
}

function controls() {
  const rules = new Map();
  for (const item of state.page?.items || []) for (const r of item.failed_rules) rules.set(r.id, r);
  const select = h(
    "select",
    { id: "qa-queue-rule", onchange: (e) => { state.rule = e.target.value; state.offset = 0; load(); } },
    h("option", { value: "" }, t("qaq.rule.any")),
    [...rules.values()].map((r) => h("option", { value: r.id, selected: r.id === state.rule }, ruleLabel(r))),
  );
  if (state.rule && !rules.has(state.rule)) select.append(h("option", { value: state.rule, selected: true }, state.rule));
  return h(
    "div",
    { class: "qa-queue-controls" },
    h("label", { for: "qa-queue-rule" }, t("qaq.rule")),
    select,
    h(
      "label",
      { class: "inline" },
      h("input", { type: "checkbox", id: "qa-queue-sampled", checked: state.sampled, onchange: (e) => { state.sampled = e.target.checked; state.offset = 0; load(); } }),
      " ",
      t("qaq.sampled"),
    ),
    h("button", { type: "button", class: "btn btn-sm", id: "qa-queue-draw", onclick: drawSample }, t("qaq.draw")),
  );
}

function row(item) {
  const conf = item.asr_confidence === null ? "—" : `${Math.round(item.asr_confidence * 100)}%`;
  return h(
    "tr",
    { "data-call": item.call_id },
    h("td", {}, h("a", { href: `/qa/${item.call_id}` }, t("qa.call", { id: item.call_id }))),
    h("td", {}, fmtDateTime(item.started_at)),
    h("td", {}, item.operator_name || "—"),
    h("td", {}, `${item.failed} / ${item.checks}`, item.failed_rules.length ? h("div", { class: "muted" }, item.failed_rules.map(ruleLabel).join(", ")) : ""),
    h("td", {}, item.emergency ? h("span", { class: "badge em" }, item.emergency) : ""),
    h("td", {}, conf),
    h("td", {}, item.sample_state ? t(`qaq.sample.${item.sample_state}`, { week: item.sample_week }) : ""),
  );
}

function render() {
  const box = $("qa-queue");
  if (!box || !state.page) return;
  const head = h("div", { class: "panel-head" }, h("h2", {}, t("qaq.title")), h("span", { class: "muted" }, t("qaq.total", { n: state.page.total })));
  const items = state.page.items;
  const table = items.length
    ? h(
        "table",
        { class: "grid" },
        h(
          "thead",
          {},
          h("tr", {}, ["qaq.col.call", "qaq.col.when", "qaq.col.operator", "qaq.col.failed", "qaq.col.emergency", "qaq.col.conf", "qaq.col.sample"].map((k) => h("th", { scope: "col" }, t(k)))),
        ),
        h("tbody", {}, items.map(row)),
      )
    : h("p", { class: "empty" }, t("qaq.empty"));
  const pager = h(
    "div",
    { class: "qa-queue-pager" },
    h("button", { type: "button", class: "btn btn-sm", disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); } }, t("qaq.prev")),
    h("button", { type: "button", class: "btn btn-sm", disabled: state.offset + PAGE >= state.page.total, onclick: () => { state.offset += PAGE; load(); } }, t("qaq.next")),
  );
  box.replaceChildren(head, controls(), h("div", { class: "scroll" }, table), pager);
}

async function load() {
  try {
    state.page = await api("/api/qa/queue", {
      query: { limit: PAGE, offset: state.offset, failed_rule: state.rule, sampled: state.sampled ? "true" : "" },
      redirect: false,
    });
    render();
  } catch (err) {
    if (!(err instanceof ApiError) || ![401, 403].includes(err.status)) toast(err.message, { error: true });
  }
}

async function drawSample() {
  try {
    const result = await api("/api/qa/samples", { method: "POST", body: {} });
    toast(t("qaq.drawn", { n: result.added.length, week: result.week }));
    await load();
  } catch (err) {
    toast(err.message, { error: true });
  }
}

if ($("qa-queue")) {
  load();
  window.addEventListener("langchange", render);
}
