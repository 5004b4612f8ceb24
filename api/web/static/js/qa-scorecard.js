// The QA page's scorecard panel: each automatic check with its outcome, time (a click seeks the recording) and
// evidence; QA agrees or disagrees with each result (POST /api/qa/scorecards/{id}/judgments), which measures the
// rules' precision. A call drawn into the weekly sample can be marked reviewed here.

import { api, ApiError } from "./api.js";
import { fmtDateTime, fmtOffset, lang, t } from "./i18n.js";
import { h, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const callId = Number(location.pathname.split("/").filter(Boolean).pop());
const state = { review: null, busy: false };

/** Seek the recording: the page's own seek when it offers one (window.__qa.seek), else the audio element. */
function seek(seconds) {
  if (typeof window.__qa?.seek === "function") {
    window.__qa.seek(seconds);
    return;
  }
  const audio = $("player");
  if (!audio) return;
  audio.currentTime = Math.max(0, seconds);
  if (audio.paused) audio.play().catch(() => {});
}

function ruleName(result) {
  return lang() === "kk" ? result.name_kk : result.name_ru;
}

function verdictButton(card, result, verdict) {
  const pressed = result.my_verdict === verdict;
  return h(
    "button",
    {
      type: "button",
      class: `btn btn-sm qa-verdict ${verdict}${pressed ? " on" : ""}`,
      "aria-pressed": pressed ? "true" : "false",
      "data-rule": result.rule,
      "data-verdict": verdict,
      disabled: state.busy,
      onclick: () => judge(card, result, verdict),
    },
    t(`qasc.${verdict}`),
  );
}

function renderResult(card, result) {
  const time =
    result.at_s === null || result.at_s === undefined
      ? h("span", { class: "muted" }, "—")
      : h("button", { type: "button", class: "btn btn-sm btn-ghost qa-at", onclick: () => seek(Number(result.at_s)) }, fmtOffset(result.at_s));
  const counts = result.agreed || result.disagreed ? t("qasc.counts", { agree: result.agreed, disagree: result.disagreed }) : "";
  return h(
    "tr",
    { "data-rule": result.rule, class: `qa-result ${result.outcome}` },
    h("th", { scope: "row" }, ruleName(result)),
    h("td", {}, h("span", { class: `badge qa-outcome ${result.outcome}` }, t(`qasc.outcome.${result.outcome}`))),
    h("td", {}, time),
    h("td", { class: "qa-evidence" }, result.evidence || ""),
    h("td", { class: "qa-verdicts" }, verdictButton(card, result, "agree"), verdictButton(card, result, "disagree"), h("span", { class: "muted qa-counts" }, counts)),
  );
}

function renderSample(sample) {
  if (!sample) return null;
  if (sample.state === "reviewed") {
    return h("p", { class: "muted qa-sample" }, t("qasc.sample.reviewed", { week: sample.week, when: fmtDateTime(sample.reviewed_at) }));
  }
  return h(
    "p",
    { class: "qa-sample" },
    h("span", {}, t("qasc.sample.pending", { week: sample.week })),
    " ",
    h("button", { type: "button", class: "btn btn-sm", id: "qa-sample-reviewed", onclick: () => markReviewed(sample) }, t("qasc.sample.mark")),
  );
}

function render() {
  const box = $("qa-scorecard");
  if (!box || !state.review) return;
  const card = state.review.scorecard;
  const head = h("div", { class: "panel-head" }, h("h2", { id: "qa-scorecard-h" }, t("qasc.title")));
  if (!card) {
    box.replaceChildren(head, renderSample(state.review.sample) || "", h("p", { class: "empty" }, t("qasc.none")));
    return;
  }
  const summary = h(
    "p",
    { class: "muted" },
    t("qasc.summary", { failed: card.failed, checks: card.checks, version: card.rule_set_version }),
    card.asr_model_version ? ` · ASR ${card.asr_model_version}` : "",
  );
  const table = h(
    "table",
    { class: "grid qa-scorecard-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t("qasc.col.rule")),
        h("th", { scope: "col" }, t("qasc.col.outcome")),
        h("th", { scope: "col" }, t("qasc.col.at")),
        h("th", { scope: "col" }, t("qasc.col.evidence")),
        h("th", { scope: "col" }, t("qasc.col.verdict")),
      ),
    ),
    h("tbody", {}, card.results.map((r) => renderResult(card, r))),
  );
  box.replaceChildren(head, summary, renderSample(state.review.sample) || "", h("div", { class: "scroll" }, table));
}

async function judge(card, result, verdict) {
  if (state.busy) return;
  state.busy = true;
  render();
  try {
    await api(`/api/qa/scorecards/${card.id}/judgments`, { method: "POST", body: { rule: result.rule, verdict } });
    state.review = await api(`/api/qa/calls/${callId}/review`);
    toast(t("qasc.saved"));
  } catch (err) {
    toast(err.message, { error: true });
  } finally {
    state.busy = false;
    render();
  }
}

async function markReviewed(sample) {
  try {
    await api(`/api/qa/samples/${sample.id}/reviewed`, { method: "POST" });
    state.review = await api(`/api/qa/calls/${callId}/review`);
    render();
  } catch (err) {
    toast(err.message, { error: true });
  }
}

async function main() {
  if (!$("qa-scorecard") || !Number.isFinite(callId)) return;
  try {
    state.review = await api(`/api/qa/calls/${callId}/review`, { redirect: false });
  } catch (err) {
    if (!(err instanceof ApiError) || ![401, 403, 404].includes(err.status)) toast(err.message, { error: true });
    return; // the page itself says why (qa.js)
  }
  render();
  window.addEventListener("langchange", render);
  window.__qaScorecard = { ready: true };
}

main();
