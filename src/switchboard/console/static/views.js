// The views. Each returns its node; the parts that change with the workspace are live regions
// (ctx.live), refreshed when an event concerning them arrives; forms sit outside them, so
// what the user is typing is never replaced.

import { all, get, optional, post, ws as wsPath } from "./api.js";
import { badge, duration, h, json, link, parseAttributes, section, table, toast } from "./ui.js";
import { workflowDiagram } from "./workflow.js";

const RESOURCE_ROUTES = { task: "tasks", worker: "workers", task_queue: "task-queues",
                          workflow: "workflows" };

function resourceLink(ws, type, sid, label = sid) {
  if (!sid) return "–";
  if (type === "reservation") return label;
  const kind = RESOURCE_ROUTES[type];
  return kind ? link(`/workspaces/${ws}/${kind}/${sid}`, label) : label;
}

// A server date's time of day (the server's clock may be a manual one: no age on the browser's).
const clockTime = (iso) => (iso ? iso.replace(/^.*T/, "").replace(/(\.\d+)?Z$/, "") : "–");

function attrs(text) {
  const value = parseAttributes(text);
  return value === null ? text : value;
}

async function act(label, fn) {
  try {
    await fn();
    toast(label);
    return true;
  } catch (error) {
    toast(`${label} failed: ${error.message}`, "error");
    return false;
  }
}

