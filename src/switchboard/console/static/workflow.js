// A workflow's configuration drawn as boxes: each filter in the order they are tried, its
// targets as a cascade (each one tried after the previous one's timeout), then the default.

import { h, link } from "./ui.js";

function target(ws, t, i, names) {
  const facts = [];
  facts.push(["Workers", t.expression || h("span", {}, "any of the queue's")]);
  if (t.priority !== undefined) facts.push(["Priority", t.priority]);
  if (t.timeout !== undefined) facts.push(["Timeout", `${t.timeout} s`]);
  if (t.order_by) facts.push(["Order by", t.order_by]);
  if (t.skip_if) facts.push(["Skip if", t.skip_if]);
  if (t.known_worker_sid) facts.push(["Known worker", t.known_worker_sid]);
  if (t.known_worker_friendly_name) facts.push(["Known worker", t.known_worker_friendly_name]);
  if (t.worker_selection) facts.push(["Selection", t.worker_selection]);
  const queue = t.queue || t.task_queue_sid;
  return h("li", { class: "target" },
    h("span", { class: "step-no", "aria-hidden": "true" }, String(i + 1)),
    h("div", {}, h("strong", {}, "Queue ", queue ? link(`/workspaces/${ws}/task-queues/${queue}`, names[queue] || queue) : "–"),
      facts.length ? h("dl", { class: "details" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : h("code", {}, String(v)))])) : null));
}

// How a task gets from one target to the next: its skip_if, its timeout, or not at all (a
// target with neither keeps the task until a worker takes it).
function passage(previous) {
  const ways = [];
  if (previous.skip_if) ways.push("if skipped");
  if (previous.timeout !== undefined) ways.push(`after ${previous.timeout} s`);
  return ways.length ? `${ways.join(" or ")} →` : "never: no timeout nor skip_if before →";
}

function cascade(ws, targets, names) {
  return targets.flatMap((t, j) => [
    j ? h("li", { class: "arrow" }, passage(targets[j - 1])) : null,
    target(ws, t, j, names)]);
}

export function workflowDiagram(ws, configuration, names) {
  const routing = configuration.task_routing || {};
  const filters = routing.filters || [];
  const boxes = filters.map((f, i) => h("li", { class: "filter" },
    h("div", { class: "filter-head" },
      h("span", { class: "step-no", "aria-hidden": "true" }, String(i + 1)),
      h("strong", {}, f.filter_friendly_name || f.friendly_name || `Filter ${i + 1}`),
      h("code", { class: "expr" }, f.expression || "true")),
    h("p", { class: "muted small" }, "When the task matches, its targets are tried in turn:"),
    h("ol", { class: "targets" }, cascade(ws, f.targets || [], names))));
  const fallback = routing.default_filter;
  return h("div", { class: "diagram" },
    h("p", { class: "muted small" }, "A new task is tested against each filter in order; the first that matches routes it."),
    h("ol", { class: "filters" }, boxes.length ? boxes : h("li", { class: "muted" }, "No filters")),
    h("div", { class: "filter default" }, h("div", { class: "filter-head" }, h("strong", {}, "No filter matched: the default filter")),
      fallback ? h("ol", { class: "targets" }, target(ws, fallback, 0, names))
        : h("p", { class: "muted small" }, "The task waits in no queue (default filter absent).")));
}
