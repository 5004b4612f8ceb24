// Organisations and routing rules (admin): the tables, the organisations file in an editor (or uploaded),
// "Check" (a dry run: problems with their lines, the changes, the open cards that would move) and "Apply" (only
// after a clean check of exactly the text in the editor), and downloads of the current file. API: /api/directory.

import { api, ApiError, download } from "./api.js";
import { applyI18n, lang, t } from "./i18n.js";
import { h, startPage, statusBadge, taxonomy, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const ADMIN_ONLY = ["admin"]; // PAGE_ROLES["directory.html"] in api/web/pages.py
const MAX_BYTES = 1_000_000; // the API's body limit (Settings.max_body_bytes)

let tax = null;
let orgs = [];
let rules = [];
// The last check: what was checked (format and text), and the server's answer or its problems.
let checked = null;

const orgName = (o) => (o ? (lang() === "kk" ? o.name_kk : o.name_ru) : t("dir.nobody"));
const yesNo = (value) => (value ? t("dir.yes") : t("dir.no"));
const names = (kind, ids) => ids.map((id) => tax.name(kind, id)).join(", ");

function renderOrgs() {
  const body = $("orgs").querySelector("tbody");
  body.replaceChildren(
    ...orgs.map((o) =>
      h(
        "tr",
        { dataset: { code: o.code }, class: o.active ? undefined : "muted" },
        h("td", { class: "mono" }, o.code),
        h("td", { lang: "ru" }, o.name_ru),
        h("td", { lang: "kk" }, o.name_kk),
        h("td", {}, names("services", o.services)),
        h("td", { class: "mono" }, o.receives.join(", ")),
        h("td", { class: "active" }, o.active ? t("dir.yes") : t("dir.inactive")),
        h("td", { class: "rules" }, o.rules),
        h("td", {}, yesNo(o.webhook)),
      ),
    ),
  );
  $("orgs-empty").hidden = orgs.length > 0;
  const active = orgs.filter((o) => o.active).length;
  $("orgs-count").textContent = orgs.length ? t("dir.orgs.count", { n: orgs.length, active }) : "";
}

function conditions(r) {
  const parts = [];
  if (r.services.length) parts.push(`${t("dir.cond.services")}: ${names("services", r.services)}`);
  if (r.topics.length) parts.push(`${t("dir.cond.topics")}: ${names("topics", r.topics)}`);
  if (r.districts.length) parts.push(`${t("dir.cond.districts")}: ${names("districts", r.districts)}`);
  if (r.street) parts.push(`${t("dir.cond.street")}: ${r.street}`);
  if (r.houses.length) parts.push(`${t("dir.cond.houses")}: ${r.houses.join(", ")}`);
  if (r.object) parts.push(`${t("dir.cond.object")}: ${r.object}`);
  return parts.join("; ");
}

function renderRules() {
  $("rules").querySelector("tbody").replaceChildren(
    ...rules.map((r) =>
      h(
        "tr",
        { dataset: { code: r.code }, class: r.active ? undefined : "muted" },
        h("td", {}, r.position),
        h("td", { class: "mono", title: r.note || "" }, r.code),
        h("td", {}, conditions(r)),
        h("td", { class: "org", dataset: { org: r.organisation.code } }, orgName(r.organisation)),
        h("td", {}, r.fallback ? t("dir.yes") : ""),
        h("td", {}, r.active ? t("dir.yes") : t("dir.inactive")),
      ),
    ),
  );
}

async function loadTables() {
  const [o, r] = await Promise.all([api("/api/directory/organisations"), api("/api/directory/rules")]);
  orgs = o.data;
  rules = r.data;
  renderOrgs();
  renderRules();
}

async function loadText(fmt = $("dir-format").value) {
  const res = await api("/api/directory", { query: { format: fmt }, raw: true });
  $("dir-format").value = fmt;
  $("dir-text").value = await res.text();
  forget();
}

/** The editor's text no longer matches the last check: Apply waits for a new one. */
function forget() {
  checked = null;
  $("dir-apply").disabled = true;
  renderResult();
}

function clean() {
  return checked && checked.report && checked.format === $("dir-format").value && checked.text === $("dir-text").value;
}

function renderProblems(box, problems) {
  box.replaceChildren(
    h("p", {}, h("strong", {}, t("dir.problems", { n: problems.length }))),
    h(
      "ol",
      { id: "problem-list" },
      problems.map((p) =>
        h("li", { dataset: { line: p.line ?? "" } }, p.line ? `${t("dir.problem.line", { line: p.line })} · ` : "", p.message),
      ),
    ),
  );
}

function renderChanges(box, report) {
  const oc = report.organisation_changes;
  const rc = report.rule_changes;
  box.replaceChildren(
    h("h3", {}, t("dir.changes")),
    ...(report.changes.length
      ? [
          h("p", {}, t("dir.summary.orgs", oc), " ", t("dir.summary.rules", rc)),
          h(
            "ul",
            { id: "change-list" },
            report.changes.map((c) =>
              h(
                "li",
                { dataset: { code: c.code, action: c.action } },
                `${t(`dir.entity.${c.entity}`)} `,
                h("span", { class: "mono" }, c.code),
                `: ${t(`dir.action.${c.action}`)}`,
                c.fields.length ? ` (${c.fields.join(", ")})` : "",
              ),
            ),
          ),
        ]
      : [h("p", {}, t("dir.nochanges"))]),
  );
}

function renderMoves(box, report) {
  if (!report.moves.length) {
    box.replaceChildren(h("h3", {}, t("dir.moves")), h("p", { id: "no-moves" }, t("dir.moves.none")));
    return;
  }
  box.replaceChildren(
    h("h3", {}, t("dir.moves")),
    h("p", { class: "muted" }, t("dir.moves.help")),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "grid", id: "moves" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["dir.col.card", "dir.col.status", "dir.col.from", "dir.col.to", "dir.col.reason"].map((key) => h("th", { scope: "col" }, t(key))),
          ),
        ),
        h(
          "tbody",
          {},
          report.moves.map((m) =>
            h(
              "tr",
              { dataset: { card: m.card_id } },
              h("td", { class: "mono" }, m.reg_number || `#${m.card_id}`),
              h("td", {}, m.status ? statusBadge(m.status) : ""),
              h("td", { class: "from" }, orgName(m.from_organisation)),
              h("td", { class: "to" }, orgName(m.to_organisation)),
              h("td", {}, m.reason),
            ),
          ),
        ),
      ),
    ),
  );
}

