// The operator desk: live calls over the WebSocket, the transcript line by line, the card filled in live.

import { api, ApiError, token } from "./api.js";
import { Combobox } from "./combobox.js";
import { applyI18n, fmtDateTime, fmtOffset, fmtTime, lang, t } from "./i18n.js";
import { confBadge, emergencyLabel, EVERY_ROLE, h, ICONS, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const TEXT_FIELDS = ["street", "house", "building", "apartment", "landmark", "summary"];
const ADDRESS = ["street", "house", "building", "apartment", "district", "landmark"];
const LOW_CONF = 0.6;
// Fields the routing rules read: a change asks the server again where the card would go.
const ROUTING_INPUTS = new Set(["topic", "service", "district", "street", "house", "landmark", "organisation_id"]);

const state = {
  user: null,
  tax: null,
  calls: new Map(), // call key (Asterisk's uniqueid) -> call state (see newCall)
  current: null, // the open call's key
  ws: null,
  wsRetry: 0,
  combos: {},
  busy: false,
  follow: true, // the transcript keeps to its last line unless the operator scrolled up to read
  orgs: [], // the active organisations (GET /api/organisations), for the choice of where a card goes
  routeSeq: 0, // the latest routing preview asked for (older answers are dropped)
  routeTimer: 0,
};

// Measurements the browser test reads: when each stored segment's line appeared.
window.__desk = { shown: [], messages: 0 };

function newCall(key) {
  return {
    key,
    id: null, // the database id; null while the database has not taken the call (an outage)
    transcription: "live", // live | after_call | off
    caller: null,
    startedAt: null,
    endedAt: null,
    claimedBy: null,
    segments: new Map(), // segment key -> segment
    partials: { caller: null, operator: null }, // the utterance in progress, one per voice
    cardId: null,
    card: null, // last CardPublic seen
    proposal: null,
    alert: null, // {emergency, emergency_also, confidence, evidence, state, reason, transferredTo, at}
    status: "draft",
    regNumber: null,
    dueAt: null,
    loaded: false,
    form: null, // the operator's values while this call is not shown
    dirty: new Set(),
    routing: null, // where the card would go now (GET /api/cards/{id}/routing)
  };
}

function call(key) {
  let c = state.calls.get(key);
  if (!c) {
    c = newCall(key);
    state.calls.set(key, c);
  }
  return c;
}

const cur = () => (state.current === null ? null : state.calls.get(state.current) || null);
const $ = (id) => document.getElementById(id);

// ---- WebSocket -------------------------------------------------------------------------------

function connect() {
  const conn = $("conn");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/live?token=${encodeURIComponent(token())}`);
  state.ws = ws;
  setConn("connecting");
  ws.onopen = () => {
    state.wsRetry = 0;
    setConn("open");
  };
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    window.__desk.messages += 1;
    try {
      onMessage(msg);
    } catch (err) {
      console.error("desk: message failed", msg, err);
    }
  };
  ws.onclose = (ev) => {
    setConn("closed");
    if (ev.code === 4401 || ev.code === 1008) {
      location.replace(`/login?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    if (ev.code === 4403) {
      location.reload(); // the user's role changed: what this page shows depends on it
      return;
    }
    if (ev.code === 4429) {
      toast(t("desk.too_many"), { error: true }); // this user already has the most live sockets the server allows
      setTimeout(connect, 15_000);
      return;
    }
    const delay = Math.min(10_000, 500 * 2 ** state.wsRetry++);
    setTimeout(connect, delay);
  };
  if (conn) conn.hidden = false;
}

function setConn(s) {
  const el = $("conn");
  if (!el) return;
  el.hidden = false;
  el.dataset.state = s;
  el.textContent = t(`conn.${s}`);
}

function onMessage(msg) {
  const id = msg.call_key;
  if (msg.type === "ready" || typeof id !== "string") return;
  const c = call(id);
  const learnedId = c.id === null && typeof msg.call_id === "number";
  if (typeof msg.call_id === "number") c.id = msg.call_id;
  switch (msg.type) {
    case "call_started":
      c.caller = msg.caller_number ?? c.caller;
      c.startedAt = msg.started_at ?? c.startedAt;
      c.transcription = msg.transcription || c.transcription;
      break;
    case "call_stored":
      break;
    case "transcription_changed":
      c.transcription = msg.transcription || c.transcription;
      if (id === state.current) renderCallHead(c);
      break;
    case "call_claimed":
      c.claimedBy = msg.operator_id;
      if (state.user.role === "operator" && msg.operator_id !== state.user.id) {
        dropCall(id);
        return;
      }
      break;
    case "transcript_partial":
      c.partials[speakerOf(msg)] = msg.text ? msg : null;
      if (id === state.current) later("partial", () => renderPartial(cur()));
      break;
    case "transcript_final": {
      const seg = msg.segment || {};
      const key = seg.id ?? `t${speakerOf(seg)}${seg.start}`;
      c.partials[speakerOf(seg)] = null; // the other voice's utterance in progress stays
      if (!c.segments.has(key)) {
        c.segments.set(key, seg);
        if (id === state.current) appendLine(c, seg, msg.stored_at);
      }
      if (id === state.current) later("partial", () => renderPartial(cur()));
      break;
    }
    case "card_proposed":
      if (msg.card_id) c.cardId = msg.card_id;
      c.proposal = msg.proposal || null;
      if (c.proposal && c.proposal.emergency && c.proposal.emergency !== "none" && !c.alert) {
        c.alert = {
          emergency: c.proposal.emergency,
          emergency_also: c.proposal.emergency_also || [],
          confidence: c.proposal.confidence?.emergency ?? null,
          evidence: "",
          state: "active",
        };
      }
      if (id === state.current) {
        later("proposal", () => {
          if (cur() !== c) return;
          applyProposal(c);
          renderBanner(c);
        });
      }
      break;
    case "emergency_alert":
      if (msg.card_id) c.cardId = msg.card_id;
      if (!c.alert || c.alert.state === "active") {
        c.alert = {
          emergency: msg.emergency,
          emergency_also: msg.emergency_also || [],
          confidence: msg.confidence,
          evidence: msg.evidence || "",
          state: "active",
        };
      }
      if (id === state.current) renderBanner(c);
      break;
    case "card_updated":
      if (msg.card_id) c.cardId = msg.card_id;
      if (msg.status) c.status = msg.status;
      if (msg.reg_number) c.regNumber = msg.reg_number;
      if (id === state.current) renderCardStatus(c);
      break;
    case "call_ended":
      c.endedAt = msg.ended_at || new Date().toISOString();
      c.partials = { caller: null, operator: null };
      if (id === state.current) {
        renderCallHead(c);
        renderPartial(c);
      }
      break;
    default:
      return;
  }
  if (learnedId && id === state.current) {
    // The database took the call late (it was down when the call started): claim it and load it now.
    claim(c).then(() => loadCall(c));
  }
  later("queue", () => {
    forgetOldCalls();
    renderQueue();
    autoOpen();
  });
}

