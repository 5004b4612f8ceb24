// The dashboard's recognition-quality section (GET /api/stats/asr-quality): word error rate and the accuracy of
// the low-confidence marks against QA's corrections, per language, speaker, model or ISO week, over the page's
// period. Shown to supervisors, QA and admins (QA_REVIEW in api/policy.py); other roles never see the section.

import { api, savedUser } from "./api.js";
import { fmtPct, t } from "./i18n.js";
import { h, toast } from "./shell.js";

const ROLES = ["supervisor", "qa", "admin"];
const GROUPS = ["language", "speaker", "model", "week"];
const $ = (id) => document.getElementById(id);
let data = null;

function label(group, value) {
  const key = group === "language" ? `asrq.lang.${value}` : group === "speaker" ? `asrq.speaker.${value}` : null;
  if (!key) return value;
  const text = t(key);
  return text === key ? value : text;
}

function cells(row) {
  return [
    h("td", { class: "n", dataset: { col: "segments" } }, row.segments),
    h("td", { class: "n", dataset: { col: "reference_words" } }, row.reference_words),
    h(
      "td",
      { class: "n", dataset: { col: "wer" }, title: t("asrq.col.errors", { s: row.substitutions, d: row.deletions, i: row.insertions }) },
      fmtPct(row.wer),
    ),
    h("td", { class: "n", dataset: { col: "mark_precision" }, title: `${row.hits} / ${row.marked}` }, fmtPct(row.mark_precision)),
    h("td", { class: "n", dataset: { col: "mark_recall" }, title: `${row.hits} / ${row.wrong}` }, fmtPct(row.mark_recall)),
  ];
}

function render() {
  if (!data) return;
  const group = data.group_by[0];
  $("asr-help").textContent = t("asrq.help", { p: fmtPct(data.low_confidence) });
  $("asr-summary").textContent = t("asrq.summary", {
    reviewed: data.reviewed_calls,
    corrected: data.corrected_calls,
    segs: data.corrected_segments,
    all: data.reviewed_segments,
  });
  if (!data.total.segments) {
    $("asr-table").replaceChildren(h("p", { class: "empty" }, t("asrq.none")));
    return;
  }
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, t(`asrq.by.${group}`)),
    ...["segments", "words", "wer", "precision", "recall"].map((k) => h("th", { scope: "col", class: "n" }, t(`asrq.col.${k}`))),
  );
  const rows = data.rows.map((row) => h("tr", { dataset: { group: row[group] } }, h("th", { scope: "row" }, label(group, row[group])), ...cells(row)));
  const foot = h("tr", { class: "total" }, h("th", { scope: "row" }, t("asrq.total")), ...cells(data.total));
  $("asr-table").replaceChildren(h("table", { class: "grid orgs" }, h("thead", {}, head), h("tbody", {}, ...rows, foot)));
}

async function load() {
  const days = Number($("days")?.value || 7);
  const since = new Date();
  since.setHours(0, 0, 0, 0);
  since.setDate(since.getDate() - (days - 1));
  try {
    data = await api("/api/stats/asr-quality", { query: { since: since.toISOString(), group_by: $("asr-by").value } });
    render();
  } catch (err) {
    if (err.status === 403) $("asr-quality").hidden = true; // the role changed since the login
    else toast(err.message, { error: true });
  }
}

function main() {
  const user = savedUser();
  if (!user || !ROLES.includes(user.role)) return; // the section stays hidden
  const select = $("asr-by");
  select.replaceChildren(...GROUPS.map((g) => h("option", { value: g, "data-i18n": `asrq.by.${g}` }, t(`asrq.by.${g}`))));
  $("asr-quality").hidden = false;
  select.addEventListener("change", load);
  $("days")?.addEventListener("change", load);
  window.addEventListener("langchange", render);
  load();
}

main();
