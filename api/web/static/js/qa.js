// QA review: the recording with its transcript aligned word by word; corrections and classification marks.

import { api, ApiError } from "./api.js";
import { applyI18n, fmtDateTime, fmtOffset, t } from "./i18n.js";
import { emergencyLabel, h, QA_ROLES, showForbidden, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const LOW_CONF = 0.6;
const MARK_FIELDS = ["topic", "service", "emergency", "emergency_also", "district", "address", "summary", "language"];
const $ = (id) => document.getElementById(id);
const state = { call: null, card: null, tax: null, words: [], nowWord: null, nowSeg: null, raf: 0, playing: null };
const SPEAKERS = ["caller", "operator"];

const callId = Number(location.pathname.split("/").filter(Boolean).pop());

function segStart(s) {
  return Number(s.start ?? s.start_s ?? 0);
}
function segEnd(s) {
  return Number(s.end ?? s.end_s ?? segStart(s));
}

/** Originals in time order, each with its latest QA correction. */
function segments() {
  const all = state.call.segments || [];
  const latest = new Map();
  for (const s of all) {
    if (s.source === "qa" && s.corrects_id) {
      const prev = latest.get(s.corrects_id);
      if (!prev || s.id > prev.id) latest.set(s.corrects_id, s);
    }
  }
  return all
    .filter((s) => s.source !== "qa")
    .sort((a, b) => segStart(a) - segStart(b))
    .map((s) => ({ orig: s, corr: latest.get(s.id) || null }));
}

function speakerOf(s) {
  return SPEAKERS.includes(s.speaker) ? s.speaker : "caller";
}

/** The recording a word of ``speaker`` is heard on: the mixed one (both voices, one clock), else that voice's leg. */
function recordingFor(speaker) {
  const recs = state.call.recordings || [];
  return recs.find((r) => r.kind === "mixed") || recs.find((r) => r.kind === speaker) || recs[0] || null;
}

function play(rec) {
  state.playing = rec;
  $("player").src = rec.url || `/api/calls/${callId}/audio?recording_id=${rec.id}`;
}

function seek(seconds, speaker = "caller") {
  const audio = $("player");
  const want = recordingFor(speaker);
  const to = Math.max(0, seconds);
  const go = () => {
    audio.currentTime = to;
    highlight();
    if (audio.paused) audio.play().catch(() => {});
  };
  if (want && state.playing && want.id !== state.playing.id) {
    // A caller-leg recording does not hold the operator's voice: switch to the one that does, then seek.
    play(want);
    audio.addEventListener("loadedmetadata", go, { once: true });
    return;
  }
  go();
}

function renderTranscript() {
  const box = $("qa-transcript");
  state.words = [];
  const rows = markOverlaps(segments());
  if (!rows.length) {
    box.replaceChildren(h("p", { class: "empty" }, t("qa.segments.none")));
    return;
  }
  box.replaceChildren(...rows.map(renderSegment));
  state.words.sort((a, b) => a.start - b.start); // the two voices interleave: highlight() searches by start
}

/** Talk-over: a turn that starts before the other speaker's previous turn has ended (rows in start order). */
function markOverlaps(rows) {
  const lastEnd = { caller: -Infinity, operator: -Infinity };
  return rows.map((row) => {
    const who = speakerOf(row.orig);
    const other = who === "caller" ? "operator" : "caller";
    const start = segStart(row.orig);
    const over = lastEnd[other] > start ? lastEnd[other] - start : 0;
    lastEnd[who] = Math.max(lastEnd[who], segEnd(row.orig));
    return { ...row, speaker: who, overlap: over };
  });
}

function renderSegment({ orig, corr, speaker, overlap }) {
  const shown = corr || orig;
  const text = h("div", { class: "tx", lang: orig.language || undefined });
  const words = Array.isArray(shown.words) ? shown.words : [];
  if (words.length) {
    words.forEach((w, i) => {
      if (i) text.append(" ");
      const conf = Number(w.conf ?? 1);
      const span = h("span", { class: conf < LOW_CONF && !corr ? "w lowconf" : "w", dataset: { start: w.start, end: w.end } }, w.word ?? w.text ?? "");
      if (conf < LOW_CONF && !corr) span.title = t("qa.conf", { p: `${Math.round(conf * 100)}%` });
      span.addEventListener("click", () => seek(Number(w.start), speaker));
      text.append(span);
      state.words.push({ start: Number(w.start), end: Number(w.end), el: span });
    });
  } else {
    text.append(shown.text || "");
  }
  const span = `${fmtOffset(segStart(orig))}–${fmtOffset(segEnd(orig))}`;
  const who = h(
    "div",
    { class: "who" },
    h("span", { class: "spk" }, t(`speaker.${speaker}`)),
    " ",
    h("span", { class: "when" }, span),
    overlap > 0
      ? h("span", { class: "talkover", title: t("qa.talkover.hint", { s: overlap.toFixed(1) }) }, t("qa.talkover"))
      : null,
  );
  const row = h(
    "div",
    {
      class: `seg ${speaker}${overlap > 0 ? " overlap" : ""}`,
      dataset: { segId: orig.id, start: segStart(orig), end: segEnd(orig), speaker },
    },
    h("button", { type: "button", class: "btn btn-sm btn-ghost t", title: span, onclick: () => seek(segStart(orig), speaker) }, fmtOffset(segStart(orig))),
    h(
      "div",
      {},
      who,
      text,
      corr ? h("div", {}, h("span", { class: "corr-tag" }, t("qa.corrected")), " ", h("span", { class: "orig", title: t("qa.original") }, orig.text)) : null,
    ),
    h("div", {}, h("button", { type: "button", class: "btn btn-sm edit", onclick: (e) => editSegment(e.target.closest(".seg"), orig, shown) }, t("qa.edit"))),
  );
  return row;
}

function editSegment(row, orig, shown) {
  const area = h("textarea", { rows: 2, "aria-label": t("qa.edit") }, shown.text || "");
  const form = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const text = area.value.trim();
        if (!text) return;
        try {
          const seg = await api(`/api/segments/${orig.id}/corrections`, { method: "POST", body: { text } });
          state.call.segments.push(seg);
          renderTranscript();
          toast(t("saved"));
          document.querySelector(`.seg[data-seg-id="${orig.id}"] .edit`)?.focus();
        } catch (err) {
          toast(err.message, { error: true });
        }
      },
    },
    area,
    h("div", { class: "acts" },
      h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("qa.save")),
      h("button", { type: "button", class: "btn btn-sm", onclick: () => renderTranscript() }, t("qa.cancel"))),
  );
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === "Escape") {
      renderTranscript();
    }
  });
  row.children[1].replaceChildren(row.querySelector(".who"), form);
  area.focus();
}