// A JSON editor: a textarea that says at once whether its content parses.
function jsonEditor(id, label, value, rows = 6) {
  const area = h("textarea", { id, rows, spellcheck: "false", class: "code",
    "aria-describedby": `${id}-status` }, value);
  const status = h("p", { id: `${id}-status`, class: "hint", "aria-live": "polite" });
  const check = () => {
    try {
      const parsed = JSON.parse(area.value || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("must be a JSON object");
      status.textContent = "Valid JSON";
      status.className = "hint ok";
      area.setCustomValidity("");
      return true;
    } catch (error) {
      status.textContent = `Not valid JSON: ${error.message}`;
      status.className = "hint error";
      area.setCustomValidity("Not valid JSON");
      return false;
    }
  };
  area.addEventListener("input", check);
  check();
  return { node: h("div", { class: "field" }, h("label", { for: id }, label), area, status), area, check };
}

// ---------------------------------------------------------------- workspaces

export async function workspaceList(ctx) {
  return h("div", {}, h("h1", {}, "Workspaces"),
    section("Your workspaces", ctx.live(async () => {
      const spaces = await all("/v1/Workspaces", "workspaces");
      return table(["Name", "SID", "Created", "Default activity"], spaces.map((w) => [
        link(`/workspaces/${w.sid}`, w.friendly_name), h("code", {}, w.sid), w.date_created,
        w.default_activity_name || "–"]), "Workspaces");
    }, (e) => e.event_type.startsWith("workspace."))));
}

// ---------------------------------------------------------------- overview and queues

// One request per queue and per worker below: a large workspace shows its first ones.
const SHOWN_QUEUES = 60;
const SHOWN_WORKERS = 100;

async function queueCards(ws, allQueues) {
  const queues = allQueues.slice(0, SHOWN_QUEUES);
  const stats = await Promise.all(queues.map((q) =>
    get(wsPath(ws, "TaskQueues", q.sid, "RealTimeStatistics")).catch(() => null)));
  const more = allQueues.length > queues.length
    ? h("p", { class: "muted" }, `The first ${queues.length} of ${allQueues.length} queues.`) : null;
  return h("div", {}, more, h("div", { class: "cards" }, queues.map((q, i) => {
    const s = stats[i] || {};
    const by = s.tasks_by_status || {};
    return h("article", { class: "card queue", "data-queue": q.sid },
      h("h3", {}, link(`/workspaces/${ws}/task-queues/${q.sid}`, q.friendly_name)),
      h("dl", { class: "figures" },
        figure("Waiting", by.pending ?? 0, "waiting"), figure("Reserved", by.reserved ?? 0),
        figure("Assigned", by.assigned ?? 0), figure("Available workers", s.total_available_workers ?? "–"),
        figure("Eligible workers", s.total_eligible_workers ?? "–"),
        figure("Longest wait", s.longest_task_waiting_age != null ? duration(s.longest_task_waiting_age * 1000) : "–")),
      h("p", { class: "muted small" }, h("code", {}, q.target_workers || "1==1")));
  })));
}

function figure(label, value, key) {
  return h("div", { class: "figure", "data-figure": key || null }, h("dt", {}, label), h("dd", {}, String(value)));
}

const touchesQueue = (sid) => (e) => !sid || e.task_queue_sid === sid || e.resource_type === "task_queue"
  || e.resource_type === "worker" || e.event_type.startsWith("task.") || e.event_type.startsWith("reservation.");

export async function overview(ctx) {
  const { ws } = ctx;
  const recent = h("ol", { class: "events compact", "aria-label": "Latest events" });
  ctx.onEvent((e) => {
    recent.prepend(eventItem(ws, e));
    while (recent.children.length > 8) recent.lastChild.remove();
  });
  const events = await get(wsPath(ws, "Events"), { PageSize: "8", Minutes: "1440" }).catch(() => ({ events: [] }));
  for (const e of events.events) recent.append(eventItem(ws, e));
  return h("div", {}, h("h1", {}, ctx.workspace.friendly_name),
    h("p", { class: "muted" }, h("code", {}, ws)),
    section("Task queues", ctx.live(async () => queueCards(ws, await all(wsPath(ws, "TaskQueues"), "task_queues")),
      touchesQueue(null), 250)),
    h("div", { class: "two" },
      section("Workers", ctx.live(async () => workerSummary(ws), (e) => e.event_type.startsWith("worker.")
        || e.event_type.startsWith("reservation."))),
      section("Latest events", recent, h("p", {}, link(`/workspaces/${ws}/events`, "All events")))));
}

async function workerSummary(ws) {
  const workers = await all(wsPath(ws, "Workers"), "workers");
  const byActivity = {};
  for (const w of workers) byActivity[w.activity_name] = (byActivity[w.activity_name] || 0) + 1;
  return h("div", {}, h("dl", { class: "figures" },
    figure("Workers", workers.length), figure("In an available activity", workers.filter((w) => w.available).length)),
  h("p", { class: "muted" }, "By activity: ", Object.entries(byActivity).map(([name, n]) => `${name} ${n}`).join(" · ") || "–"),
  h("p", {}, link(`/workspaces/${ws}/workers`, "All workers")));
}

export async function taskQueues(ctx) {
  const { ws } = ctx;
  return h("div", {}, h("h1", {}, "Task queues"),
    ctx.live(async () => queueCards(ws, await all(wsPath(ws, "TaskQueues"), "task_queues")), touchesQueue(null), 250));
}

export async function queue(ctx) {
  const { ws, sid } = ctx;
  const q = await get(wsPath(ws, "TaskQueues", sid));
  return h("div", {}, h("h1", {}, q.friendly_name),
    h("p", { class: "muted" }, h("code", {}, sid), " · ", h("code", {}, q.target_workers || "1==1"),
      " · order ", q.task_order, " · max reserved ", q.max_reserved_workers),
    ctx.live(async () => queueCards(ws, [q]), touchesQueue(sid), 250),
    section("Waiting tasks, in routing order", ctx.live(() => waitingTasks(ws, sid), touchesQueue(sid), 250)),
    section("Eligible workers", ctx.live(async () => {
      const workers = await all(wsPath(ws, "Workers"), "workers", { TaskQueueSid: sid });
      return table(["Worker", "Activity", "Available"], workers.map((w) => [
        link(`/workspaces/${ws}/workers/${w.sid}`, w.friendly_name), w.activity_name,
        w.available ? badge("available", "available") : badge("unavailable", "muted")]), "Eligible workers");
    }, (e) => e.event_type.startsWith("worker."))));
}

const SHOWN_WAITING = 200;
const POSITIONS_ASKED = 50;

async function waitingTasks(ws, queueSid) {
  // The router's order is close to priority then virtual start time (FIFO); the first ones'
  // exact places come from QueuePosition (one request each, so not for a long queue's tail).
  const tasks = await all(wsPath(ws, "Tasks"), "tasks", { TaskQueueSid: queueSid, AssignmentStatus: "pending",
    Ordering: "Priority:desc,VirtualStartTime:asc" }, SHOWN_WAITING);
  const [positions, estimate] = await Promise.all([
    Promise.all(tasks.map((t, i) => (i < POSITIONS_ASKED
      ? optional("GET", wsPath(ws, "Tasks", t.sid, "QueuePosition")).catch(() => null) : null))),
    optional("GET", wsPath(ws, "TaskQueues", queueSid, "EstimatedWaitTime")).catch(() => null),
  ]);
  const rows = tasks.map((t, i) => ({ t, p: positions[i] }));
  rows.sort((a, b) => ((a.p && a.p.position) ?? 1e9) - ((b.p && b.p.position) ?? 1e9));  // stable
  const estimateText = (p) => {
    const seconds = (p && p.estimated_wait_time) ?? null;
    return seconds === null || seconds === undefined ? "–" : duration(seconds * 1000);
  };
  return h("div", {},
    estimate ? h("p", { class: "muted" }, "Estimated wait for a new task: ", estimateOf(estimate)) : null,
    tasks.length >= SHOWN_WAITING ? h("p", { class: "muted" }, `The first ${SHOWN_WAITING} waiting tasks:`) : null,
    table(["#", "Task", "Priority", "Channel", "Age", "Estimated wait"], rows.map(({ t, p }) => [
      p && p.position != null ? String(p.position) : "–",
      link(`/workspaces/${ws}/tasks/${t.sid}`, t.sid), String(t.priority), t.task_channel_unique_name,
      duration(t.age * 1000), estimateText(p)]), "Waiting tasks"));
}

function estimateOf(answer) {
  const value = answer.estimated_wait_time;
  return typeof value === "number" ? duration(value * 1000) : "not known yet (no completed tasks to learn from)";
}

// ---------------------------------------------------------------- workers

export async function workers(ctx) {
  const { ws } = ctx;
  return h("div", {}, h("h1", {}, "Workers"), section("All workers", ctx.live(async () => {
    const list = await all(wsPath(ws, "Workers"), "workers", {}, SHOWN_WORKERS);
    const [reservations, channels] = await Promise.all([
      Promise.all(list.map((w) => all(wsPath(ws, "Workers", w.sid, "Reservations"), "reservations")
        .then((rs) => rs.filter((r) => ["pending", "accepted", "wrapping"].includes(r.reservation_status)))
        .catch(() => []))),
      Promise.all(list.map((w) => all(wsPath(ws, "Workers", w.sid, "Channels"), "channels").catch(() => []))),
    ]);
    const capacity = (cs) => {
      const used = cs.filter((c) => c.configured_capacity > 0);
      return used.length ? used.map((c, j) => [j ? " · " : "", h("span", { class: "nowrap" },
        `${c.task_channel_unique_name} ${c.assigned_tasks}/${c.configured_capacity}`)]) : "–";
    };
    const open = (rs) => (rs.length ? rs.map((r, j) => [j ? ", " : "", r.reservation_status, " ",
      link(`/workspaces/${ws}/tasks/${r.task_sid}`, `task ${r.task_sid.slice(0, 8)}…`)]) : "–");
    return table(["Worker", "Activity", "Available", "Channels (in use/capacity)", "Open reservations", "Attributes"], list.map((w, i) => [
      link(`/workspaces/${ws}/workers/${w.sid}`, w.friendly_name), w.activity_name,
      w.available ? badge("available", "available") : badge("unavailable", "muted"),
      capacity(channels[i]), open(reservations[i]), h("code", { class: "clip" }, w.attributes)]), "Workers");
  }, (e) => e.event_type.startsWith("worker.") || e.event_type.startsWith("reservation."))));
}

function reservationActions(ws, r, viaWorker = true) {
  const path = viaWorker ? wsPath(ws, "Workers", r.worker_sid, "Reservations", r.sid)
    : wsPath(ws, "Tasks", r.task_sid, "Reservations", r.sid);
  const button = (label, status) => h("button", { type: "button", "aria-label": `${label} reservation ${r.sid}`, onclick: () =>
    act(`Reservation ${status}`, () => post(path, { ReservationStatus: status })) }, label);
  if (r.reservation_status === "pending") return [button("Accept", "accepted"), " ", button("Reject", "rejected")];
  if (r.reservation_status === "accepted" || r.reservation_status === "wrapping") return button("Complete", "completed");
  return "";
}

export async function worker(ctx) {
  const { ws, sid } = ctx;
  const w = await get(wsPath(ws, "Workers", sid));
  const activities = await all(wsPath(ws, "Activities"), "activities");
  const select = h("select", { id: "activity" }, activities.map((a) =>
    h("option", { value: a.sid, selected: a.sid === w.activity_sid }, `${a.friendly_name}${a.available ? " (available)" : ""}`)));
  // Only what the user changed is sent, and the rest follows the worker as it changes
  // elsewhere: saving an activity never puts back attributes someone else has since changed.
  let chosen = false;
  let edited = false;
  select.addEventListener("change", () => { chosen = true; });
  const editor = jsonEditor("worker-attributes", "Attributes", JSON.stringify(attrs(w.attributes), null, 2), 8);
  editor.area.addEventListener("input", () => { edited = true; });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    if (!editor.check()) return;
    if (!chosen && !edited) { toast("Nothing to save: neither the activity nor the attributes changed"); return; }
    const change = {};
    if (chosen) change.ActivitySid = select.value;
    if (edited) change.Attributes = JSON.stringify(JSON.parse(editor.area.value || "{}"));
    if (await act("Worker updated", () => post(wsPath(ws, "Workers", sid), change))) chosen = edited = false;
  } }, h("h2", {}, "Change"), h("div", { class: "field" }, h("label", { for: "activity" }, "Activity"), select),
  editor.node, h("button", { type: "submit", class: "primary" }, "Save"));
  const mine = (e) => e.worker_sid === sid || e.resource_sid === sid;
  return h("div", {}, h("h1", {}, w.friendly_name), h("p", { class: "muted" }, h("code", {}, sid)),
    h("div", { class: "two" },
      section("Now", ctx.live(async () => {
        const now = await get(wsPath(ws, "Workers", sid));
        if (!chosen) select.value = now.activity_sid;  // never undo a choice not yet saved
        if (!edited && document.activeElement !== editor.area) {
          editor.area.value = JSON.stringify(attrs(now.attributes), null, 2);
          editor.check();
        }
        return h("dl", { class: "figures" }, figure("Activity", now.activity_name, "activity"),
          figure("Available", now.available ? "yes" : "no"), figure("Since", clockTime(now.date_status_changed)));
      }, mine)),
      form),
    section("Channels", ctx.live(async () => {
      const channels = await all(wsPath(ws, "Workers", sid, "Channels"), "channels");
      return table(["Channel", "Capacity", "Assigned", "Available capacity", "Available"], channels.map((c) => [
        c.task_channel_unique_name, String(c.configured_capacity), String(c.assigned_tasks),
        `${c.available_capacity_percentage}%`, c.available ? "yes" : "no"]), "Channels");
    }, mine)),
    section("Reservations", ctx.live(async () => {
      const list = await all(wsPath(ws, "Workers", sid, "Reservations"), "reservations");
      return table(["Reservation", "Task", "Status", "Created at", "Actions"], list.map((r) => [
        h("code", {}, r.sid), link(`/workspaces/${ws}/tasks/${r.task_sid}`, r.task_sid),
        badge(r.reservation_status), clockTime(r.date_created), reservationActions(ws, r)]), "Reservations");
    }, mine)),
    section("Attributes", ctx.live(async () => json(attrs((await get(wsPath(ws, "Workers", sid))).attributes)), mine)));
}

