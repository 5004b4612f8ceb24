// The organisations' numbers (GET /api/stats/organisations) as a table: per organisation, with its topics, the
// share resolved on time against the city's goal, and the backlog now. Drawn on the dashboard and the monitoring
// department's page.

import { api } from "./api.js";
import { fmtPct, lang, t } from "./i18n.js";
import { h } from "./shell.js";

const PERIOD_COLUMNS = [
  ["handed_over", "org.col.handed"],
  ["resolved", "org.col.resolved"],
  ["on_time_share", "org.col.on_time"],
  ["median_hours_to_resolve", "org.col.median"],
  ["returned", "org.col.returned"],
  ["reopen_rate", "org.col.reopen"],
];
const NOW_COLUMNS = [
  ["backlog", "org.col.backlog"],
  ["overdue", "org.col.overdue"],
  ["due_soon", "org.col.due_soon"],
  ["escalated", "org.col.escalated"],
];

/** The numbers for the last ``days`` local days (today included). */
export async function loadOrganisationStats(days) {
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  from.setDate(from.getDate() - (Number(days) - 1));
  return api("/api/stats/organisations", { query: { from: from.toISOString() } });
}

function cell(key, row) {
  const value = row[key];
  if (key === "on_time_share" || key === "reopen_rate") return fmtPct(value);
  if (key === "median_hours_to_resolve") return value === null || value === undefined ? "—" : value.toLocaleString(lang() === "kk" ? "kk-KZ" : "ru-RU", { maximumFractionDigits: 1 });
  return value ?? 0;
}

function goalMark(row) {
  if (row.meets_goal === null || row.meets_goal === undefined) return null;
  const key = row.meets_goal ? "met" : "missed";
  return h("span", { class: `goal ${key}`, dataset: { goal: key } }, t(`org.goal.${key}`));
}

/**
 * Draw ``data`` into ``container``: one row per organisation (its name in the UI language), its topics under
 * it (names from ``tax``), the on-time share marked against the goal. ``columns``: "all" or "now" (backlog only).
 */
export function renderOrganisationTable(container, data, tax, { columns = "all" } = {}) {
  const cols = columns === "now" ? NOW_COLUMNS : [...PERIOD_COLUMNS, ...NOW_COLUMNS];
  const rows = data?.organisations || [];
  const goal = t("org.goal", { p: fmtPct(data?.on_time_goal ?? 0.9) });
  if (!rows.length) {
    container.replaceChildren(h("p", { class: "empty" }, t("org.none")));
    return;
  }
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, t("org.col.org")),
    ...cols.map(([key, label]) => h("th", { scope: "col", class: "n", dataset: { col: key }, title: key === "on_time_share" ? goal : undefined }, t(label))),
  );
  const body = [];
  for (const row of rows) {
    const name = lang() === "kk" ? row.organisation.name_kk : row.organisation.name_ru;
    body.push(
      h(
        "tr",
        { class: "org", dataset: { code: row.organisation.code } },
        h("th", { scope: "row" }, name),
        ...cols.map(([key]) => h("td", { class: "n", dataset: { col: key } }, cell(key, row), ...(key === "on_time_share" && goalMark(row) ? [" ", goalMark(row)] : []))),
      ),
    );
    if (columns === "now") continue;
    for (const topic of row.topics || []) {
      body.push(
        h(
          "tr",
          { class: "topic", dataset: { code: row.organisation.code, topic: topic.topic || "" } },
          h("td", {}, topic.topic ? tax.name("topics", topic.topic) : "—"),
          ...cols.map(([key]) => h("td", { class: "n", dataset: { col: key } }, cell(key, topic))),
        ),
      );
    }
  }
  container.replaceChildren(
    h("p", { class: "muted goal-line" }, goal),
    h("div", { class: "orgs-wrap" }, h("table", { class: "grid orgs" }, h("thead", {}, head), h("tbody", {}, ...body))),
  );
}