/** Highlight the word being spoken (binary search over word start times). */
function highlight() {
  const now = $("player").currentTime;
  const words = state.words;
  let lo = 0;
  let hi = words.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (words[mid].start <= now) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const w = found >= 0 && now <= words[found].end + 0.35 ? words[found] : null;
  if (w?.el !== state.nowWord) {
    state.nowWord?.classList.remove("now");
    w?.el.classList.add("now");
    state.nowWord = w?.el || null;
    if (w) w.el.scrollIntoView({ block: "nearest" });
  }
  const seg = [...document.querySelectorAll(".seg")].find((s) => now >= Number(s.dataset.start) && now <= Number(s.dataset.end) + 0.35) || null;
  if (seg !== state.nowSeg) {
    state.nowSeg?.classList.remove("now");
    seg?.classList.add("now");
    state.nowSeg = seg;
  }
}

function loop() {
  highlight();
  state.raf = $("player").paused ? 0 : requestAnimationFrame(loop);
}

// ---- card: proposal vs final, and QA marks --------------------------------------------------

function valueOf(kind, v) {
  const tax = state.tax;
  if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) return "—";
  if (kind === "topic") return tax.name("topics", v);
  if (kind === "service") return tax.name("services", v);
  if (kind === "district") return tax.name("districts", v);
  if (kind === "emergency") return emergencyLabel(tax, v);
  if (kind === "emergency_also") return v.join(", ");
  if (kind === "language") return t(`lang.${v}`);
  if (kind === "address") return ["street", "house", "building", "apartment", "landmark"].map((k) => v[k]).filter(Boolean).join(", ") || "—";
  return String(v);
}