function renderResult() {
  const status = $("dir-status");
  const problems = $("dir-problems");
  const changes = $("dir-changes");
  const moves = $("dir-moves");
  problems.hidden = changes.hidden = moves.hidden = true;
  if (!checked) {
    status.textContent = t("dir.unchecked");
    return;
  }
  if (checked.problems) {
    status.textContent = "";
    renderProblems(problems, checked.problems);
    problems.hidden = false;
    return;
  }
  const report = checked.report;
  const key = report.applied ? "dir.applied" : "dir.clean";
  status.textContent = t(key, { orgs: report.organisations, rules: report.rules });
  if (!report.applied && !clean()) status.textContent += ` ${t("dir.stale")}`;
  renderChanges(changes, report);
  renderMoves(moves, report);
  changes.hidden = moves.hidden = false;
}

function body() {
  return { format: $("dir-format").value, text: $("dir-text").value };
}

function tooLarge(text) {
  return new Blob([text]).size > MAX_BYTES;
}

/** An answer that refused the file: its problems (422 from the validator), or one sentence of the API's. */
function refusal(err) {
  if (err instanceof ApiError && err.status === 422 && Array.isArray(err.body?.problems)) return err.body.problems;
  if (err instanceof ApiError && err.status === 413) return [{ line: null, message: `${t("dir.too_large")} ${err.detail}` }];
  if (err instanceof ApiError && err.status === 422) return [{ line: null, message: err.detail }];
  return null;
}

async function check(event) {
  event?.preventDefault();
  const sent = body();
  if (tooLarge(sent.text)) {
    checked = { ...sent, problems: [{ line: null, message: t("dir.too_large") }] };
    renderResult();
    return;
  }
  const button = $("dir-check");
  button.disabled = true;
  $("dir-status").textContent = t("dir.checking");
  try {
    const report = await api("/api/directory", { method: "POST", query: { dry_run: "true" }, body: sent });
    checked = { ...sent, report };
  } catch (err) {
    const problems = refusal(err);
    if (!problems) {
      checked = null;
      toast(err.message, { error: true });
    } else {
      checked = { ...sent, problems };
    }
  } finally {
    button.disabled = false;
  }
  $("dir-apply").disabled = !clean();
  renderResult();
  $("result").scrollIntoView({ block: "start" });
}

async function apply() {
  if (!clean()) return;
  const button = $("dir-apply");
  button.disabled = true;
  $("dir-status").textContent = t("dir.applying");
  const sent = { ...body(), base: checked.report.base };
  try {
    const report = await api("/api/directory", { method: "POST", query: { dry_run: "false" }, body: sent });
    await loadTables();
    await loadText(sent.format);
    checked = { ...sent, text: $("dir-text").value, report };
    toast(t("dir.applied", { orgs: report.organisations, rules: report.rules }));
  } catch (err) {
    const problems = refusal(err);
    checked = problems ? { ...sent, problems } : null;
    toast(err.message, { error: true });
  }
  $("dir-apply").disabled = true;
  renderResult();
}

async function upload() {
  const file = $("dir-file").files[0];
  if (!file) return;
  if (file.size > MAX_BYTES) {
    toast(t("dir.too_large"), { error: true });
    return;
  }
  try {
    $("dir-text").value = await file.text();
  } catch (err) {
    toast(t("dir.read_failed", { error: err.message }), { error: true });
    return;
  }
  $("dir-format").value = file.name.toLowerCase().endsWith(".csv") ? "csv" : "yaml";
  forget();
}

async function main() {
  const user = await startPage({ page: "/admin/directory", roles: ADMIN_ONLY });
  if (!user) return;
  tax = await taxonomy();
  $("editor").addEventListener("submit", check);
  $("dir-apply").addEventListener("click", apply);
  $("dir-text").addEventListener("input", () => {
    $("dir-apply").disabled = !clean();
    renderResult();
  });
  $("dir-format").addEventListener("change", () => {
    $("dir-apply").disabled = !clean();
    renderResult();
  });
  $("dir-file").addEventListener("change", upload);
  $("dir-reload").addEventListener("click", () => loadText().catch((err) => toast(err.message, { error: true })));
  $("download-yaml").addEventListener("click", () => download("/api/directory?format=yaml", "organisations.yaml"));
  $("download-csv").addEventListener("click", () => download("/api/directory?format=csv", "organisations.csv"));
  window.addEventListener("langchange", () => {
    applyI18n(document);
    renderOrgs();
    renderRules();
    renderResult();
  });
  try {
    await Promise.all([loadTables(), loadText("yaml")]);
  } catch (err) {
    toast(err.message, { error: true });
  }
  window.__directory = { ready: true };
}

main();