/** Calls that ended over an hour ago (and are not open) leave the desk's memory: a shift is eight hours. */
function forgetOldCalls() {
  const cutoff = Date.now() - 3600_000;
  for (const [id, c] of state.calls) {
    if (id !== state.current && c.endedAt && Date.parse(c.endedAt) < cutoff) state.calls.delete(id);
  }
}

// Work that only needs the latest state is done once per animation frame, however many messages came.
const pending = new Map();
let frame = 0;

function later(key, job) {
  pending.set(key, job);
  if (!frame) frame = requestAnimationFrame(flushLater);
}

function flushLater() {
  frame = 0;
  const jobs = [...pending.values()];
  pending.clear();
  for (const job of jobs) job();
}

function dropCall(id) {
  state.calls.delete(id);
  if (state.current === id) {
    state.current = null;
    toast(t("desk.claimed.other"));
    showNoCall();
  }
  renderQueue();
}

// ---- the queue and opening calls ----------------------------------------------------------

function visibleCalls() {
  return [...state.calls.values()]
    .filter((c) => c.startedAt || c.segments.size || c.proposal)
    .filter((c) => !(c.endedAt && c.status !== "draft" && c.key !== state.current))
    .sort((a, b) => String(b.startedAt || "").localeCompare(String(a.startedAt || "")));
}

function renderQueue() {
  const list = $("queue");
  const calls = visibleCalls();
  $("queue-empty").hidden = calls.length > 0;
  list.replaceChildren(
    ...calls.map((c) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            "aria-current": c.key === state.current ? "true" : "false",
            dataset: { callKey: c.key, callId: c.id ?? "" },
            onclick: () => openCall(c.key, { focus: true }),
          },
          h("span", { class: "num" }, c.caller || t("desk.unknown.number")),
          h("span", { class: "meta" }, `${fmtTime(c.startedAt)}${c.regNumber ? ` · ${c.regNumber}` : ""}`),
          c.alert && c.alert.state === "active"
            ? h("span", { class: "badge em" }, c.alert.emergency)
            : h("span", { class: `badge ${c.endedAt ? "ended" : "live"}` }, c.endedAt ? t("queue.ended") : t("queue.live")),
        ),
      ),
    ),
  );
}

/** Open the next waiting call when nothing is open, or when the open call has ended and is registered. */
function autoOpen() {
  const open = cur();
  if (open && !(open.endedAt && open.status !== "draft")) return;
  if (open && state.user.role !== "operator") return; // supervisor, qa and admin choose for themselves
  const waiting = visibleCalls()
    .filter((c) => c.key !== state.current && c.startedAt && !c.endedAt && c.status === "draft")
    .filter((c) => !c.claimedBy || c.claimedBy === state.user.id)
    .sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
  if (waiting.length) openCall(waiting[0].key, { focus: false });
}

async function openCall(id, { focus }) {
  const c = state.calls.get(id);
  if (!c) return;
  if (state.current !== null && state.current !== id) stashForm();
  state.current = id;
  // Restore unconfirmed edits before anything can await: a proposal arriving during the claim below must
  // fill only the fields the operator has not touched.
  if (!c.form && !c.dirty.size) restoreDraft(c);
  if (!(await claim(c))) return;
  renderQueue();
  renderCall(c);
  if (focus) $("f-topic").focus();
  if (!c.loaded) loadCall(c);
}

/** Take the call for this operator (once the database knows it); false when another operator has it. */
async function claim(c) {
  if (state.user.role !== "operator" || c.claimedBy === state.user.id || c.id === null) return true;
  try {
    await api(`/api/calls/${c.id}/claim`, { method: "POST" });
    c.claimedBy = state.user.id;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      dropCall(c.key);
      return false;
    }
    toast(err.message, { error: true });
  }
  return true;
}