// ---------------------------------------------------------------- tasks

export async function tasks(ctx) {
  const { ws } = ctx;
  const workflows = await all(wsPath(ws, "Workflows"), "workflows");
  const channels = await all(wsPath(ws, "TaskChannels"), "channels");
  const editor = jsonEditor("task-attributes", "Attributes (JSON)", '{\n  "type": "support"\n}', 6);
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const workflow = h("select", { id: "task-workflow" }, workflows.map((w) => h("option", { value: w.sid }, w.friendly_name)));
  const channel = h("select", { id: "task-channel" }, channels.map((c) => h("option", { value: c.unique_name }, c.unique_name)));
  const priority = h("input", { id: "task-priority", type: "number", min: 0, value: 0 });
  const timeout = h("input", { id: "task-timeout", type: "number", min: 1, placeholder: "86400" });
  const created = h("p", { class: "created", "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    if (!editor.check()) { editor.area.focus(); return; }
    let task = null;
    await act("Task created", async () => { task = await post(wsPath(ws, "Tasks"), {
      Attributes: JSON.stringify(JSON.parse(editor.area.value || "{}")), WorkflowSid: workflow.value,
      TaskChannel: channel.value, Priority: priority.value, Timeout: timeout.value }); });
    if (task) created.replaceChildren("Created ", link(`/workspaces/${ws}/tasks/${task.sid}`, task.sid),
      ": open it to see where it went and why.");
  } }, h("h2", {}, "Create a task"), editor.node,
  h("div", { class: "row" }, field("task-workflow", "Workflow", workflow), field("task-channel", "Channel", channel),
    field("task-priority", "Priority", priority), field("task-timeout", "Timeout (s)", timeout)),
  h("button", { type: "submit", class: "primary" }, "Create task"), created);
  const status = h("select", { id: "task-status" }, ["", "pending", "reserved", "assigned", "wrapping",
    "completed", "canceled"].map((s) => h("option", { value: s }, s || "any")));
  const list = ctx.live(async () => {
    const query = { Ordering: "DateCreated:desc" };
    if (status.value) query.AssignmentStatus = status.value;
    const found = await all(wsPath(ws, "Tasks"), "tasks", query, 500);
    return table(["Task", "Status", "Queue", "Priority", "Age", "Attributes"], found.map((t) => [
      link(`/workspaces/${ws}/tasks/${t.sid}`, t.sid), badge(t.assignment_status),
      resourceLink(ws, "task_queue", t.task_queue_sid, t.task_queue_friendly_name || t.task_queue_sid),
      String(t.priority), duration(t.age * 1000), h("code", { class: "clip" }, t.attributes)]), "Tasks");
  }, (e) => e.event_type.startsWith("task.") || e.event_type.startsWith("reservation."));
  status.addEventListener("change", () => list.refresh());
  return h("div", {}, h("h1", {}, "Tasks"), section("Newest first",
    h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "task-status" }, "Status"), status)),
    list), form);
}