function renderCard() {
  const card = state.card;
  const body = $("cmp").tBodies[0];
  $("nocard").hidden = !!card;
  $("mark-form").hidden = !card;
  if (!card) {
    body.replaceChildren();
    return;
  }
  $("qa-card-status").replaceChildren(statusBadge(card.status));
  $("qa-reg").textContent = card.reg_number || "";
  const p = card.proposed || {};
  const marks = card.qa_marks || {};
  const rows = MARK_FIELDS.map((f) => {
    const proposed = f === "address" ? p.address || null : f === "district" ? p.address?.district : p[f];
    const final = f === "address" ? card.address || null : f === "district" ? card.address?.district : card[f];
    const a = valueOf(f, proposed);
    const b = valueOf(f, final);
    return h(
      "tr",
      { class: a !== b ? "diff" : "", dataset: { field: f } },
      h("th", { scope: "row" }, t(`field.${f}`)),
      h(
        "td",
        {},
        a,
        p.confidence?.[f] != null ? ` (${Math.round(p.confidence[f] * 100)}%)` : "",
        // The model heard the street but not the house number: the operator was to ask the caller.
        f === "address" && p.house_status === "uncertain" ? h("span", { class: "muted", id: "qa-house-uncertain" }, ` · ${t("qa.house_uncertain")}`) : "",
      ),
      h("td", { class: "final" }, b),
      h(
        "td",
        {},
        h("button", { type: "button", class: "btn btn-sm flag", title: t("qa.mark"), "aria-label": `${t("qa.mark")}: ${t(`field.${f}`)}`, onclick: () => startMark(f) }, "⚑"),
      ),
    );
  });
  // Marks sit under their row, full width.
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    const f = MARK_FIELDS[i];
    if (marks[f]) rows.splice(i + 1, 0, h("tr", { class: "markrow", dataset: { markOf: f } }, h("td", { colspan: 4, class: "mark" }, `⚑ ${marks[f]}`)));
  }
  body.replaceChildren(...rows);
  const sel = $("mark-field");
  const keep = sel.value;
  sel.replaceChildren(...MARK_FIELDS.map((f) => h("option", { value: f }, t(`field.${f}`))));
  if (keep) sel.value = keep;
}

function startMark(field) {
  $("mark-field").value = field;
  $("mark-note").value = state.card.qa_marks?.[field] || "";
  $("mark-note").focus();
}

async function saveMark(e) {
  e.preventDefault();
  const field = $("mark-field").value;
  const note = $("mark-note").value.trim();
  if (!note) {
    $("mark-note").setAttribute("aria-invalid", "true");
    $("mark-note").focus();
    return;
  }
  $("mark-note").removeAttribute("aria-invalid");
  try {
    const res = await api(`/api/cards/${state.card.id}/qa-marks`, { method: "POST", body: { [field]: note } });
    state.card.qa_marks = res.qa_marks || { ...(state.card.qa_marks || {}), [field]: note };
    renderCard();
    $("mark-note").value = "";
    toast(t("saved"));
  } catch (err) {
    toast(err.message, { error: true });
  }
}

// ---- start ------------------------------------------------------------------------------

function renderHead() {
  const c = state.call;
  $("qa-h").textContent = t("qa.call", { id: c.id });
  $("qa-caller").textContent = c.caller_number || t("desk.unknown.number");
  const rec = (c.recordings || [])[0];
  const seconds = rec?.duration_s ?? (c.ended_at && c.started_at ? (new Date(c.ended_at) - new Date(c.started_at)) / 1000 : null);
  const dur = seconds != null ? ` · ${fmtOffset(seconds)}` : "";
  $("qa-when").textContent = `${fmtDateTime(c.started_at)}${dur}`;
}

async function main() {
  const user = await startPage({ page: "/qa", roles: QA_ROLES });
  if (!user) return;
  state.tax = await taxonomy();
  try {
    state.call = await api(`/api/calls/${callId}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) showForbidden();
    else $("main").replaceChildren(h("div", { class: "notice", role: "alert" }, h("h1", {}, t("error.notfound")), h("p", {}, err.message)));
    return;
  }
  state.card = state.call.card || null;
  renderHead();
  renderTranscript();
  renderCard();
  const audio = $("player");
  const first = recordingFor("caller");
  if (first) {
    play(first);
  } else {
    audio.hidden = true;
    $("noaudio").hidden = false;
  }
  audio.addEventListener("play", () => { if (!state.raf) state.raf = requestAnimationFrame(loop); });
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  $("rate").addEventListener("change", (e) => { audio.playbackRate = Number(e.target.value); });
  $("mark-form").addEventListener("submit", saveMark);
  window.addEventListener("langchange", () => {
    applyI18n(document);
    renderHead();
    renderTranscript();
    renderCard();
  });
  window.__qa = { ready: true };
}

main();