/** Fill in what the hub's snapshot cannot give: every stored segment and the card as saved. */
async function loadCall(c) {
  if (c.id === null) return; // not in the database yet: loaded when its id arrives
  try {
    const data = await api(`/api/calls/${c.id}`);
    c.loaded = true;
    c.caller = c.caller || data.caller_number || null;
    c.startedAt = c.startedAt || data.started_at || null;
    if (data.ended_at && !c.endedAt) c.endedAt = data.ended_at;
    for (const seg of data.segments || []) {
      if (seg.source && seg.source !== "live") continue;
      const key = seg.id;
      if (!c.segments.has(key)) {
        c.segments.set(key, {
          id: seg.id,
          start: seg.start ?? seg.start_s,
          end: seg.end ?? seg.end_s,
          text: seg.text,
          language: seg.language,
          confidence: seg.confidence,
          words: seg.words || [],
          speaker: speakerOf(seg),
        });
      }
    }
    if (data.card) absorbCard(c, data.card);
    if (state.current === c.key) renderCall(c);
    autoOpen();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) toast(err.message, { error: true });
  }
}

function absorbCard(c, card) {
  c.card = card;
  c.cardId = card.id;
  c.status = card.status;
  c.regNumber = card.reg_number;
  c.dueAt = card.due_at;
  if (card.proposed && (card.proposed.topic || card.proposed.emergency)) c.proposal = { ...card.proposed, ...(c.proposal || {}) };
  if (card.emergency_transferred_to && c.alert) {
    c.alert.state = "transferred";
    c.alert.transferredTo = card.emergency_transferred_to;
  }
  if (card.emergency_dismissed_reason && c.alert) {
    c.alert.state = "dismissed";
    c.alert.reason = card.emergency_dismissed_reason;
  }
  if (!c.form) {
    c.form = fromCard(card);
  }
}

// ---- drawing the open call ----------------------------------------------------------------

function showNoCall() {
  $("transcript").replaceChildren(
    h("div", { id: "nocall", class: "notice" }, h("h1", {}, t("desk.nocall")), h("p", {}, t("desk.nocall.text"))),
  );
  $("call-caller").textContent = "";
  $("call-state").replaceChildren();
  $("call-clock").textContent = "";
  $("banner-slot").replaceChildren();
  $("card-fields").disabled = true;
  $("confirm").disabled = true;
  $("registered").hidden = true;
  for (const id of ["route-org", "route-why", "route-reason"]) $(id).textContent = "";
  $("history").replaceChildren(h("p", { class: "empty" }, t("desk.history.pick")));
}

function renderCall(c) {
  renderCallHead(c);
  const box = $("transcript");
  box.replaceChildren();
  const segs = [...c.segments.values()].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
  if (!segs.length) box.append(h("p", { id: "transcript-empty", class: "empty" }, t("desk.transcript.empty")));
  for (const seg of segs) box.append(lineFor(seg, false));
  renderPartial(c);
  box.scrollTop = box.scrollHeight;
  state.follow = true;
  fillForm(c);
  renderBanner(c);
  renderCardStatus(c);
  loadHistory(c);
}

function renderCallHead(c) {
  $("call-caller").textContent = c.caller || t("desk.unknown.number");
  $("call-state").replaceChildren(
    h("span", { class: `badge ${c.endedAt ? "ended" : "live"}` }, c.endedAt ? t("desk.call.ended") : t("desk.call.live")),
    ...(c.transcription === "after_call"
      ? [h("span", { class: "badge ended", id: "transcription-after-call", title: t("desk.transcription.after_call.hint") }, t("desk.transcription.after_call"))]
      : []),
  );
  tickClock();
}

function tickClock() {
  const c = cur();
  const el = $("call-clock");
  if (!c || !c.startedAt) {
    el.textContent = "";
    return;
  }
  const end = c.endedAt ? new Date(c.endedAt) : new Date();
  el.textContent = `${fmtTime(c.startedAt)} · ${fmtOffset((end - new Date(c.startedAt)) / 1000)}`;
}

function wordsInto(el, seg) {
  const words = Array.isArray(seg.words) ? seg.words : [];
  if (!words.length) {
    el.textContent = seg.text || "";
    return;
  }
  words.forEach((w, i) => {
    if (i) el.append(" ");
    const conf = Number(w.conf ?? 1);
    const span = h("span", { class: conf < LOW_CONF ? "w lowconf" : "w" }, w.word ?? w.text ?? "");
    if (conf < LOW_CONF) span.title = t("qa.conf", { p: `${Math.round(conf * 100)}%` });
    el.append(span);
  });
}

/** "caller" or "operator" for a live message or segment (older messages carry no speaker: the caller's). */
function speakerOf(x) {
  return x && x.speaker === "operator" ? "operator" : "caller";
}

function lineFor(seg, fresh) {
  const tx = h("span", { class: "tx" });
  wordsInto(tx, seg);
  const speaker = speakerOf(seg);
  return h(
    "div",
    { class: `line ${speaker}${fresh ? " fresh" : ""}`, dataset: { segId: seg.id ?? "", speaker } },
    h("span", { class: "t", dataset: { start: String(seg.start ?? 0) } }, fmtOffset(seg.start)),
    h("span", { class: "lg", lang: seg.language || undefined }, seg.language || ""),
    // The operator's own words are labelled and kept small and grey; the caller's lines carry no label.
    speaker === "operator" ? h("span", { class: "spk" }, t("speaker.operator")) : null,
    tx,
  );
}