export async function task(ctx) {
  const { ws, sid } = ctx;
  await get(wsPath(ws, "Tasks", sid));
  const mine = (e) => e.task_sid === sid || e.resource_sid === sid;
  const taskAction = (label, form) => h("button", { type: "button", onclick: () =>
    act(label, () => post(wsPath(ws, "Tasks", sid), form)) }, label);
  return h("div", {}, h("h1", {}, "Task ", h("code", {}, sid)),
    ctx.live(async () => {
      const t = await get(wsPath(ws, "Tasks", sid));
      const position = t.assignment_status === "pending"
        ? await optional("GET", wsPath(ws, "Tasks", sid, "QueuePosition")).catch(() => null) : null;
      const open = ["pending", "reserved", "assigned", "wrapping"].includes(t.assignment_status);
      return h("div", { class: "two" },
        section("Status", h("dl", { class: "figures" },
          figure("Status", t.assignment_status, "status"),
          figure("Queue", t.task_queue_friendly_name || "–"), figure("Priority", t.priority),
          figure("Channel", t.task_channel_unique_name), figure("Age", duration(t.age * 1000)),
          position && position.position != null ? figure("Position in queue", position.position, "position") : null,
          position && position.estimated_wait_time != null ? figure("Estimated wait", duration(position.estimated_wait_time * 1000)) : null),
        h("p", {}, "Workflow: ", resourceLink(ws, "workflow", t.workflow_sid, t.workflow_friendly_name || t.workflow_sid),
          " · Queue: ", resourceLink(ws, "task_queue", t.task_queue_sid, t.task_queue_friendly_name || "–")),
        open ? h("p", { class: "actions" },
          t.assignment_status === "assigned" || t.assignment_status === "wrapping"
            ? taskAction("Complete task", { AssignmentStatus: "completed", Reason: "completed from the console" }) : null, " ",
          taskAction("Cancel task", { AssignmentStatus: "canceled", Reason: "canceled from the console" })) : null),
        section("Attributes", json(attrs(t.attributes))));
    }, mine),
    section("Reservations", ctx.live(async () => {
      const list = await all(wsPath(ws, "Tasks", sid, "Reservations"), "reservations");
      return table(["Reservation", "Worker", "Status", "Created at", "Act as the worker"], list.map((r) => [
        h("code", {}, r.sid), resourceLink(ws, "worker", r.worker_sid, r.worker_name),
        badge(r.reservation_status), clockTime(r.date_created), reservationActions(ws, r)]), "Reservations");
    }, mine)),
    section("Why did it go there?", ctx.live(() => routingView(ws, sid), mine, 300)));
}

