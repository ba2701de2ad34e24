// The rayflow web UI: plain JavaScript over the UI server's JSON API (/api/...), no build step.
// Pages are hash routes (#/workflows, #/workflow?id=..., #/task-queues?name=..., #/service), rendered
// with DOM calls (never innerHTML with data), so workflow ids and payloads cannot inject markup.
"use strict";

const KEY_STORAGE = "rayflow.apiKey";
const NS_STORAGE = "rayflow.namespace";
const STATUSES = ["Running", "Completed", "Failed", "Canceled", "Terminated", "ContinuedAsNew", "TimedOut"];
const CLOSED = new Set(STATUSES.filter((s) => s !== "Running"));
let refreshTimer = null;

// -- DOM helpers ----------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style") Object.assign(el.style, v);  // CSSOM: the CSP allows no inline style attributes
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const main = () => document.getElementById("main");
// replaceChildren that flattens arrays and skips null/false, as h() does.
function put(el, ...nodes) {
  el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}
function show(...nodes) { put(main(), ...nodes); }

function link(route, params, ...children) { return h("a", { href: routeHref(route, params) }, ...children); }
function routeHref(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  const s = q.toString();
  return "#/" + route + (s ? "?" + s : "");
}
function badge(status) { return h("span", { class: "badge s-" + status, "data-status": status }, status); }
function mono(text, title) { return h("span", { class: "mono", title: title || text }, text); }
function shortId(id) { return id && id.length > 13 ? id.slice(0, 8) + "…" : id; }

function table(headers, rows, attrs) {
  return h("div", { class: "table" }, h("table", attrs || {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "None")))));
}
function kv(label, ...value) { return h("div", { class: "kv" }, h("span", {}, label), h("span", {}, ...value)); }

// -- time -----------------------------------------------------------------------------------
function relative(iso) {
  if (!iso) return "";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  const abs = Math.abs(seconds);
  const text = abs < 1 ? "now" : abs < 60 ? `${Math.round(abs)}s` : abs < 3600 ? `${Math.round(abs / 60)}m`
    : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`;
  return text === "now" ? text : seconds >= 0 ? text + " ago" : "in " + text;
}
function exact(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").replace("Z", " UTC") : ""; }
function when(iso) { return iso ? h("time", { datetime: iso, title: exact(iso) }, relative(iso)) : h("span", { class: "muted" }, "—"); }
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.round((seconds % 3600) / 60)}m`;
}
function gpus(ids) {
  return ids && ids.length ? (ids.length === 1 ? "GPU " : "GPUs ") + ids.join(", ") : h("span", { class: "muted" }, "none");
}
function bytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
  return n + " B";
}

// -- the API --------------------------------------------------------------------------------
class AuthNeeded extends Error {}
function namespace() { return sessionStorage.getItem(NS_STORAGE) || "default"; }

async function api(path, body) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const url = path + (path.includes("?") ? "&" : "?") + "namespace=" + encodeURIComponent(namespace());
  const response = await fetch(url, { method: body === undefined ? "GET" : "POST", headers,
                                      body: body === undefined ? undefined : JSON.stringify(body) });
  let data;
  try { data = await response.json(); } catch { data = { error: `${response.status} ${response.statusText}` }; }
  if (response.status === 401) { askForKey(data.error, Boolean(key)); throw new AuthNeeded(data.error); }
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function askForKey(message, hadKey) {
  stopRefresh();
  const input = h("input", { type: "password", id: "api-key", placeholder: "API key", autocomplete: "off" });
  show(h("div", { class: "card keybox", id: "keybox" },
    h("h1", {}, "API key required"),
    h("p", {}, "This rayflow frontend requires an API key. It is kept in this browser tab only (sessionStorage) ",
      "and sent to the UI server with each request."),
    hadKey ? h("p", { class: "error", id: "key-error" }, "The API key was refused: ", message) : h("p", { class: "muted" }, message),
    h("form", { onsubmit: (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      sessionStorage.setItem(KEY_STORAGE, input.value.trim());
      renderKeyState();
      route();
    } }, input, h("button", { class: "primary", type: "submit" }, "Use key"))));
  input.focus();
}

