// The dashboard's per-operator QA trends (GET /api/stats/operators/qa-trends): per ISO week, the share of an
// operator's scored calls with a failed check, with the calls scored; each rule's failure rate on hover.
// Operators see only their own row (api/policy.py qa_trends_operator).

import { api, ApiError } from "./api.js";
import { fmtPct, lang, t } from "./i18n.js";
import { h, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const WEEKS = 8;
let data = null;

function ruleNames() {
  return new Map((data?.rules || []).map((r) => [r.id, lang() === "kk" ? r.name_kk : r.name_ru]));
}

function cell(week, names) {
  if (!week.calls) return h("td", { class: "muted", "data-week": week.week }, "—");
  const rules = Object.entries(week.rules)
    .filter(([, v]) => v.applicable)
    .map(([id, v]) => `${names.get(id) || id}: ${fmtPct(v.rate)} (${v.failed}/${v.applicable})`);
  return h(
    "td",
    { "data-week": week.week, title: rules.join("\n") },
    h("strong", {}, fmtPct(week.failed_share)),
    h("span", { class: "muted" }, ` · ${t("dqa.calls", { n: week.calls })}`),
  );
}

function render() {
  const box = $("dash-qa");
  if (!box || !data) return;
  const names = ruleNames();
  const head = h("div", { class: "panel-head" }, h("h2", { id: "dash-qa-h" }, t("dqa.title")));
  const help = h("p", { class: "muted" }, t("dqa.help"));
  if (!data.operators.length) {
    box.replaceChildren(head, help, h("p", { class: "empty" }, t("dash.nodata")));
    return;
  }
  const table = h(
    "table",
    { class: "grid", id: "dash-qa-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("dqa.operator")), data.weeks.map((w) => h("th", { scope: "col" }, w)))),
    h(
      "tbody",
      {},
      data.operators.map((o) => h("tr", { "data-operator": o.operator_id }, h("th", { scope: "row" }, o.name), o.weeks.map((w) => cell(w, names)))),
    ),
  );
  box.replaceChildren(head, help, h("div", { class: "scroll" }, table));
}

async function load() {
  try {
    data = await api("/api/stats/operators/qa-trends", { query: { weeks: WEEKS }, redirect: false });
    render();
  } catch (err) {
    if (err instanceof ApiError && [401, 403].includes(err.status)) {
      $("dash-qa")?.remove();
      return;
    }
    toast(err.message, { error: true });
  }
}

if ($("dash-qa")) {
  load();
  window.addEventListener("langchange", render);
}