// The task's path through its workflow (the Routing extension), as a timeline.
const STEP_LABELS = {
  created: "Created", workflow_entered: "Entered the workflow", filter_matched: "Filter matched",
  filter_skipped: "Filter did not match", filter_not_matched: "Filter did not match",
  default_filter: "Default filter", target_entered: "Target entered", target_skipped: "Target skipped",
  target_timeout: "Target timed out", target_left: "Target left", reserved: "Reserved",
  accepted: "Accepted", rejected: "Rejected", timeout: "Reservation timed out",
  canceled: "Canceled", completed: "Completed", rerouted: "Routed again",
};
const STEP_TONE = { target_timeout: "warn", target_skipped: "warn", filter_skipped: "muted",
  filter_not_matched: "muted", timeout: "warn", rejected: "warn", canceled: "bad",
  reserved: "ok", accepted: "ok", completed: "ok", filter_matched: "ok" };

async function routingView(ws, sid) {
  const routing = await optional("GET", wsPath(ws, "Tasks", sid, "Routing"));
  if (routing === null) return h("p", { class: "muted unavailable" }, "Routing explanations are not available on this server.");
  const steps = routing.steps || [];
  const items = steps.map((step) => h("li", { class: `step tone-${STEP_TONE[step.kind] || "plain"}`, "data-kind": step.kind },
    h("div", { class: "step-head" },
      h("strong", {}, STEP_LABELS[step.kind] || String(step.kind || "Step").replace(/_/g, " "),
        step.filter_name ? h("span", { class: "muted" }, ` · ${step.filter_name}`) : null,
),
      h("time", { datetime: step.time }, clockTime(step.time))),
    step.reason ? h("p", {}, step.reason) : null,
    stepFacts(ws, step)));
  const decision = routing.decision;
  return h("div", { class: "routing" },
    items.length ? h("ol", { class: "timeline" }, items) : h("p", { class: "muted" }, "No routing steps yet."),
    decision ? decisionView(ws, decision) : null);
}