function appendLine(c, seg, storedAt) {
  const box = $("transcript");
  $("transcript-empty")?.remove();
  const line = lineFor(seg, true);
  // Keep time order even when a late segment arrives.
  const after = [...box.querySelectorAll(".line:not(.partial)")].find(
    (el) => Number(el.querySelector(".t")?.dataset.start ?? Infinity) > (seg.start ?? 0),
  );
  const partial = box.querySelector(".line.partial");
  if (after) box.insertBefore(line, after);
  else if (partial) box.insertBefore(line, partial);
  else box.append(line);
  if (state.follow) later("scroll", () => { box.scrollTop = box.scrollHeight; });
  if (storedAt) {
    const stored = Date.parse(storedAt);
    requestAnimationFrame(() => {
      const shown = window.__desk.shown;
      shown.push({ id: seg.id, stored: stored, shown: performance.timeOrigin + performance.now() });
      if (shown.length > 2000) shown.splice(0, shown.length - 1000); // a shift is long: keep the recent ones
    });
  }
}

/** One partial line per voice at the bottom, so the caller's and the operator's words in progress never mix. */
function renderPartial(c) {
  if (!c) return;
  const box = $("transcript");
  for (const speaker of ["caller", "operator"]) {
    const partial = c.partials[speaker];
    let line = box.querySelector(`.line.partial[data-speaker="${speaker}"]`);
    if (!partial || c.endedAt) {
      line?.remove();
      continue;
    }
    if (!line) {
      line = h(
        "div",
        { class: `line partial ${speaker}`, "aria-hidden": "true", dataset: { speaker } },
        h("span", { class: "t" }),
        h("span", { class: "lg" }),
        speaker === "operator" ? h("span", { class: "spk" }, t("speaker.operator")) : null,
        h("span", { class: "tx" }),
      );
      box.append(line);
    }
    line.querySelector(".t").textContent = fmtOffset(partial.start);
    line.querySelector(".lg").textContent = partial.language || "";
    line.querySelector(".tx").textContent = `${partial.text}…`;
    $("transcript-empty")?.remove();
  }
  // Both voices mid-utterance: the one that began first stays above.
  const [first, second] = [...box.querySelectorAll(".line.partial")];
  if (second && Number(c.partials[second.dataset.speaker]?.start) < Number(c.partials[first.dataset.speaker]?.start)) {
    box.insertBefore(second, first);
  }
  if (state.follow) box.scrollTop = box.scrollHeight;
}

async function loadHistory(c) {
  const box = $("history");
  if (!c.caller) {
    box.replaceChildren(h("p", { class: "empty" }, t("desk.history.none")));
    return;
  }
  box.replaceChildren(h("p", { class: "empty" }, t("loading")));
  try {
    const data = await api(`/api/callers/${encodeURIComponent(c.caller)}/history`);
    const rows = (Array.isArray(data) ? data : data.data || []).filter((card) => card.call_id !== c.id && card.id !== c.cardId);
    if (state.current !== c.key) return;
    if (!rows.length) {
      box.replaceChildren(h("p", { class: "empty" }, t("desk.history.none")));
      return;
    }
    box.replaceChildren(
      h(
        "ul",
        { class: "history" },
        rows.map((card) =>
          h(
            "li",
            {},
            h("div", {}, h("span", { class: "reg" }, card.reg_number || "—"), " ", statusBadge(card.status)),
            h("div", {}, state.tax.name("topics", card.topic) || card.summary || ""),
            h("div", { class: "muted" }, fmtDateTime(card.confirmed_at || card.created_at)),
          ),
        ),
      ),
    );
  } catch (err) {
    box.replaceChildren(h("p", { class: "empty" }, err.message));
  }
}

// ---- the card form ----------------------------------------------------------------------

function emptyForm() {
  return {
    topic: null, service: null, emergency: "none", emergency_also: [], language: "",
    street: "", house: "", building: "", apartment: "", district: null, landmark: "", summary: "",
    organisation_id: null,
  };
}

function fromCard(card) {
  const a = card.address || {};
  return {
    topic: card.topic || null,
    service: card.service || null,
    emergency: card.emergency || "none",
    emergency_also: card.emergency_also || [],
    language: card.language || "",
    street: a.street || "", house: a.house || "", building: a.building || "", apartment: a.apartment || "",
    district: a.district || null, landmark: a.landmark || "",
    summary: card.summary || "",
    // The operator's choice of organisation (null: the routing rules decide).
    organisation_id: (card.operator_edited || []).includes("organisation_id") && card.organisation ? card.organisation.id : null,
  };
}

function fromProposal(p) {
  const a = p.address || {};
  return {
    topic: p.topic || null,
    service: p.service || null,
    emergency: p.emergency || "none",
    emergency_also: p.emergency_also || [],
    language: p.language || "",
    street: a.street || "", house: a.house || "", building: a.building || "", apartment: a.apartment || "",
    district: a.district || null, landmark: a.landmark || "",
    summary: p.summary || "",
    organisation_id: null,
  };
}

function readForm() {
  const v = {};
  v.topic = state.combos.topic.value;
  v.service = state.combos.service.value;
  v.emergency = state.combos.emergency.value || "none";
  v.district = state.combos.district.value;
  v.language = $("f-language").value;
  v.emergency_also = [...document.querySelectorAll("#also-checks input:checked")].map((i) => i.value);
  for (const f of TEXT_FIELDS) v[f] = $(`f-${f}`).value.trim();
  const chosen = $("f-organisation").value;
  v.organisation_id = chosen ? Number(chosen) : null;
  return v;
}

function writeField(name, value) {
  if (name in state.combos) state.combos[name].value = value;
  else if (name === "language") $("f-language").value = value || "";
  else if (name === "organisation_id") fillOrganisations(value);
  else if (name === "emergency_also") {
    for (const box of document.querySelectorAll("#also-checks input")) box.checked = (value || []).includes(box.value);
  } else $(`f-${name}`).value = value || "";
}

function stashForm() {
  const c = cur();
  if (c && !$("card-fields").disabled) c.form = readForm();
}

