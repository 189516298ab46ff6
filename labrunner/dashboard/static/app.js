// The class dashboard: draws the students x steps grid from server-sent events (no reload, no build step).
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const view = { meta: null, round: null, order: [], students: new Map(), selected: null };
const $ = (id) => document.getElementById(id);
const STATUS_NAMES = { pass: "pass", fail: "fail", pending: "pending", error: "error", skipped: "skipped",
  not_run: "not checked yet" };

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  if (text) node.textContent = text;
  return node;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

function stepResult(student, stepId) {
  const steps = student.report ? student.report.steps : [];
  return steps.find((s) => s.id === stepId) || null;
}

function statusOf(student, stepId) {
  const result = stepResult(student, stepId);
  return result ? result.status : "not_run";
}

// A student is stuck at the first step (catalogue order) that failed or errored.
function stuckAt(student) {
  if (student.error || !student.report) return null;
  const step = view.meta.steps.find((s) => ["fail", "error"].includes(statusOf(student, s.id)));
  return step ? step.id : null;
}

function labsOf(steps) {
  const labs = [];
  for (const step of steps) {
    const last = labs[labs.length - 1];
    if (last && last.lab === step.lab) last.count += 1;
    else labs.push({ lab: step.lab, count: 1 });
  }
  return labs;
}

function renderHead() {
  const head = $("grid").tHead;
  head.replaceChildren();
  const labs = el("tr");
  labs.append(el("th", { class: "student", rowspan: "2", scope: "col" }, "student"));
  for (const lab of labsOf(view.meta.steps)) labs.append(el("th", { class: "lab", colspan: String(lab.count) }, lab.lab));
  labs.append(el("th", { rowspan: "2", scope: "col" }, "progress"));
  const steps = el("tr");
  for (const step of view.meta.steps) {
    const controls = step.controls.map((c) => c.id).join(", ");
    const th = el("th", { class: "step", scope: "col", "data-step": step.id,
      title: `${step.id}: ${step.title}${controls ? ` (NIST ${controls})` : ""}` });
    th.append(el("span", {}, step.id.split(".").slice(1).join(".")));
    steps.append(th);
  }
  head.append(labs, steps);
}

function renderRow(student) {
  const tr = el("tr", { "data-student": student.name, "data-checked-at": student.checked_at || "" });
  if (student.checking) tr.classList.add("checking");
  const who = el("td", { class: "student" }, student.name);
  who.append(el("span", { class: "account" }, student.account || "—"));
  tr.append(who);
  const marks = view.meta.marks;
  if (student.error) {
    tr.classList.add("account-error-row");
    tr.append(el("td", { class: "account-error error", colspan: String(view.meta.steps.length) },
      `${marks.error} ${student.error}`));
    tr.append(el("td", { class: "progress error" }, "account error"));
    return tr;
  }
  for (const step of view.meta.steps) {
    const status = statusOf(student, step.id);
    const td = el("td", { class: `cell ${status}`, tabindex: "0", "data-step": step.id, "data-status": status,
      title: `${student.name} · ${step.id}: ${STATUS_NAMES[status]}` }, marks[status]);
    if (view.selected && view.selected.name === student.name && view.selected.step === step.id) td.classList.add("selected");
    td.addEventListener("click", () => select(student.name, step.id));
    td.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") select(student.name, step.id); });
    tr.append(td);
  }
  let progress = "not checked yet";
  if (student.report) {
    const passed = student.report.steps.filter((s) => s.status === "pass").length;
    progress = `${passed}/${student.report.steps.length} passed`;
  }
  if (student.checking) progress = `${marks.running} ${student.report ? `${progress} · checking` : "checking…"}`;
  tr.append(el("td", { class: "progress" }, progress));
  return tr;
}

function renderBody() {
  $("grid").tBodies[0].replaceChildren(...view.order.map((name) => renderRow(view.students.get(name))));
}

function renderStuck() {
  const stuck = new Map(view.meta.steps.map((s) => [s.id, []]));
  for (const name of view.order) {
    const at = stuckAt(view.students.get(name));
    if (at) stuck.get(at).push(name);
  }
  const foot = $("grid").tFoot;
  const tr = el("tr");
  tr.append(el("th", { scope: "row", class: "student" }, "stuck here"));
  for (const step of view.meta.steps) {
    const names = stuck.get(step.id);
    tr.append(el("td", { class: names.length ? "stuck-some" : "", "data-stuck": step.id, title: names.join(", ") },
      String(names.length)));
  }
  tr.append(el("td"));
  foot.replaceChildren(tr);

  const section = $("stuck");
  section.replaceChildren(el("h2", {}, "Who is stuck where"));
  const list = el("ul");
  for (const step of view.meta.steps) {
    const names = stuck.get(step.id);
    if (!names.length) continue;
    const li = el("li", { "data-stuck-step": step.id });
    li.append(el("strong", {}, `${step.id} — ${step.title}: `));
    li.append(document.createTextNode(`${names.length} (${names.join(", ")})`));
    list.append(li);
  }
  if (!list.children.length) list.append(el("li", {}, "nobody: no student has a failing step."));
  section.append(list);
}

