// An organisation's inbox: its cards with what the caller said and the due date; the executor accepts a card,
// starts it, reports it done (what was done, optional photos), returns it as "not ours" or adds a note.

import { api, ApiError, token } from "./api.js";
import { applyI18n, fmtDateTime, lang, t } from "./i18n.js";
import { h, INBOX_ROLES, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const STATUSES = ["routed", "accepted", "in_progress", "resolved", "closed", "returned"];
const OPEN = ["routed", "accepted", "in_progress"];
const LATE = ["overdue", "reminded", "escalated"];
// Which steps each status offers (models/repo/cards.py TRANSITIONS); done, return and note ask for a comment.
const STEPS = [
  ["accept", ["routed"]],
  ["start", ["routed", "accepted"]],
  ["done", OPEN],
  ["return", OPEN],
  ["note", [...OPEN, "returned", "resolved"]],
];
const WITH_COMMENT = new Set(["done", "return", "note"]);
const REFRESH_MS = 30_000;

let user = null;
let tax = null;
let items = [];
let open = null; // {id, step}: the step form shown, kept across reloads
let busy = false;

/** The card's deadline as its organisation should read it: "overdue", "due_soon" or "" (on time, or finished). */
function lateness(card, now = Date.now()) {
  if (!OPEN.includes(card.status)) return "";
  if (LATE.includes(card.deadline_stage) || (card.due_at && new Date(card.due_at).getTime() < now)) return "overdue";
  return card.deadline_stage === "due_soon" ? "due_soon" : "";
}

function address(a) {
  if (!a) return "";
  const district = a.district ? tax.name("districts", a.district) : "";
  return [district, a.street, a.house, a.building && `${a.building}`, a.apartment && `кв. ${a.apartment}`, a.landmark]
    .filter(Boolean)
    .join(", ");
}

/** A sentence in the UI language for a refused request (409/422/404), else the server's own. */
function explain(err) {
  if (!(err instanceof ApiError)) return t("error.generic");
  if (err.status === 409) return t("inbox.err.409");
  if (err.status === 404) return t("inbox.err.404");
  if (err.status === 422) return t("inbox.err.422", { detail: err.detail });
  return err.detail || t("error.generic");
}

function stepForm(card, step) {
  const id = `c-${card.id}`;
  const area = h("textarea", { id, name: "comment", rows: 3, required: true, maxlength: 5000 });
  const problem = h("p", { class: "problem", id: `${id}-problem`, role: "alert", hidden: true });
  const parts = [h("label", { for: id }, t(`inbox.${step}.label`)), area];
  let files = null;
  if (step === "done") {
    files = h("input", { id: `p-${card.id}`, name: "photos", type: "file", accept: "image/jpeg,image/png,image/webp", multiple: true });
    parts.push(h("label", { for: `p-${card.id}` }, t("inbox.photos.label")), files);
  }
  const form = h(
    "form",
    { class: "step", dataset: { step }, novalidate: true },
    ...parts,
    problem,
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("inbox.send")),
      h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => { open = null; render(); } }, t("inbox.cancel")),
    ),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = area.value.trim();
    if (!text) {
      problem.textContent = t(`inbox.need.${step}`);
      problem.hidden = false;
      area.setAttribute("aria-invalid", "true");
      area.setAttribute("aria-describedby", problem.id);
      area.focus();
      return;
    }
    perform(card, step, text, files ? [...files.files] : []);
  });
  return form;
}

