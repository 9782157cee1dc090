// opgrid UI: live updates (server-sent events), run actions, the launchpad.
// Plain browser JavaScript, no library. Every POST carries the CSRF token of the page.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Opgrid-CSRF": csrf() },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { ok: false, error: response.statusText }; }
  return data;
}

// Runs page: the table follows its filter live.
function liveRuns() {
  const table = document.querySelector("table.runs[data-live]");
  if (!table) return;
  const source = new EventSource(table.dataset.live);
  source.addEventListener("runs", (e) => {
    const data = JSON.parse(e.data);
    document.getElementById("run-rows").innerHTML = data.html;
  });
}

// Run page: new events, step colours, timeline, status; buttons.
function applyEventFilter() {
  const step = document.getElementById("f-step");
  if (!step) return;
  const kind = document.getElementById("f-kind").value;
  const level = document.getElementById("f-level").value;
  document.querySelectorAll("#event-rows tr").forEach((row) => {
    const show = (!step.value || row.dataset.step.startsWith(step.value)) &&
      (!kind || row.dataset.kind === kind) && (!level || row.dataset.level === level);
    row.classList.toggle("hidden", !show);
  });
}

function setStatuses(statuses) {
  document.querySelectorAll("#step-graph g.node").forEach((node) => {
    const status = statuses[node.dataset.key];
    if (!status) return;
    node.setAttribute("class", "node step " + status);
    const title = node.querySelector("title");
    if (title) title.textContent = node.dataset.key + " — " + status;
  });
}

function setButtons(status) {
  const ended = ["success", "failure", "canceled"].includes(status);
  const byId = (id) => document.getElementById(id);
  if (byId("cancel")) byId("cancel").disabled = ended;
  if (byId("reexecute-all")) byId("reexecute-all").disabled = !ended;
  if (byId("reexecute-failure")) byId("reexecute-failure").disabled = !(status === "failure" || status === "canceled");
}

function liveRun() {
  const run = document.getElementById("run");
  if (!run) return;
  ["f-step", "f-kind", "f-level"].forEach((id) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener("change", applyEventFilter);
  });
  document.querySelectorAll("button[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
      const data = await post(button.dataset.action, body);
      const out = document.getElementById("action-result");
      if (data.ok && data.url) { window.location.href = data.url; return; }
      out.textContent = data.ok ? "Cancel requested." : "Refused: " + data.error;
      out.className = data.ok ? "ok" : "error";
    });
  });
  if (["success", "failure", "canceled"].includes(run.dataset.status)) return;
  const source = new EventSource("/live/runs/" + run.dataset.run + "?cursor=" + run.dataset.cursor);
  source.addEventListener("update", (e) => {
    const data = JSON.parse(e.data);
    const rows = document.getElementById("event-rows");
    rows.insertAdjacentHTML("beforeend", data.events);
    run.dataset.cursor = data.cursor;
    run.dataset.status = data.status;
    document.getElementById("run-status").innerHTML =
      '<span class="badge ' + data.status + '">' + data.status + "</span>";
    document.getElementById("gantt").innerHTML = data.gantt;
    if (data.outputs !== null) document.getElementById("outputs").innerHTML = data.outputs;
    document.getElementById("step-counts").innerHTML = data.counts;
    document.getElementById("run-duration").textContent = data.duration;
    setStatuses(data.statuses);
    setButtons(data.status);
    applyEventFilter();
  });
  source.addEventListener("ended", () => { source.close(); setTimeout(() => window.location.reload(), 300); });
}

// Cluster page.
function liveCluster() {
  const box = document.querySelector("#cluster[data-live]");
  if (!box) return;
  const source = new EventSource(box.dataset.live);
  source.addEventListener("cluster", (e) => { box.innerHTML = JSON.parse(e.data).html; });
}

// Launchpad: validate while typing, launch.
function parseTags(text) {
  const tags = {};
  text.split("\n").forEach((line) => {
    const at = line.indexOf("=");
    if (at > 0) tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return tags;
}

function showErrors(errors) {
  const list = document.getElementById("config-errors");
  list.innerHTML = "";
  errors.forEach((err) => {
    const item = document.createElement("li");
    const path = document.createElement("code");
    path.textContent = err.path;
    item.appendChild(path);
    item.appendChild(document.createTextNode(" " + err.message));
    list.appendChild(item);
  });
  document.getElementById("config-ok").textContent = errors.length ? "" : "Config is valid.";
}

function launchpad() {
  const pad = document.getElementById("launchpad");
  if (!pad) return;
  const editor = document.getElementById("config");
  const partition = () => { const p = document.getElementById("partition"); return p ? p.value : null; };
  const request = () => ({ job: pad.dataset.job, location: pad.dataset.location, config: editor.value,
    partition: partition(), tags: parseTags(document.getElementById("tags").value) });
  let timer = null;
  const check = async () => {
    const data = await post("/api/validate", request());
    showErrors(data.errors || []);
  };
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
  const picker = document.getElementById("partition");
  if (picker) picker.addEventListener("change", check);
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Tab") {
      e.preventDefault();
      const at = editor.selectionStart;
      editor.setRangeText("  ", at, editor.selectionEnd, "end");
    }
  });
  document.getElementById("launch").addEventListener("click", async () => {
    const out = document.getElementById("launch-result");
    const data = await post("/api/launch", request());
    if (data.ok) { window.location.href = data.url; return; }
    out.textContent = data.error.split("\n")[0];
    out.className = "error";
    showErrors(data.errors || []);
  });
  check();
}

// Runs filter: a local date-time becomes epoch seconds.
function runsFilter() {
  const form = document.querySelector("form.filters[action='/runs']");
  if (!form) return;
  form.addEventListener("submit", () => {
    const local = form.querySelector("[name=after_local]");
    const after = form.querySelector("[name=after]");
    after.value = local.value ? String(new Date(local.value).getTime() / 1000) : "";
    form.querySelectorAll("input").forEach((input) => { if (!input.value) input.disabled = true; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveRuns(); liveRun(); liveCluster(); launchpad(); runsFilter();
});

// Schedules, sensors, backfills: Start/Stop/Cancel buttons post, then the page reloads.
function postButtons() {
  document.querySelectorAll("button[data-post]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const data = await post(button.dataset.post, {});
      if (data.ok) { window.location.reload(); return; }
      const out = document.getElementById("action-result");
      if (out) { out.textContent = "Refused: " + data.error; out.className = "error"; }
      button.disabled = false;
    });
  });
}
document.addEventListener("DOMContentLoaded", postButtons);