function fillForm(c) {
  const values = c.form || (c.proposal ? fromProposal(c.proposal) : emptyForm());
  for (const [name, value] of Object.entries(values)) writeField(name, value);
  for (const el of document.querySelectorAll(".field .edited")) el.hidden = true;
  for (const name of c.dirty) markEdited(name);
  const locked = c.status !== "draft";
  $("card-fields").disabled = locked;
  $("confirm").disabled = locked;
  renderProposal(c);
  fillOrganisations(values.organisation_id ?? null);
  renderRouting(c);
  askRouting(c);
}

function markEdited(name) {
  const el = document.querySelector(`.field[data-field="${name}"] .edited`);
  if (el) el.hidden = false;
}

const draftKey = (c) => `callcard.draft.${c.key}`;

/** Keep the operator's unconfirmed edits across a page reload (this browser tab only). */
function saveDraft(c) {
  try {
    sessionStorage.setItem(draftKey(c), JSON.stringify({ form: c.form, dirty: [...c.dirty] }));
  } catch {
    /* storage full or disabled: the edits live on in memory */
  }
}

function restoreDraft(c) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(draftKey(c)) || "null");
    if (saved && saved.form) {
      c.form = saved.form;
      c.dirty = new Set(saved.dirty || []);
    }
  } catch {
    /* ignore a damaged draft */
  }
}

function onEdit(name) {
  const c = cur();
  if (!c) return;
  c.dirty.add(name);
  markEdited(name);
  if (name === "topic" && !c.dirty.has("service")) {
    const topic = state.combos.topic.value;
    const svc = topic ? state.tax.index.topics.get(topic)?.service : null;
    if (svc) state.combos.service.value = svc;
  }
  if (name === "topic" || name === "service") fillOrganisations(readForm().organisation_id);
  if (name === "organisation_id" && !readForm().organisation_id) c.dirty.delete(name);
  c.form = readForm();
  saveDraft(c);
  renderProposal(c);
  if (ROUTING_INPUTS.has(name)) askRouting(c);
}

/** A new proposal fills every field the operator has not touched. */
function applyProposal(c) {
  if (!c.proposal) return;
  if (c.status === "draft") {
    const proposed = fromProposal(c.proposal);
    for (const [name, value] of Object.entries(proposed)) {
      if (!c.dirty.has(name) && name !== "organisation_id") writeField(name, value);
    }
    fillOrganisations(readForm().organisation_id);
    c.form = readForm();
    askRouting(c);
  }
  renderProposal(c);
}

function renderProposal(c) {
  const p = c.proposal || {};
  const conf = p.confidence || {};
  const alts = p.alternatives || {};
  const kinds = { topic: "topics", service: "services", emergency: "emergency", district: "districts" };
  for (const name of ["topic", "service", "emergency"]) {
    const box = $(`p-${name}`);
    box.replaceChildren();
    if (!c.proposal || !p[name]) continue;
    const label = name === "emergency" ? emergencyLabel(state.tax, p[name]) : state.tax.name(kinds[name], p[name]);
    box.append(h("span", {}, t("prop.ai")));
    // The model's value is spelled out only when the field now says something else.
    if (state.combos[name].value !== p[name]) box.append(h("span", { class: "pv", title: label }, label));
    const badge = confBadge(conf[name]);
    if (badge) box.append(badge);
    // Alternatives worth a look: not the proposal itself, and not ones the model all but ruled out.
    const others = (alts[name] || []).filter((a) => a.id !== p[name] && (a.confidence ?? 0) >= 0.01).slice(0, 3);
    if (others.length) {
      box.append(h("span", {}, t("prop.alt")));
      for (const a of others) {
        const name2 = state.tax.name(kinds[name], a.id);
        box.append(
          h(
            "button",
            {
              type: "button",
              class: "alt",
              tabindex: "-1", // keyboard users get the alternatives first in the field's list (↓)
              title: t("prop.take", { v: name2 }),
              onclick: () => {
                state.combos[name].value = a.id;
                onEdit(name);
              },
            },
            `${Math.round((a.confidence ?? 0) * 100)}% ${name2}`,
          ),
        );
      }
    }
  }
  // Address, summary and language: show the model's value when the operator's differs.
  const proposed = c.proposal ? fromProposal(p) : null;
  for (const name of [...TEXT_FIELDS, "district", "language"]) {
    const box = $(`p-${name}`);
    if (!box) continue;
    box.replaceChildren();
    if (name === "house" && askForHouse(c)) {
      box.append(h("span", { class: "conf mid", id: "house-ask", role: "status" }, t("prop.house_uncertain")));
      continue;
    }
    if (!proposed || !proposed[name]) continue;
    const mine = name === "district" ? state.combos.district.value : name === "language" ? $("f-language").value : $(`f-${name}`).value.trim();
    if (mine === proposed[name]) {
      const badge = name === "street" ? confBadge(conf.address) : null;
      if (badge) box.append(h("span", {}, t("prop.ai")), badge);
      continue;
    }
    const shown = name === "district" ? state.tax.name("districts", proposed[name]) : name === "language" ? t(`lang.${proposed[name]}`) : proposed[name];
    box.append(
      h("span", {}, t("prop.ai")),
      h(
        "button",
        {
          type: "button",
          class: "alt",
          tabindex: "-1",
          title: t("prop.take", { v: shown }),
          onclick: () => {
            writeField(name, proposed[name]);
            onEdit(name);
            renderProposal(c);
          },
        },
        shown,
      ),
    );
  }
}