function renderSummary() {
  const students = view.order.map((name) => view.students.get(name));
  const errors = students.filter((s) => s.error).length;
  const done = students.filter((s) => s.report && s.report.steps.every((r) => r.status === "pass")).length;
  const stuck = students.filter((s) => stuckAt(s)).length;
  const summary = $("summary");
  summary.replaceChildren(
    el("span", {}, `${students.length} students`),
    el("span", { class: "pass" }, `${view.meta.marks.pass} ${done} all passed`),
    el("span", { class: "fail" }, `${view.meta.marks.fail} ${stuck} stuck`),
    el("span", { class: "error" }, `${view.meta.marks.error} ${errors} account errors`),
  );
}

function renderRound() {
  const round = view.round;
  const status = $("round-status");
  status.className = "";
  const every = `every ${view.meta.interval_s} s, read-only (${view.meta.target})`;
  if (!round || round.number === 0) {
    status.textContent = `starting · ${every}`;
  } else if (round.running) {
    status.classList.add("running");
    status.textContent = `round ${round.number}: checking the class… · ${every}`;
  } else if (round.error) {
    status.classList.add("problem");
    status.textContent = `round ${round.number} failed: ${round.error} · ${every}`;
  } else {
    status.textContent = `checked ${clock(round.finished_at)} (took ${round.duration_s.toFixed(1)} s) · ${every}`;
  }
}

function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren();
  for (const status of ["pass", "fail", "pending", "error", "skipped", "not_run"]) {
    legend.append(el("span", { class: status }, `${view.meta.marks[status]} ${STATUS_NAMES[status]}`));
  }
  legend.append(document.createTextNode("Click a cell for the step's detail and hint."));
}

function renderDetail() {
  const aside = $("detail");
  if (!view.selected) {
    aside.hidden = true;
    return;
  }
  const student = view.students.get(view.selected.name);
  const step = view.meta.steps.find((s) => s.id === view.selected.step);
  const result = stepResult(student, step.id);
  const status = student.error ? "error" : result ? result.status : "not_run";
  $("detail-title").textContent = `${student.name} · ${step.id}: ${step.title}`;
  const statusLine = $("detail-status");
  statusLine.className = status;
  statusLine.textContent = `${view.meta.marks[status]} ${STATUS_NAMES[status]}` +
    (student.checked_at ? ` · checked ${clock(student.checked_at)}` : "");
  $("detail-controls").textContent = "NIST SP 800-53: " +
    (step.controls.map((c) => `${c.id} ${c.title}`).join("; ") || "—");
  const hint = student.error ? `The account could not be checked: ${student.error}` : result ? result.hint : "";
  $("detail-hint").textContent = hint || "—";
  $("detail-hint-box").hidden = !hint;
  const checks = $("detail-checks");
  checks.replaceChildren();
  for (const check of result ? result.checks : []) {
    const li = el("li", { class: check.passed ? "pass" : "fail" });
    li.append(el("strong", {}, `${check.passed ? view.meta.marks.pass : view.meta.marks.fail} ${check.name}`));
    if (check.detail) li.append(document.createTextNode(` — ${check.detail}`));
    if (check.hint && !check.passed && check.hint !== result.hint) li.append(el("span", { class: "check-hint" }, `hint: ${check.hint}`));
    checks.append(li);
  }
  if (!checks.children.length) checks.append(el("li", {}, "nothing yet"));
  $("detail-console").textContent = step.console || "—";
  aside.hidden = false;
}

function render() {
  if (!view.meta) return;
  renderBody();
  renderStuck();
  renderSummary();
  renderRound();
  renderDetail();
}

function select(name, stepId) {
  view.selected = { name, step: stepId };
  render();
}

$("detail-close").addEventListener("click", () => { view.selected = null; render(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") { view.selected = null; render(); } });

const events = new EventSource(`api/events?token=${encodeURIComponent(token)}`);
events.addEventListener("snapshot", (e) => {
  const data = JSON.parse(e.data);
  view.meta = data.meta;
  view.round = data.round;
  view.order = data.students.map((s) => s.name);
  view.students = new Map(data.students.map((s) => [s.name, s]));
  renderHead();
  renderLegend();
  render();
  document.body.dataset.round = String(view.round.number);
  document.body.dataset.connected = "yes";
});
events.addEventListener("student", (e) => {
  const student = JSON.parse(e.data);
  view.students.set(student.name, student);
  render();
});
events.addEventListener("round", (e) => {
  view.round = JSON.parse(e.data);
  renderRound();
  document.body.dataset.round = String(view.round.number);
  document.body.dataset.roundRunning = String(view.round.running);
});
events.addEventListener("error", () => {
  if (events.readyState !== EventSource.OPEN) {
    $("round-status").className = "problem";
    $("round-status").textContent = "lost the connection to labrunner: reconnecting…";
    document.body.dataset.connected = "no";
  }
});