function stepFacts(ws, step) {
  const facts = [];
  if (step.task_queue_sid) facts.push(["Queue", resourceLink(ws, "task_queue", step.task_queue_sid, step.task_queue_friendly_name || step.task_queue_sid)]);
  if (step.expression) facts.push(["Expression", h("code", {}, step.expression)]);
  if (step.worker_sid) facts.push(["Worker", resourceLink(ws, "worker", step.worker_sid, step.worker_friendly_name || step.worker_sid)]);
  if (step.reservation_sid) facts.push(["Reservation", h("code", {}, step.reservation_sid)]);
  return facts.length ? h("dl", { class: "details" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null;
}

function decisionView(ws, d) {
  const facts = [];
  if (d.strategy) facts.push(["Selection", d.strategy.replace(/_/g, " ")]);
  if (d.order_by) facts.push(["Order by", h("code", {}, d.order_by)]);
  if (d.task_queue_sid) facts.push(["Queue", resourceLink(ws, "task_queue", d.task_queue_sid, d.task_queue_friendly_name || d.task_queue_sid)]);
  if (d.worker_idle_since) facts.push(["Idle since", d.worker_idle_since]);
  if (d.time) facts.push(["Decided at", d.time]);
  const c = d.considered;
  let considered = null;
  if (c && typeof c === "object" && d.strategy !== "known_worker") {  // a known worker: nobody else was
    const excluded = Object.entries(c.excluded || {}).map(([why, n]) => `${n} ${why.replace(/_/g, " ")}`).join(", ");
    const top = Array.isArray(c.top) ? c.top : [];
    // The chosen worker is in neither count.
    const others = (c.eligible ?? 0) + Object.values(c.excluded || {}).reduce((a, n) => a + n, 0);
    considered = h("div", { class: "considered" },
      h("p", {}, `${d.worker_sid ? "The queue's other workers" : "The queue's workers"} ${c.as_of === "now" ? "now" : "then"}: ${others}, ${c.eligible ?? 0} of them eligible`,
        excluded ? `; not eligible: ${excluded}` : "", "."),
      top.length ? table(Object.keys(top[0]).map((k) => k.replace(/_/g, " ")), top.map((row) =>
        Object.entries(row).map(([k, v]) => (k === "worker_sid" || k === "sid") ? resourceLink(ws, "worker", v)
          : typeof v === "object" && v !== null ? h("code", {}, JSON.stringify(v)) : String(v ?? "–"))), "Workers considered") : null);
  }
  return h("div", { class: "decision" },
    h("h3", {}, d.worker_sid ? ["Chosen: ", resourceLink(ws, "worker", d.worker_sid, d.worker_friendly_name || d.worker_sid)] : "No worker chosen yet"),
    d.reason ? h("p", {}, d.reason) : null,
    facts.length ? h("dl", { class: "details" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null,
    considered);
}

// ---------------------------------------------------------------- workflows

const aboutWorkflows = (e) => e.resource_type === "workflow" || e.resource_type === "task_queue";

export async function workflows(ctx) {
  const { ws } = ctx;
  return h("div", {}, h("h1", {}, "Workflows"), section("All workflows", ctx.live(async () => {
    const list = await all(wsPath(ws, "Workflows"), "workflows");
    return table(["Workflow", "SID", "Reservation timeout"], list.map((w) => [
      link(`/workspaces/${ws}/workflows/${w.sid}`, w.friendly_name), h("code", {}, w.sid), `${w.task_reservation_timeout} s`]), "Workflows");
  }, aboutWorkflows)));
}

export async function workflow(ctx) {
  const { ws, sid } = ctx;
  const w = await get(wsPath(ws, "Workflows", sid));
  // Redrawn when the workflow (or a queue it names) changes elsewhere.
  return h("div", {}, h("h1", {}, w.friendly_name), ctx.live(async () => {
    const [now, queues] = await Promise.all([get(wsPath(ws, "Workflows", sid)), all(wsPath(ws, "TaskQueues"), "task_queues")]);
    const names = Object.fromEntries(queues.map((q) => [q.sid, q.friendly_name]));
    const configuration = JSON.parse(now.configuration || "{}");
    return h("div", {}, h("p", { class: "muted" }, h("code", {}, sid), ` · reservation timeout ${now.task_reservation_timeout} s`),
      section("Filters and targets", workflowDiagram(ws, configuration, names)),
      h("details", { class: "card" }, h("summary", {}, "Configuration JSON"), json(configuration)));
  }, aboutWorkflows));
}

// ---------------------------------------------------------------- events

function eventItem(ws, e) {
  const date = e.event_date || (e.event_date_ms ? new Date(e.event_date_ms).toISOString() : "");
  const related = [["task", e.task_sid || (e.event_data && e.event_data.task_sid)],
    ["worker", e.worker_sid || (e.event_data && e.event_data.worker_sid)],
    ["task_queue", e.task_queue_sid || (e.event_data && e.event_data.task_queue_sid)],
    ["workflow", e.workflow_sid || (e.event_data && e.event_data.workflow_sid)]]
    .filter(([, sid]) => sid);
  return h("li", { class: "event", "data-event-type": e.event_type },
    h("time", { datetime: date }, date.replace("T", " ").replace(/\.\d+Z$|Z$/, "")),
    h("span", { class: "etype" }, e.event_type),
    h("span", { class: "edesc" }, e.description || ""),
    h("span", { class: "erefs" }, related.map(([type, sid]) => [resourceLink(ws, type, sid, `${type.replace("_", " ")} ${sid.slice(0, 8)}…`), " "])));
}

const SHOWN_EVENTS = 300;
const FILTER_BY_PREFIX = { WT: "TaskSid", WK: "WorkerSid", WQ: "TaskQueueSid", WW: "WorkflowSid", WR: "ReservationSid" };

export async function events(ctx) {
  const { ws } = ctx;
  const params = new URLSearchParams(location.search);
  const type = h("input", { id: "event-type", name: "type", list: "event-types", value: params.get("type") || "", placeholder: "e.g. reservation.created" });
  const resource = h("input", { id: "event-resource", name: "resource", value: params.get("resource") || "", placeholder: "WT…, WK…, WQ…, WW… or WR…", spellcheck: "false" });
  const types = ["task.created", "task.updated", "task.canceled", "task.completed", "task.wrapup", "task.deleted",
    "task.system-deleted", "task-queue.entered", "task-queue.moved", "task-queue.timeout",
    "reservation.created", "reservation.accepted", "reservation.rejected", "reservation.timeout",
    "reservation.canceled", "reservation.rescinded", "reservation.completed", "reservation.wrapup",
    "worker.activity.update", "worker.attributes.update", "worker.capacity.update", "worker.channel.availability.update",
    "workflow.target-matched", "workflow.entered", "workflow.timeout", "workflow.skipped"];
  const list = h("ol", { class: "events", "aria-label": "Events, newest first" });
  const matches = (e) => (!type.value || e.event_type === type.value) && (!resource.value ||
    [e.resource_sid, e.task_sid, e.worker_sid, e.task_queue_sid, e.workflow_sid, e.reservation_sid].includes(resource.value));
  const show = (e) => {
    const empty = list.querySelector("li.muted");
    if (empty) empty.remove();
    list.prepend(eventItem(ws, e));
    // A page left open on a busy workspace keeps the newest only, not every event since.
    while (list.children.length > SHOWN_EVENTS) list.lastChild.remove();
  };
  // For each load in flight, the live events heard meanwhile: its page may have been read
  // before they happened, and would otherwise wipe them out.
  const inFlight = new Set();
  const load = async () => {
    // As many as the live list keeps, so a reload after a reconnect shows the same.
    const query = { PageSize: String(SHOWN_EVENTS), Minutes: "43200" };
    if (type.value) query.EventType = type.value;
    const key = FILTER_BY_PREFIX[resource.value.slice(0, 2)];
    if (resource.value && key) query[key] = resource.value;
    const heard = [];
    inFlight.add(heard);
    let page;
    try {
      page = await get(wsPath(ws, "Events"), query);
    } finally {
      inFlight.delete(heard);
    }
    list.replaceChildren(...page.events.map((e) => eventItem(ws, e)));
    if (!page.events.length) list.append(h("li", { class: "muted" }, "No events"));
    const listed = new Set(page.events.map((e) => e.sid));
    for (const e of heard) if (!listed.has(e.sid)) show(e);
  };
  ctx.onReconnect(() => load().catch(() => {}));
  ctx.onEvent((e) => {
    if (!matches(e)) return;
    for (const heard of inFlight) heard.push(e);
    show(e);
  });
  const form = h("form", { class: "filters", role: "search", onsubmit: async (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (type.value) q.set("type", type.value);
    if (resource.value) q.set("resource", resource.value.trim());
    history.replaceState(null, "", `${location.pathname}${q.toString() ? "?" + q : ""}`);
    await load().catch((error) => toast(error.message, "error"));
  } }, h("div", { class: "field" }, h("label", { for: "event-type" }, "Event type"), type,
    h("datalist", { id: "event-types" }, types.map((t) => h("option", { value: t })))),
  h("div", { class: "field" }, h("label", { for: "event-resource" }, "Resource SID"), resource),
  h("button", { type: "submit" }, "Filter"));
  await load();
  return h("div", {}, h("h1", {}, "Events"), form, section("Newest first (live)", list));
}

// ---------------------------------------------------------------- the expression playground

export async function playground(ctx) {
  const { ws } = ctx;
  const expression = h("input", { id: "expression", class: "code", spellcheck: "false", autocomplete: "off",
    value: 'skills HAS "support"', "aria-describedby": "expression-status" });
  const subject = h("select", { id: "subject" }, h("option", { value: "Workers" }, "Workers"), h("option", { value: "Tasks" }, "Tasks"));
  const taskAttributes = jsonEditor("playground-task", "Task attributes (for task. references)", '{\n  "type": "support"\n}', 4);
  const status = h("div", { id: "expression-status", "aria-live": "polite" });
  const marker = h("pre", { class: "marker", "aria-hidden": "true" });
  const results = h("div", { id: "playground-results" });
  let timer = null;
  let asked = 0;
  const evaluate = async () => {
    const mine = ++asked;
    const answer = await optional("POST", wsPath(ws, "ExpressionEvaluations"), {
      Expression: expression.value, Subject: subject.value,
      TaskAttributes: taskAttributes.check() ? taskAttributes.area.value : undefined,
    }).catch((error) => ({ valid: false, error: { message: error.message } }));
    if (mine !== asked) return;
    marker.textContent = "";
    if (answer === null) {
      status.replaceChildren(h("p", { class: "muted unavailable" }, "Expression evaluation is not available on this server."));
      results.replaceChildren();
      return;
    }
    if (!answer.valid) {
      const err = answer.error || {};
      expression.setAttribute("aria-invalid", "true");
      status.replaceChildren(h("p", { class: "error" }, err.message || "Does not parse",
        err.line != null ? ` (line ${err.line}, column ${err.column})` : ""));
      if (typeof err.position === "number") {
        const text = expression.value;
        const at = Math.min(err.position, text.length);
        marker.replaceChildren(text.slice(0, at), h("mark", {}, text.slice(at, at + 1) || " "),
          text.slice(at + 1), `\n${" ".repeat(at)}^`);
      }
      results.replaceChildren();
      return;
    }
    expression.removeAttribute("aria-invalid");
    status.replaceChildren(h("p", { class: "ok" }, `Valid · ${answer.count} match${answer.count === 1 ? "" : "es"}`));
    const kind = subject.value === "Workers" ? "worker" : "task";
    results.replaceChildren(table(["SID", "Name"], (answer.matches || []).map((m) => [
      resourceLink(ws, kind, m.sid), m.friendly_name || "–"]), "Matches"));
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(evaluate, 250); };
  for (const el of [expression, subject, taskAttributes.area]) el.addEventListener("input", later);
  subject.addEventListener("change", later);
  evaluate();
  return h("div", {}, h("h1", {}, "Expression playground"),
    h("p", { class: "muted" }, "Type a TargetWorkers or workflow filter expression: the matching workers or tasks show as you type."),
    h("div", { class: "card" },
      h("div", { class: "field" }, h("label", { for: "expression" }, "Expression"), expression, marker, status),
      h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: "subject" }, "Match against"), subject)),
      taskAttributes.node),
    section("Matches", results));
}