/** The model heard the street but not the house number, and the operator has not typed one: ask the caller. */
function askForHouse(c) {
  const p = c.proposal;
  return !!p && p.house_status === "uncertain" && (c.status || "draft") === "draft" && !$("f-house").value.trim();
}

function renderCardStatus(c) {
  const el = $("card-status");
  el.replaceChildren(statusBadge(c.status || "draft"));
  const reg = $("registered");
  if (c.regNumber) {
    reg.hidden = false;
    const next = visibleCalls().find((o) => o.key !== c.key && o.status === "draft" && !o.endedAt);
    // Re-render only when something shown changes: a card event echoing the confirmation must not
    // replace the focused registration number under the operator.
    const key = [c.regNumber, c.dueAt, next?.id ?? "", lang()].join("|");
    if (reg.dataset.key === key) return finishCardStatus(c);
    reg.dataset.key = key;
    reg.replaceChildren(
      h("div", {}, h("strong", {}, t("confirm.done"))),
      h("div", {}, `${t("confirm.reg")}: `, h("span", { class: "reg", id: "reg-number" }, c.regNumber)),
      h("div", {}, `${t("confirm.due")}: `, h("span", { id: "due-at" }, fmtDateTime(c.dueAt))),
    );
    if (next) {
      reg.append(h("button", { type: "button", class: "btn btn-sm", id: "next-call", onclick: () => openCall(next.key, { focus: true }) }, `${t("desk.next")} (Alt+N)`));
    }
  } else {
    reg.hidden = true;
    delete reg.dataset.key;
  }
  finishCardStatus(c);
}

function finishCardStatus(c) {
  if (c.status !== "draft") {
    $("card-fields").disabled = true;
    $("confirm").disabled = true;
  }
}

function cardBody(v) {
  const address = {};
  for (const f of ADDRESS) address[f] = v[f] || null;
  return {
    topic: v.topic,
    service: v.service,
    emergency: v.emergency || "none",
    emergency_also: v.emergency_also,
    language: v.language || null,
    address,
    summary: v.summary || null,
  };
}

async function ensureCard(c) {
  if (c.cardId) return c.cardId;
  if (c.id === null) throw new Error(t("desk.call.unstored"));
  const card = await api("/api/cards", { method: "POST", body: { call_id: c.id, ...cardBody(readForm()) } });
  absorbCard(c, card);
  return card.id;
}

async function confirmCard() {
  const c = cur();
  if (!c || state.busy || c.status !== "draft") return;
  document.activeElement?.dispatchEvent(new Event("blur"));
  for (const combo of Object.values(state.combos)) combo.settle();
  const v = readForm();
  if (!v.topic) {
    toast(t("confirm.need.topic"), { error: true });
    $("f-topic").setAttribute("aria-invalid", "true");
    $("f-topic").focus();
    return;
  }
  $("f-topic").removeAttribute("aria-invalid");
  state.busy = true;
  const btn = $("confirm");
  btn.disabled = true;
  btn.firstElementChild.textContent = t("confirm.busy");
  try {
    const id = await ensureCard(c);
    const card = await api(`/api/cards/${id}/confirm`, { method: "POST", body: { ...cardBody(v), organisation_id: v.organisation_id } });
    absorbCard(c, card);
    c.form = fromCard(card);
    sessionStorage.removeItem(draftKey(c));
    renderCardStatus(c);
    renderRouting(c);
    renderQueue();
    autoOpen();
    $("next-call")?.focus();
    if (!$("next-call")) $("reg-number")?.setAttribute("tabindex", "-1");
    $("reg-number")?.focus?.();
  } catch (err) {
    toast(err.message, { error: true });
    btn.disabled = false;
  } finally {
    state.busy = false;
    btn.firstElementChild.textContent = t("confirm");
  }
}

// ---- where the card goes ------------------------------------------------------------------

const orgName = (o) => (lang() === "kk" ? o.name_kk : o.name_ru) || o.code;

/** The choice of organisation: those serving the card's service (every one while it has none), the chosen one
 * kept when it still serves the service, else back to "the routing rules decide". */
function fillOrganisations(chosen) {
  const select = $("f-organisation");
  const service = state.combos.service?.value || null;
  const serving = state.orgs
    .filter((o) => !service || (o.services || []).includes(service))
    .sort((a, b) => orgName(a).localeCompare(orgName(b), lang()));
  const keep = serving.some((o) => o.id === chosen) ? String(chosen) : "";
  select.replaceChildren(
    h("option", { value: "" }, t("route.auto")),
    ...serving.map((o) => h("option", { value: String(o.id) }, orgName(o))),
  );
  select.value = keep;
  const c = cur();
  if (c && !keep) c.dirty.delete("organisation_id");
}

/** Ask, shortly after the last change, where the card would go with the values on the form. */
function askRouting(c) {
  clearTimeout(state.routeTimer);
  state.routeTimer = setTimeout(() => loadRouting(c), 250);
}

async function loadRouting(c) {
  if (cur() !== c) return;
  if (c.status !== "draft" || !c.cardId) {
    renderRouting(c);
    return;
  }
  const v = readForm();
  const query = new URLSearchParams();
  for (const f of ["topic", "service", "district"]) if (v[f]) query.set(f, v[f]);
  for (const f of ["street", "house", "landmark"]) query.set(f, v[f] || "");
  if (v.organisation_id) query.set("organisation_id", String(v.organisation_id));
  const seq = ++state.routeSeq;
  try {
    const routing = await api(`/api/cards/${c.cardId}/routing?${query}`);
    if (seq !== state.routeSeq) return;
    c.routing = routing;
  } catch (err) {
    if (seq !== state.routeSeq) return;
    c.routing = { error: err.message };
  }
  if (cur() === c) renderRouting(c);
}