function renderKeyState() {
  const el = document.getElementById("keystate");
  el.replaceChildren();
  if (sessionStorage.getItem(KEY_STORAGE)) {
    el.append("API key set", h("a", { href: "#", onclick: (e) => {
      e.preventDefault(); sessionStorage.removeItem(KEY_STORAGE); renderKeyState(); route();
    } }, "forget"));
  }
}

function toast(message, bad) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function failed(err) {
  if (err instanceof AuthNeeded) return;
  show(h("p", { class: "error" }, String(err.message || err)));
}

// -- dialogs --------------------------------------------------------------------------------
// One <dialog>: a form step (optional), then the confirmation step; resolves with the form's values or null.
function dialog({ title, fields = [], confirm, danger, describe }) {
  const dlg = document.getElementById("dialog");
  const form = document.getElementById("dialog-form");
  return new Promise((resolve) => {
    const inputs = {};
    const errorLine = h("div", { class: "field-error" });
    const close = (value) => { dlg.close(); resolve(value); };
    const confirmStep = (values) => {
      put(form, h("h3", {}, "Confirm: " + title), h("p", { id: "confirm-text" }, describe(values)),
        h("div", { class: "buttons" },
          fields.length ? h("button", { type: "button", onclick: () => formStep() }, "Back")
            : h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
          h("button", { type: "button", id: "confirm", class: danger ? "danger" : "primary",
                        onclick: () => close(values) }, confirm)));
      form.querySelector("#confirm").focus();
    };
    const formStep = () => {
      put(form, h("h3", {}, title),
        fields.map((f) => {
          inputs[f.name] = inputs[f.name] || h(f.multiline ? "textarea" : "input",
            { name: f.name, id: "field-" + f.name, class: "mono", placeholder: f.placeholder || "", rows: 4,
              spellcheck: "false" });
          return [h("label", { for: "field-" + f.name }, f.label), inputs[f.name]];
        }), errorLine,
        h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => close(null) }, "Cancel"),
          h("button", { type: "submit", id: "next", class: "primary" }, "Next…")));
      form.onsubmit = (e) => {
        e.preventDefault();
        const values = {};
        try {
          for (const f of fields) values[f.name] = f.parse ? f.parse(inputs[f.name].value) : inputs[f.name].value;
        } catch (err) { errorLine.textContent = err.message; return; }
        errorLine.textContent = "";
        confirmStep(values);
      };
      (Object.values(inputs)[0] || form).focus();
    };
    dlg.oncancel = () => resolve(null);
    if (fields.length) formStep(); else confirmStep({});
    if (!dlg.open) dlg.showModal();
  });
}

// -- Workflows ------------------------------------------------------------------------------
function withStatus(query, status) {
  const terms = query.split(/\s+and\s+/i).map((t) => t.trim()).filter((t) => t && !/^executionstatus\s*=/i.test(t));
  if (status) terms.push(`ExecutionStatus='${status}'`);
  return terms.join(" AND ");
}