function cardView(card) {
  const late = lateness(card);
  const topic = tax.name("topics", card.topic);
  const service = tax.name("services", card.service);
  const facts = [];
  const addr = address(card.address);
  if (addr) facts.push(h("dt", {}, t("inbox.address")), h("dd", { class: "addr" }, addr));
  if (card.summary) facts.push(h("dt", {}, t("inbox.summary")), h("dd", { class: "summary" }, card.summary));
  if (card.status_notes) facts.push(h("dt", {}, t("inbox.notes")), h("dd", { class: "notes" }, card.status_notes));
  const photos = (card.photos || []).map((p, i) =>
    h("a", { href: `/api/inbox/${card.id}/photos/${p.id}`, target: "_blank", rel: "noopener" },
      h("img", { src: `/api/inbox/${card.id}/photos/${p.id}`, alt: t("inbox.photo", { n: i + 1 }), loading: "lazy" })),
  );
  const acts = [];
  if (user.role === "executor") {
    for (const [step, from] of STEPS) {
      if (!from.includes(card.status)) continue;
      acts.push(
        h(
          "button",
          {
            type: "button",
            class: `btn btn-sm${step === "done" ? " btn-primary" : ""}`,
            dataset: { step },
            disabled: busy,
            onclick: () => (WITH_COMMENT.has(step) ? showForm(card, step) : perform(card, step, null, [])),
          },
          t(`inbox.${step}`),
        ),
      );
    }
  }
  return h(
    "article",
    {
      class: `panel icard${late === "overdue" ? " late" : ""}`,
      id: `card-${card.id}`,
      dataset: { id: card.id, reg: card.reg_number || "", status: card.status },
      "aria-labelledby": `reg-${card.id}`,
    },
    h(
      "div",
      { class: "head" },
      h("h2", { class: "reg", id: `reg-${card.id}` }, card.reg_number || `#${card.id}`),
      statusBadge(card.status),
      card.priority === "urgent" ? h("span", { class: "badge urgent" }, t("inbox.urgent")) : null,
      late ? h("span", { class: `badge ${late} deadline` }, t(`inbox.${late}`)) : null,
    ),
    h("div", { class: "what" }, h("span", { class: "topic" }, topic), service ? " · " : "", h("span", { class: "service" }, service)),
    card.due_at ? h("div", { class: "due" }, t("inbox.due", { time: fmtDateTime(card.due_at) })) : null,
    facts.length ? h("dl", {}, ...facts) : null,
    card.excerpt ? h("figure", { class: "said" }, h("figcaption", { class: "muted" }, t("inbox.excerpt")), h("blockquote", { class: "excerpt", lang: card.language === "kk" ? "kk" : card.language === "ru" ? "ru" : undefined }, card.excerpt)) : null,
    photos.length ? h("div", { class: "photos", "aria-label": t("inbox.photos") }, ...photos) : null,
    acts.length ? h("div", { class: "acts" }, ...acts) : null,
    open && open.id === card.id ? stepForm(card, open.step) : null,
  );
}

function showForm(card, step) {
  open = { id: card.id, step };
  render();
  document.getElementById(`c-${card.id}`)?.focus();
}

function render() {
  const list = $("cards");
  list.replaceChildren(...items.map(cardView));
  $("empty").hidden = items.length > 0;
}

async function uploadPhoto(cardId, file) {
  const body = new FormData();
  body.append("photo", file, file.name);
  let res;
  try {
    res = await fetch(`/api/inbox/${cardId}/photos`, { method: "POST", headers: { Authorization: `Bearer ${token()}` }, body });
  } catch {
    throw new Error(t("error.network"));
  }
  if (res.ok) return;
  if (res.status === 413) throw new Error(t("inbox.err.photo_big", { name: file.name }));
  if (res.status === 422) throw new Error(t("inbox.err.photo_kind", { name: file.name }));
  let detail = t("error.generic");
  try {
    detail = (await res.json()).detail || detail;
  } catch {
    /* not JSON */
  }
  throw new ApiError(res.status, detail);
}

async function perform(card, step, comment, files) {
  if (busy) return;
  busy = true;
  render();
  try {
    for (const file of files) await uploadPhoto(card.id, file);
    const body = { version: card.version };
    if (comment) body.comment = comment;
    await api(`/api/inbox/${card.id}/${step}`, { method: "POST", body });
    open = null;
    toast(t(`inbox.ok.${step}`, { reg: card.reg_number || `#${card.id}` }));
  } catch (err) {
    toast(err instanceof ApiError ? explain(err) : err.message, { error: true });
    if (err instanceof ApiError && err.status !== 409 && err.status !== 404) {
      busy = false;
      render();
      return; // keep the form and what was typed
    }
    open = null;
  } finally {
    busy = false;
  }
  await load();
}

function fillStatuses() {
  const select = $("f-status");
  const keep = select.value;
  select.replaceChildren(h("option", { value: "" }, t("inbox.any")), ...STATUSES.map((s) => h("option", { value: s }, t(`status.${s}`))));
  select.value = keep;
}

async function load() {
  const query = { status: $("f-status").value, limit: 200 };
  if ($("f-overdue").checked) query.overdue = "true";
  try {
    const data = await api("/api/inbox", { query });
    items = data.data || [];
    $("count").textContent = t("inbox.count", { n: data.count });
    const org = items.find((c) => c.organisation)?.organisation;
    $("org-name").textContent = user.role === "executor" && org ? (lang() === "kk" ? org.name_kk : org.name_ru) : "";
    render();
  } catch (err) {
    toast(explain(err), { error: true });
  }
}

async function main() {
  user = await startPage({ page: "/inbox", roles: INBOX_ROLES });
  if (!user) return;
  tax = await taxonomy();
  if (user.role === "executor" && !user.organisation_id) $("no-org").hidden = false;
  fillStatuses();
  $("f-status").addEventListener("change", load);
  $("f-overdue").addEventListener("change", load);
  window.addEventListener("langchange", () => {
    applyI18n(document);
    fillStatuses();
    load();
  });
  await load();
  setInterval(() => { if (!open && !busy) load(); }, REFRESH_MS);
  window.__inbox = { ready: true, load };
}

main();