/** "Where to: <organisation> (by rule … / chosen by the operator)", and the engine's reason below. */
function renderRouting(c) {
  const box = $("route-target");
  const org = $("route-org");
  const why = $("route-why");
  const reason = $("route-reason");
  const card = c.card;
  const r = c.status !== "draft" && card && card.status !== "draft"
    ? { organisation: card.organisation, routing_rule: card.routing_rule, routing_reason: card.routing_reason, chosen: !!card.organisation && !card.routing_rule }
    : c.routing;
  if (!r || r.error) {
    box.dataset.state = "pending";
    org.textContent = r?.error || (c.cardId ? t("route.loading") : t("route.nocard"));
    why.textContent = "";
    reason.textContent = "";
    return;
  }
  box.dataset.state = r.organisation ? "found" : "none";
  org.textContent = r.organisation ? orgName(r.organisation) : t("route.none");
  org.dataset.code = r.organisation?.code || "";
  why.textContent = r.chosen ? `(${t("route.chosen")})` : r.routing_rule ? `(${t("route.rule", { rule: r.routing_rule })})` : "";
  reason.textContent = r.routing_reason || "";
}

// ---- the emergency banner -----------------------------------------------------------------

function renderBanner(c) {
  const slot = $("banner-slot");
  const a = c.alert;
  if (!a || !a.emergency || a.emergency === "none") {
    slot.replaceChildren();
    delete slot.dataset.key;
    return;
  }
  // Redraw only when something shown changes, and keep the focus where it was.
  const key = JSON.stringify([c.key, a.state, a.emergency, a.emergency_also, a.confidence, a.evidence, a.transferredTo, a.reason, a.failure, document.documentElement.lang]);
  if (slot.dataset.key === key && slot.firstChild) return;
  slot.dataset.key = key;
  const focused = slot.contains(document.activeElement) ? document.activeElement.id : null;
  drawBanner(c, slot);
  if (focused && $(focused)) $(focused).focus();
}

function drawBanner(c, slot) {
  const a = c.alert;
  const icon = h("span", { class: "icon" });
  icon.innerHTML = ICONS.alert;
  const what = h(
    "div",
    { class: "what" },
    h("div", { class: "code" }, `${t("em.banner")}: ${emergencyLabel(state.tax, a.emergency)}`),
    h(
      "div",
      { class: "evidence" },
      [
        a.confidence != null ? t("em.conf", { p: `${Math.round(a.confidence * 100)}%` }) : "",
        a.emergency_also?.length ? t("em.also", { codes: a.emergency_also.join(", ") }) : "",
        a.evidence ? `«${a.evidence}»` : "",
      ]
        .filter(Boolean)
        .join(" · "),
    ),
  );
  let banner;
  if (a.state === "transferred") {
    banner = h("div", { class: "banner done", id: "em-banner", role: "status" }, icon, h("div", { class: "what" }, h("div", { class: "code", id: "em-done" }, t("em.transferred", { code: emergencyLabel(state.tax, a.transferredTo), time: fmtTime(a.at) }))));
  } else if (a.state === "dismissed") {
    banner = h("div", { class: "banner dismissed", id: "em-banner", role: "status" }, h("div", { class: "what" }, t("em.dismissed", { reason: a.reason || "" })));
  } else if (a.state === "dismissing") {
    const input = h("input", { id: "em-reason", type: "text", "aria-required": "true", "aria-label": t("em.dismiss.reason"), placeholder: t("em.dismiss.reason"), maxlength: 500 });
    const form = h(
      "form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          dismissEmergency(c, input.value.trim());
        },
      },
      input,
      h("button", { type: "submit", class: "btn" }, t("em.dismiss.submit")),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => { a.state = "active"; renderBanner(c); $("em-transfer")?.focus(); } }, t("em.dismiss.cancel")),
    );
    banner = h("div", { class: "banner", id: "em-banner", role: "alert" }, icon, what, form);
    slot.replaceChildren(banner);
    input.focus();
    return;
  } else {
    // "active", "transferring" (waiting for Asterisk to show the caller at the service) or "failed" (the caller
    // was NOT moved: the operator must dial the service by hand; Alt+T tries again).
    const failed =
      a.state === "failed" && a.failure
        ? h(
            "div",
            { class: "evidence failed", id: "em-failed", role: "alert" },
            h("strong", {}, t("em.transfer.failed", { code: a.failure.code })),
            a.failure.detail ? ` · ${a.failure.detail}` : "",
          )
        : null;
    if (failed) what.appendChild(failed);
    banner = h(
      "div",
      { class: `banner${a.state === "failed" ? " failed" : ""}`, id: "em-banner", role: "alert", "aria-busy": a.state === "transferring" ? "true" : "false" },
      icon,
      what,
      h(
        "button",
        { type: "button", class: "btn btn-transfer", id: "em-transfer", disabled: a.state === "transferring", onclick: () => transferEmergency(c) },
        a.state === "transferring"
          ? t("em.transfer.busy")
          : t(a.state === "failed" ? "em.transfer.retry" : "em.transfer", { code: a.emergency }),
        " ",
        h("kbd", {}, "Alt+T"),
      ),
      h("button", { type: "button", class: "btn btn-ghost", id: "em-dismiss", onclick: () => { a.state = "dismissing"; renderBanner(c); } }, t("em.dismiss"), " ", h("kbd", {}, "Alt+X")),
    );
  }
  slot.replaceChildren(banner);
}

/** Ask callcard to move the caller; it answers only once Asterisk showed the caller at the service (200) or
 * could not (502/504, within 2 s): "transferred" only on success, else "failed" with the number to dial. */