// ---------------------------------------------------------------- the manual clock

export async function clock(ctx) {
  const { ws } = ctx;
  const seconds = h("input", { id: "advance", type: "number", min: 0, step: "any", value: 30 });
  const now = h("p", { class: "clock-now" });
  const showNow = async () => {
    const c = await get("/dev/clock");
    now.replaceChildren("Server time: ", h("time", { datetime: c.now }, c.now));
  };
  const form = h("form", { class: "card row", onsubmit: async (event) => {
    event.preventDefault();
    const ok = await act(`Clock moved ${seconds.value} s`, () => post("/dev/clock", { Advance: seconds.value }));
    // A move that fires nothing sends no event: the timers' "in" is read again all the same.
    if (ok) { timers.refresh(); await showNow(); }
  } }, h("div", { class: "field" }, h("label", { for: "advance" }, "Move the clock forward by (seconds)"), seconds),
  h("button", { type: "submit", class: "primary" }, "Move the clock"));
  const timers = ctx.live(async () => {
    const answer = await optional("GET", wsPath(ws, "Timers"));
    if (answer === null) return h("p", { class: "muted unavailable" }, "The list of pending timers is not available on this server.");
    const short = (sid) => (sid ? `${sid.slice(0, 10)}…` : sid);
    return table(["Due at", "In", "Kind", "What", "Task", "Worker"], answer.timers.map((t) => [
      h("span", { class: "nowrap" }, (t.due_at || "").replace("T", " ").replace(/(\.\d+)?Z$/, "")),
      h("span", { class: "nowrap" }, duration(t.due_in_ms ?? (t.due_ms - answer.now_ms))), t.kind.replace(/_/g, " "),
      t.description || "", resourceLink(ws, "task", t.task_sid, short(t.task_sid)),
      resourceLink(ws, "worker", t.worker_sid, short(t.worker_sid))]), "Pending timers");
  }, () => true, 200);
  await showNow();
  return h("div", {}, h("h1", {}, "Clock"), now, form, section("Pending timers", timers));
}

export const VIEWS = { overview, "task-queues": taskQueues, queue, workers, worker, tasks, task,
                       workflows, workflow, events, playground, clock };