async function workflowsPage(params) {
  const query = params.get("query") || "";
  const token = params.get("page") || "";
  const pageSize = params.get("size") || "50";
  const back = params.get("back") || "";
  const input = h("input", { id: "query", class: "mono", value: query, spellcheck: "false",
    placeholder: "WorkflowType='Greeting' AND ExecutionStatus='Running' AND TaskQueue='q'" });
  const head = [h("h1", {}, "Workflows"),
    h("form", { class: "query", onsubmit: (e) => { e.preventDefault(); location.hash = routeHref("workflows", { query: input.value.trim() }); } },
      input, h("button", { class: "primary", type: "submit" }, "Search"),
      h("button", { type: "button", onclick: () => { location.hash = routeHref("workflows", {}); } }, "Clear"))];
  show(...head, h("p", { class: "muted" }, "Loading…"));
  const data = await api(`/api/workflows?query=${encodeURIComponent(query)}&page_size=${pageSize}` +
                         (token ? `&next_page_token=${encodeURIComponent(token)}` : ""));
  const current = (query.match(/executionstatus\s*=\s*['"](\w+)['"]/i) || [])[1] || "";
  const chips = h("div", { class: "chips", id: "counts" },
    h("a", { class: "chip" + (current ? "" : " on"), href: routeHref("workflows", { query: withStatus(query, "") }) },
      "All", h("b", {}, data.total)),
    STATUSES.map((s) => h("a", { class: "chip" + (current.toLowerCase() === s.toLowerCase() ? " on" : ""),
      href: routeHref("workflows", { query: withStatus(query, s) }), "data-count": s },
      h("span", { class: "dot s-" + s }), s, h("b", {}, data.counts[s] || 0))));
  const rows = data.executions.map((w) => h("tr", { "data-workflow-id": w.workflow_id },
    h("td", {}, badge(w.status)),
    h("td", {}, link("workflow", { id: w.workflow_id, run: w.run_id }, mono(w.workflow_id))),
    h("td", {}, mono(shortId(w.run_id), w.run_id)),
    h("td", {}, w.workflow_type),
    h("td", {}, link("task-queues", { name: w.task_queue }, w.task_queue)),
    h("td", {}, when(w.start_time)),
    h("td", {}, when(w.close_time)),
    h("td", {}, w.history_length || 0)));
  const backStack = back ? back.split(",") : [];
  const pager = h("div", { class: "pager" },
    h("button", { disabled: !token, onclick: () => {
      const prev = backStack.slice(0, -1);
      location.hash = routeHref("workflows", { query, size: pageSize, page: backStack[backStack.length - 1] || "",
                                               back: prev.join(",") });
    } }, "← Previous"),
    h("button", { id: "next-page", disabled: !data.next_page_token, onclick: () => {
      location.hash = routeHref("workflows", { query, size: pageSize, page: data.next_page_token,
                                               back: [...backStack, token].join(",") });
    } }, "Next →"),
    h("span", { class: "muted" }, `${data.executions.length} shown · page size `),
    h("select", { onchange: (e) => { location.hash = routeHref("workflows", { query, size: e.target.value }); } },
      ["25", "50", "100", "200"].map((n) => h("option", { value: n, selected: n === pageSize }, n))),
    h("button", { onclick: () => route() }, "Refresh"));
  show(...head, chips,
    table(["Status", "Workflow ID", "Run ID", "Type", "Task queue", "Started", "Closed", "Events"], rows,
          { id: "workflows" }), pager);
}

// -- A workflow -----------------------------------------------------------------------------
function payloadView(payloads, id) {
  if (payloads === null || payloads === undefined) return h("p", { class: "muted", id }, "—");
  if (!payloads.length) return h("pre", { id }, "(no arguments)");
  const decoded = payloads.every((p) => "value" in p);
  if (decoded) {
    const values = payloads.map((p) => p.value);
    return h("pre", { id }, JSON.stringify(values.length === 1 ? values[0] : values, null, 2));
  }
  return h("div", { id }, payloads.map((p) => "value" in p ? h("pre", {}, JSON.stringify(p.value, null, 2)) : h("div", {},
    h("p", { class: "muted" }, `Encoded (${p.encoding || "no encoding"}, ${bytes(p.size)}): this page has no codec for it.`),
    h("pre", {}, "metadata " + JSON.stringify(p.metadata) + "\n" + p.data_base64 + (p.truncated ? "…" : "")))));
}

function failureText(f) {
  if (!f) return "";
  const parts = [];
  for (let x = f; x; x = x.cause) parts.push((x.application_failure_info && x.application_failure_info.type ? x.application_failure_info.type + ": " : "") + (x.message || ""));
  return parts.join("\n  caused by ");
}

const KEY_ATTRIBUTES = ["workflow_type", "activity_type", "activity_id", "task_queue", "signal_name", "timer_id",
  "start_to_fire_timeout", "identity", "attempt", "input", "result", "details", "reason", "failure", "workflow_id",
  "new_execution_run_id", "update_id", "name"];

function summaryOf(attributes) {
  const parts = [];
  for (const key of KEY_ATTRIBUTES) {
    let v = attributes[key];
    if (v === undefined || v === "" || (Array.isArray(v) && !v.length)) continue;
    if (key === "failure") v = failureText(v);
    else if (Array.isArray(v)) v = v.map((p) => ("value" in p ? JSON.stringify(p.value) : `<${p.encoding} ${bytes(p.size)}>`)).join(", ");
    else if (typeof v === "object") v = JSON.stringify(v);
    const text = String(v);
    parts.push(`${key}=${text.length > 80 ? text.slice(0, 79) + "…" : text}`);
  }
  return parts.join("  ");
}

function eventClass(type) {
  if (/Failed|TimedOut|Terminated/.test(type)) return "c-bad";
  if (type.startsWith("WorkflowTask")) return "c-wft";
  if (type.startsWith("ActivityTask")) return "c-act";
  if (type.startsWith("Timer")) return "c-timer";
  if (/Child/.test(type)) return "c-child";
  if (/Signal/.test(type)) return "c-signal";
  return "c-wf";
}

// Items for the compact timeline: workflow tasks, activities, timers, children (spans) and signals (points).
function timelineItems(events, open) {
  const items = [];
  const byStart = new Map();
  const span = (key, label, kind, event) => { const it = { label, kind, start: event.event_time, end: null, state: "open" }; byStart.set(key, it); items.push(it); };
  const end = (key, event, state) => { const it = byStart.get(key); if (it) { it.end = event.event_time; it.state = state; } };
  for (const e of events) {
    const a = e.attributes, t = e.event_type;
    if (t === "WorkflowTaskScheduled") span("wft" + e.event_id, "Workflow task", "k-wft", e);
    else if (t === "WorkflowTaskCompleted") end("wft" + a.scheduled_event_id, e, "ok");
    else if (t === "WorkflowTaskFailed" || t === "WorkflowTaskTimedOut") end("wft" + a.scheduled_event_id, e, "bad");
    else if (t === "ActivityTaskScheduled") span("act" + e.event_id, `Activity ${a.activity_type} (${a.activity_id})`, "", e);
    else if (t === "ActivityTaskCompleted") end("act" + a.scheduled_event_id, e, "ok");
    else if (/^ActivityTask(Failed|TimedOut|Canceled)$/.test(t)) end("act" + a.scheduled_event_id, e, "bad");
    else if (t === "TimerStarted") span("timer" + a.timer_id, `Timer ${a.timer_id} (${duration(a.start_to_fire_timeout)})`, "", e);
    else if (t === "TimerFired") end("timer" + a.timer_id, e, "ok");
    else if (t === "TimerCanceled") end("timer" + a.timer_id, e, "bad");
    else if (t === "StartChildWorkflowExecutionInitiated") span("child" + e.event_id, `Child ${a.workflow_type} (${a.workflow_id})`, "", e);
    else if (/^ChildWorkflowExecution(Completed)$/.test(t)) end("child" + a.initiated_event_id, e, "ok");
    else if (/^ChildWorkflowExecution(Failed|Canceled|TimedOut|Terminated)$/.test(t)) end("child" + a.initiated_event_id, e, "bad");
    else if (t === "WorkflowExecutionSignaled") items.push({ label: `Signal ${a.signal_name}`, kind: "point", start: e.event_time, end: e.event_time, state: "ok" });
  }
  // Workflow tasks are many and short: fold them into one row unless the history is small.
  const wfts = items.filter((i) => i.kind === "k-wft");
  const rest = items.filter((i) => i.kind !== "k-wft");
  return { rows: wfts.length > 6 ? rest : items, folded: wfts.length > 6 ? wfts.length : 0, open };
}

function timeline(events, running) {
  if (!events.length) return h("p", { class: "muted" }, "No events.");
  const t0 = new Date(events[0].event_time).getTime();
  const t1 = running ? Date.now() : new Date(events[events.length - 1].event_time).getTime();
  const total = Math.max(1, t1 - t0);
  const { rows, folded } = timelineItems(events, running);
  const pos = (iso) => ((new Date(iso).getTime() - t0) / total) * 100;
  const rowsEl = rows.map((it) => {
    const left = pos(it.start), right = it.end ? pos(it.end) : 100;
    const cls = "tl-bar " + (it.kind === "point" ? "point" : it.kind === "k-wft" ? "k-wft" : it.state);
    const took = it.end ? duration((new Date(it.end) - new Date(it.start)) / 1000) : "running";
    return h("div", { class: "tl-row" }, h("div", { class: "tl-label", title: it.label }, it.label),
      h("div", { class: "tl-track" }, h("div", { class: cls, title: `${it.label}: ${took}, from ${exact(it.start)}`,
        style: { left: `${Math.min(left, 99.5)}%`, width: it.kind === "point" ? "4px" : `${Math.max(0.4, right - left)}%` } })));
  });
  return h("div", { class: "card tl", id: "timeline" }, rowsEl,
    h("div", { class: "tl-axis muted" }, h("span", {}, exact(events[0].event_time)),
      h("span", {}, (folded ? `${folded} workflow tasks folded · ` : "") + "span " + duration(total / 1000)),
      h("span", {}, running ? "now" : exact(events[events.length - 1].event_time))));
}

function historyTable(events) {
  const rows = [];
  const t0 = events.length ? new Date(events[0].event_time).getTime() : 0;
  for (const e of events) {
    const offset = (new Date(e.event_time).getTime() - t0) / 1000;
    const details = h("tr", { class: "details", hidden: true },
      h("td", { colspan: 4 }, h("pre", {}, JSON.stringify(e.attributes, null, 2))));
    rows.push(h("tr", { "data-event-id": e.event_id, "data-event-type": e.event_type },
      h("td", { class: "mono" }, e.event_id),
      h("td", { class: "mono" }, h("time", { datetime: e.event_time, title: exact(e.event_time) + " (" + relative(e.event_time) + ")" },
        e.event_id === events[0].event_id ? exact(e.event_time).slice(11, 23) : "+" + duration(offset))),
      h("td", {}, h("span", { class: "ev-type " + eventClass(e.event_type) }, e.event_type)),
      h("td", { class: "summary" }, summaryOf(e.attributes), " ",
        h("span", { class: "toggle", onclick: () => { details.hidden = !details.hidden; } }, "details"))), details);
  }
  return table(["ID", "Time (since start)", "Type", "Summary"], rows, { id: "history" });
}

async function workflowPage(params) {
  const id = params.get("id"), run = params.get("run") || "";
  const data = await api(`/api/workflow?workflow_id=${encodeURIComponent(id)}&run_id=${encodeURIComponent(run)}`);
  const w = data.execution;
  const running = w.status === "Running";
  const startMs = new Date(w.start_time).getTime();
  const took = w.close_time ? (new Date(w.close_time).getTime() - startMs) / 1000 : (Date.now() - startMs) / 1000;
  const act = (name) => ({ workflow_id: w.workflow_id, run_id: w.run_id, ...name });
  const signal = async () => {
    const values = await dialog({ title: "Signal " + w.workflow_id, confirm: "Send signal",
      fields: [{ name: "name", label: "Signal name", placeholder: "approve",
                 parse: (v) => { if (!v.trim()) throw new Error("A signal needs a name."); return v.trim(); } },
               { name: "input", label: "Input: one JSON value per argument, one per line (empty: none)",
                 placeholder: '"alice"', multiline: true,
                 parse: (v) => v.split("\n").filter((l) => l.trim()).map((l, i) => {
                   try { return JSON.parse(l); } catch (err) { throw new Error(`Line ${i + 1} is not JSON (${err.message}); quote strings: "alice"`); }
                 }) }],
      describe: (v) => `Send signal "${v.name}" with ${v.input.length ? JSON.stringify(v.input) : "no arguments"} to workflow ${w.workflow_id} (run ${shortId(w.run_id)})?` });
    if (!values) return;
    await runAction("signal", act(values), `Signal "${values.name}" sent`);
  };
  const cancel = async () => {
    if (!await dialog({ title: "Cancel " + w.workflow_id, confirm: "Request cancellation", danger: true,
      describe: () => `Request cancellation of workflow ${w.workflow_id} (run ${shortId(w.run_id)})? Its code gets a cancellation at its current await.` })) return;
    await runAction("cancel", act({}), "Cancellation requested");
  };
  const terminate = async () => {
    const values = await dialog({ title: "Terminate " + w.workflow_id, confirm: "Terminate", danger: true,
      fields: [{ name: "reason", label: "Reason (recorded in history)", placeholder: "why" }],
      describe: (v) => `Terminate workflow ${w.workflow_id} (run ${shortId(w.run_id)}) now? No more of its code runs${v.reason ? `; reason: ${v.reason}` : ""}.` });
    if (!values) return;
    await runAction("terminate", act(values), "Terminated");
  };
  const parent = w.parent_workflow_id
    ? link("workflow", { id: w.parent_workflow_id, run: w.parent_run_id }, mono(w.parent_workflow_id)) : "—";
  const children = data.children.length ? data.children.map((c, i) => [i ? ", " : "",
    link("workflow", { id: c.workflow_id, run: c.run_id }, mono(c.workflow_id)), ` (${c.workflow_type}, ${c.state})`]) : "—";
  const result = data.result !== null ? payloadView(data.result, "result")
    : data.failure ? h("div", { id: "result" }, h("p", {}, h("b", { class: "c-bad" }, data.failure.event_type)),
      h("pre", {}, data.failure.failure ? failureText(data.failure.failure) : JSON.stringify(data.failure, null, 2)))
      : h("p", { class: "muted", id: "result" }, running ? "Running: no result yet." : "—");
  const pending = data.pending_activities.map((p) => h("tr", {},
    h("td", { class: "mono" }, p.activity_id), h("td", {}, p.activity_type), h("td", {}, (p.state || "").replace("PENDING_ACTIVITY_STATE_", "")),
    h("td", {}, `${p.attempt || 1}${p.maximum_attempts ? " / " + p.maximum_attempts : ""}`),
    h("td", {}, when(p.scheduled_time)), h("td", {}, when(p.last_started_time)),
    h("td", {}, when(p.last_heartbeat_time), p.heartbeat_details ? h("pre", {}, JSON.stringify(p.heartbeat_details.map((x) => ("value" in x ? x.value : `<${x.encoding}>`)))) : ""),
    h("td", { class: "c-bad" }, failureText(p.last_failure)), h("td", { class: "mono" }, p.last_worker_identity || "")));
  const workerRows = data.workers.map((x) => h("tr", { "data-identity": x.identity },
    h("td", {}, mono(x.identity)), h("td", {}, `${x.workflow_tasks} workflow · ${x.activity_tasks} activity`),
    h("td", { class: "mono" }, x.node_ip || ""), h("td", {}, x.node_id ? mono(shortId(x.node_id), x.node_id) : ""),
    h("td", {}, x.polling ? gpus(x.gpus) : ""),
    h("td", {}, (x.labels || []).join(", ")), h("td", { class: "mono" }, x.build_id || ""),
    h("td", {}, x.polling ? "yes" : h("span", { class: "muted" }, "not polling now"))));
  show(
    h("h1", {}, mono(w.workflow_id), badge(w.status),
      h("span", { class: "actions" },
        h("button", { id: "signal", disabled: !running, onclick: signal }, "Signal…"),
        h("button", { id: "cancel", disabled: !running, onclick: cancel }, "Cancel…"),
        h("button", { id: "terminate", class: "danger", disabled: !running, onclick: terminate }, "Terminate…"))),
    h("div", { class: "card grid", id: "summary" },
      kv("Type", w.workflow_type), kv("Status", w.status), kv("Workflow ID", mono(w.workflow_id)),
      kv("Run ID", mono(w.run_id)), kv("Task queue", link("task-queues", { name: w.task_queue }, w.task_queue)),
      kv("Started", when(w.start_time), " · ", exact(w.start_time)),
      kv("Closed", w.close_time ? [when(w.close_time), " · ", exact(w.close_time)] : "—"),
      kv(running ? "Running for" : "Took", duration(took)), kv("History", `${w.history_length} events`),
      kv("Parent", parent), kv("Children", children),
      w.first_execution_run_id && w.first_execution_run_id !== w.run_id ? kv("First run", link("workflow", { id: w.workflow_id, run: w.first_execution_run_id }, mono(shortId(w.first_execution_run_id), w.first_execution_run_id))) : null,
      w.build_ids ? kv("Build ids", w.build_ids.join(", ")) : null,
      w.expire_time ? kv("Expires", when(w.expire_time)) : null),
    h("div", { class: "two" },
      h("div", {}, h("h2", {}, "Input"), payloadView(data.input, "input")),
      h("div", {}, h("h2", {}, data.failure && data.result === null ? "Outcome" : "Result"), result)),
    data.pending_workflow_task ? h("p", { class: "muted" }, `Workflow task pending: attempt ${data.pending_workflow_task.attempt || 1}, scheduled `, when(data.pending_workflow_task.scheduled_time)) : null,
    h("h2", {}, "Pending activities"),
    table(["Activity ID", "Type", "State", "Attempt", "Scheduled", "Last started", "Last heartbeat", "Last failure", "Worker"], pending, { id: "pending" }),
    h("h2", {}, "Workers"),
    table(["Identity", "Tasks started", "Node IP", "Node ID", "GPUs", "Labels", "Build ID", "Polling"], workerRows, { id: "workers" }),
    h("h2", {}, "Timeline"), timeline(data.events, running),
    h("div", { class: "section-head" }, h("h2", {}, "History"), h("span", { class: "muted" }, `${data.events.length} events`)),
    historyTable(data.events));
  if (running) scheduleRefresh(async () => {
    const again = await api(`/api/workflow?workflow_id=${encodeURIComponent(id)}&run_id=${encodeURIComponent(w.run_id)}`);
    return again.events.length !== data.events.length || again.execution.status !== w.status;
  });
}

async function runAction(action, body, done) {
  try {
    await api("/api/workflow/" + action, body);
    toast(done);
  } catch (err) {
    if (!(err instanceof AuthNeeded)) toast(err.message, true);
    return;
  }
  setTimeout(route, 600);
}

function stopRefresh() { clearTimeout(refreshTimer); refreshTimer = null; }
// While a run is open, look again every 2 s and re-render when its history grew (not while a dialog is open).
function scheduleRefresh(changed) {
  stopRefresh();
  const hash = location.hash;
  refreshTimer = setTimeout(async () => {
    if (location.hash !== hash) return;
    try {
      if (!document.getElementById("dialog").open && await changed()) { route(); return; }
    } catch { /* shown on the next render */ }
    if (location.hash === hash) scheduleRefresh(changed);
  }, 2000);
}

// -- Task queues ----------------------------------------------------------------------------
function queueKind(title, d, kind) {
  const age = d.backlog_age_s !== null ? `, oldest ${duration(d.backlog_age_s)}` : "";
  const pollers = d.pollers.map((p) => h("tr", { "data-identity": p.identity },
    h("td", {}, mono(p.identity)), h("td", { class: "mono" }, p.node_ip), h("td", {}, p.node_id ? mono(shortId(p.node_id), p.node_id) : ""),
    h("td", {}, (p.labels || []).join(", ")), h("td", {}, gpus(p.gpus)),
    h("td", { class: "mono" }, p.build_id ? p.build_id + (p.use_versioning ? " (versioned)" : "") : ""),
    h("td", {}, p.rate_limit ? `${p.rate_limit}/s` : ""), h("td", {}, when(p.last_access_time)),
    h("td", { class: "muted" }, p.no_tasks_reason)));
  const labels = (obj) => Object.entries(obj).map(([l, n]) => `${l || "(none)"}: ${n}`).join(", ");
  const parts = d.partitions.map((p) => h("tr", {}, h("td", {}, p.partition), h("td", {}, p.backlog),
    h("td", {}, labels(p.backlog_by_label)), h("td", {}, p.backlog_age_s !== null ? duration(p.backlog_age_s) : ""),
    h("td", {}, p.dispatch_rate.toFixed(1) + "/s")));
  return h("section", { id: "queue-" + kind },
    h("h2", {}, title),
    h("div", { class: "card grid" }, kv("Backlog", `${d.backlog}${age}`), kv("By label", labels(d.backlog_by_label) || "—"),
      kv("Dispatch rate", d.dispatch_rate.toFixed(1) + " tasks/s"), kv("Rate limit", d.rate_limit ? d.rate_limit + " activities/s" : kind === "activity" ? "none" : "—"),
      kv("Pollers", d.pollers.length)),
    h("h2", {}, "Pollers"),
    table(["Identity", "Node IP", "Node ID", "Labels", "GPUs", "Build ID", "Rate limit", "Last access", "No tasks because"], pollers, { class: "pollers" }),
    h("h2", {}, "Partitions"),
    table(["Partition", "Backlog", "By label", "Oldest", "Dispatch"], parts));
}

async function taskQueuesPage(params) {
  const name = params.get("name") || "";
  const input = h("input", { id: "task-queue", class: "mono", value: name, placeholder: "task queue name", spellcheck: "false" });
  const head = [h("h1", {}, "Task queues"),
    h("form", { class: "query", onsubmit: (e) => { e.preventDefault(); location.hash = routeHref("task-queues", { name: input.value.trim() }); } },
      input, h("button", { class: "primary", type: "submit" }, "Describe"))];
  show(...head, h("p", { class: "muted" }, "Loading…"));
  const recent = await api("/api/task-queues");
  const chips = h("div", { class: "chips" }, h("span", { class: "muted" }, "Used by recent workflows:"),
    recent.task_queues.map((q) => h("a", { class: "chip" + (q.name === name ? " on" : ""), href: routeHref("task-queues", { name: q.name }) },
      q.name, h("b", {}, q.recent_workflows))));
  if (!name) { show(...head, chips, h("p", { class: "muted" }, "Pick a task queue, or type its name.")); return; }
  const d = await api("/api/task-queue?name=" + encodeURIComponent(name));
  show(...head, chips, h("h1", {}, mono(d.name), h("span", { class: "actions" }, h("button", { onclick: () => route() }, "Refresh"))),
    queueKind("Workflow queue", d.workflow, "workflow"), queueKind("Activity queue", d.activity, "activity"));
}

// -- Service --------------------------------------------------------------------------------
async function servicePage() {
  const c = await api("/api/cluster");
  const actors = (c.service_actors || []).map((a) => h("tr", {},
    h("td", {}, a.kind), h("td", {}, a.index || 0), h("td", { class: "mono" }, a.name),
    h("td", {}, h("span", { class: "badge " + (a.state === "running" ? "s-Completed" : "s-Failed") }, a.state)),
    h("td", { class: "mono" }, a.node_ip || ""), h("td", {}, a.node_id ? mono(shortId(a.node_id), a.node_id) : ""),
    h("td", {}, a.pid || ""), h("td", {}, a.accelerator_node ? "yes" : ""), h("td", { class: "c-bad" }, a.error || "")));
  show(h("h1", {}, "Service"),
    h("div", { class: "card grid", id: "cluster" },
      kv("Version", c.server_version), kv("Frontend", mono(c.frontend)), kv("Ray namespace", c.ray_namespace),
      kv("Ray address", mono(c.ray_address || "")), kv("Store", mono(c.store || "")),
      kv("History shards", c.num_shards), kv("Matching actors", c.num_matching),
      kv("Payload limit", bytes(Number(c.max_payload_size || 0))), kv("Payload store", mono(c.payload_store || "none")),
      kv("TLS", c.tls ? "on" : "off"), kv("API key", c.api_key_required ? "required" : "not required"),
      kv("Started", when(new Date((c.started_at || 0) * 1000).toISOString()))),
    h("h2", {}, "Shards and Matching actors"),
    table(["Kind", "Index", "Actor", "State", "Node IP", "Node ID", "PID", "Accelerator node", "Error"], actors, { id: "actors" }));
}

// -- routing --------------------------------------------------------------------------------
const PAGES = { workflows: workflowsPage, workflow: workflowPage, "task-queues": taskQueuesPage, service: servicePage };

function route() {
  stopRefresh();
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "workflows").split("?");
  const page = PAGES[path] ? path : "workflows";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (page === "workflow" ? "workflows" : page));
  }
  document.title = "rayflow · " + (page === "workflow" ? new URLSearchParams(query).get("id") : page.replace("-", " "));
  PAGES[page](new URLSearchParams(query || "")).catch(failed);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  const ns = document.getElementById("namespace");
  ns.value = namespace();
  ns.addEventListener("change", () => { sessionStorage.setItem(NS_STORAGE, ns.value.trim() || "default"); route(); });
  renderKeyState();
  route();
});