async function transferEmergency(c) {
  const a = c.alert;
  if (!a || (a.state !== "active" && a.state !== "failed")) return;
  const code = a.emergency;
  a.state = "transferring";
  a.failure = null;
  renderBanner(c);
  try {
    // By the call's key: no card and no database are needed for an emergency transfer (they are recorded after).
    const done = await api(`/api/live/${encodeURIComponent(c.key)}/transfer`, { method: "POST", body: { code } });
    if (done?.code !== code) throw new Error(t("em.transfer.failed", { code }));
    a.state = "transferred";
    a.transferredTo = done.code;
    a.at = new Date().toISOString();
    if (!c.dirty.has("emergency")) state.combos.emergency.value = code;
  } catch (err) {
    a.state = "failed";
    const dial = err?.body?.dial_by_hand || code;
    const why = err?.body?.reason ? `em.fail.${err.body.reason}` : "";
    a.failure = { code: dial, detail: why && t(why) !== why ? t(why) : err.message };
    toast(t("em.transfer.failed", { code: dial }), { error: true });
  }
  if (state.current === c.key) renderBanner(c);
  renderQueue();
}

async function dismissEmergency(c, reason) {
  const a = c.alert;
  if (!reason) {
    toast(t("em.reason.required"), { error: true });
    $("em-reason")?.setAttribute("aria-invalid", "true");
    $("em-reason")?.focus();
    return;
  }
  try {
    const id = await ensureCard(c);
    await api(`/api/cards/${id}/dismiss-emergency`, { method: "POST", body: { reason } });
    a.state = "dismissed";
    a.reason = reason;
    if (!c.dirty.has("emergency")) {
      state.combos.emergency.value = "none";
      c.form = readForm();
    }
  } catch (err) {
    toast(err.message, { error: true });
  }
  if (state.current === c.key) renderBanner(c);
  renderQueue();
  $("f-topic").focus();
}

// ---- keyboard and start-up ----------------------------------------------------------------

function onKey(e) {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    confirmCard();
    return;
  }
  if (!e.altKey || e.ctrlKey) return;
  const c = cur();
  const key = e.code;
  if (key === "KeyK") {
    e.preventDefault();
    $("f-topic").focus(); // back to the card from anywhere
    return;
  }
  if (key === "KeyT" && (c?.alert?.state === "active" || c?.alert?.state === "failed")) {
    e.preventDefault();
    transferEmergency(c);
  } else if (key === "KeyX" && (c?.alert?.state === "active" || c?.alert?.state === "failed")) {
    e.preventDefault();
    c.alert.state = "dismissing";
    renderBanner(c);
  } else if (key === "KeyN") {
    e.preventDefault();
    const next = visibleCalls().find((o) => o.key !== state.current && o.status === "draft");
    if (next) openCall(next.key, { focus: true });
  }
}

/** The model's choice and alternatives for a field, best first (listed first in its options). */
function proposedIds(name) {
  const p = cur()?.proposal;
  if (!p) return [];
  const ids = (p.alternatives?.[name] || []).map((a) => a.id);
  if (name === "district" && p.address?.district) ids.unshift(p.address.district);
  else if (p[name]) ids.unshift(p[name]);
  return [...new Set(ids)];
}

function buildForm() {
  const tax = state.tax;
  const mk = (name, kind, opts = {}) => {
    state.combos[name] = new Combobox($(`f-${name}`), {
      options: () => tax.options(kind),
      preferred: () => proposedIds(name),
      onCommit: () => onEdit(name),
      ...opts,
    });
  };
  mk("topic", "topics");
  mk("service", "services");
  mk("emergency", "emergency", { allowEmpty: false, showId: true });
  mk("district", "districts");
  const checks = $("also-checks");
  for (const e of tax.options("emergency")) {
    if (e.id === "none") continue;
    const id = `also-${e.id}`;
    checks.append(
      h("span", { class: "chk" }, h("input", { type: "checkbox", id, value: e.id, onchange: () => onEdit("emergency_also") }), h("label", { for: id, title: tax.name("emergency", e.id) }, e.id)),
    );
  }
  $("f-language").addEventListener("change", () => onEdit("language"));
  $("f-organisation").addEventListener("change", () => onEdit("organisation_id"));
  for (const f of TEXT_FIELDS) $(`f-${f}`).addEventListener("input", () => onEdit(f));
  $("card-form").addEventListener("submit", (e) => {
    e.preventDefault();
    confirmCard();
  });
}

async function main() {
  const user = await startPage({ page: "/desk", roles: EVERY_ROLE });
  if (!user) return;
  state.user = user;
  state.tax = await taxonomy();
  try {
    state.orgs = (await api("/api/organisations")).data || [];
  } catch (err) {
    toast(err.message, { error: true }); // the card is confirmed all the same: the routing rules decide
  }
  buildForm();
  document.addEventListener("keydown", onKey);
  window.addEventListener("langchange", () => {
    applyI18n(document);
    for (const combo of Object.values(state.combos)) combo.refresh();
    const c = cur();
    if (c) {
      renderCallHead(c);
      renderProposal(c);
      fillOrganisations(readForm().organisation_id);
      renderRouting(c);
      renderBanner(c);
      renderCardStatus(c);
      loadHistory(c);
    }
    renderQueue();
  });
  setInterval(tickClock, 1000);
  const box = $("transcript");
  box.addEventListener("scroll", () => {
    state.follow = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }, { passive: true });
  renderQueue();
  connect();
  window.__desk.ready = true;
}

main();
