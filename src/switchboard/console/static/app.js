// The console's shell: sign-in, the client-side router, the workspace's live feed, and the
// live regions of the current view (refreshed when an event concerning them arrives).

import { ApiError, get, request, session } from "./api.js";
import { LiveFeed } from "./live.js";
import { h, link, toast } from "./ui.js";
import { VIEWS, workspaceList } from "./views.js";

const main = document.getElementById("main");
const state = { feed: null, feedWorkspace: null, regions: [], eventHandlers: [],
                reconnectHandlers: [], token: 0, clock: null };
window.switchboardConsole = { events: 0, lastEventAt: 0, state };

// ---------------------------------------------------------------- navigation

export function go(path, replace = false) {
  const url = "/console" + path;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-route]");
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(a.getAttribute("href").replace(/^\/console/, ""));
});
// Back and forward; not the skip link's "#main", which changes the hash alone (re-rendering
// would throw away what the user was typing).
window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== state.shown) route();
});

function parse(pathname) {
  const parts = pathname.replace(/^\/console\/?/, "").split("/").filter(Boolean)
    .map(decodeURIComponent);
  if (parts[0] === "sign-in") return { view: "signIn" };
  if (parts[0] !== "workspaces" || !parts[1]) return { view: "workspaces" };
  const [, ws, kind, sid] = parts;
  const names = { "task-queues": "queue", workers: "worker", tasks: "task", workflows: "workflow" };
  if (!kind) return { view: "overview", ws };
  if (names[kind]) return sid ? { view: names[kind], ws, sid } : { view: kind, ws };
  return { view: kind, ws };
}

// ---------------------------------------------------------------- live regions

// A refresh must not drop a keyboard user's place: the focus moves to the same control in the
// new content (same tag, id and name), or else to the region itself, never back to the page's top.
const focusKey = (e) => `${e.tagName}|${e.id}|${e.getAttribute("aria-label") || e.textContent}`;

function swap(region, node) {
  const had = document.activeElement;
  const inside = had && had !== region && region.contains(had);
  const key = inside ? focusKey(had) : null;
  region.replaceChildren(node);
  if (!inside) return;
  const same = [...region.querySelectorAll("a, button, input, select, textarea, summary")]
    .find((e) => focusKey(e) === key);
  (same || region).focus({ preventScroll: true });
}

function live(render, concerns = () => true, delay = 150) {
  const region = h("div", { class: "live", tabindex: "-1" });
  const token = state.token;
  let timer = null;
  let cost = 0;  // how long the last refresh took: a costly region refreshes less often
  const refresh = async () => {
    if (token !== state.token) return;
    const started = performance.now();
    try {
      const node = await render();
      if (token === state.token) swap(region, node);
    } catch (error) {
      if (token === state.token) swap(region, problem(error));
    }
    cost = performance.now() - started;
    timer = null;  // events that came during the refresh schedule the next one from here
    if (pending) { pending = false; schedule(); }
  };
  let pending = false;
  const schedule = () => {
    if (timer) { pending = true; return; }
    timer = setTimeout(refresh, Math.max(delay, 2 * cost));
  };
  state.regions.push({ concerns, schedule });
  region.refresh = schedule;  // for a view whose own controls change what the region shows
  region.append(h("p", { class: "muted" }, "Loading…"));
  refresh();
  return region;
}

function onEvent(handler) {
  state.eventHandlers.push(handler);
}

function onReconnect(handler) {
  state.reconnectHandlers.push(handler);
}

function dispatch(event) {
  window.switchboardConsole.events += 1;
  window.switchboardConsole.lastEventAt = performance.now();
  for (const region of state.regions) if (region.concerns(event)) region.schedule();
  for (const handler of state.eventHandlers) handler(event);
}

function setFeed(ws) {
  if (state.feedWorkspace === ws) return;
  if (state.feed) state.feed.close();
  state.feed = null;
  state.feedWorkspace = ws;
  if (!ws) return;
  state.liveStatus = "connecting";
  state.wasLive = false;
  state.feed = new LiveFeed(ws, dispatch, (status) => {
    state.liveStatus = status;
    const el = document.getElementById("live");
    if (el) { el.textContent = status === "live" ? "● Live" : `○ ${status}`; el.dataset.state = status; }
    if (status === "live") {
      // What changed before the feed was connected (or while it was down) is reloaded: the
      // live regions now, the views that add events as they come on a reconnection.
      for (const region of state.regions) region.schedule();
      if (state.wasLive) for (const handler of state.reconnectHandlers) handler();
      state.wasLive = true;
    }
  });
}

export function problem(error) {
  if (error instanceof ApiError && error.status === 404) {
    return h("div", { class: "notice", role: "alert" }, h("h1", {}, "Not found"),
      h("p", {}, error.message), h("p", {}, link("/", "Back to your workspaces")));
  }
  return h("div", { class: "notice error", role: "alert" }, h("p", {}, String(error.message || error)));
}

// ---------------------------------------------------------------- chrome

function header() {
  const who = document.getElementById("who");
  who.replaceChildren();
  if (!session.account) return;
  who.append(h("span", { class: "muted", title: session.account.account_sid },
    session.account.friendly_name || session.account.account_sid),
  h("button", { type: "button", class: "linklike", onclick: signOut }, "Sign out"));
}

async function clockAvailable() {
  if (state.clock === null) {
    try { await get("/dev/clock"); state.clock = true; } catch { state.clock = false; }
  }
  return state.clock;
}

async function sideNav(route) {
  const side = document.getElementById("side");
  if (!route.ws) { side.replaceChildren(); side.hidden = true; return; }
  side.hidden = false;
  const base = `/workspaces/${route.ws}`;
  const items = [["", "Overview", "overview"], ["/task-queues", "Task queues", "queue"],
    ["/workers", "Workers", "worker"], ["/tasks", "Tasks", "task"],
    ["/workflows", "Workflows", "workflow"], ["/events", "Events", "events"],
    ["/playground", "Expression playground", "playground"]];
  if (await clockAvailable()) items.push(["/clock", "Clock", "clock"]);
  const here = (view) => route.view === view || route.view === `${view}s` ||
    (view === "queue" && route.view === "task-queues");
  const status = state.liveStatus || "connecting";
  side.replaceChildren(h("p", { class: "live-state", id: "live", "aria-live": "off", "data-state": status },
    status === "live" ? "● Live" : `○ ${status}`),
    h("ul", {}, items.map(([path, label, view]) => h("li", {},
      h("a", { href: `/console${base}${path}`, "data-route": "", "aria-current": here(view) ? "page" : null }, label)))));
}

// ---------------------------------------------------------------- sign-in

function signInView() {
  const error = h("p", { class: "error", role: "alert" });
  const username = h("input", { id: "username", name: "username", required: true, autocomplete: "username",
    spellcheck: "false", placeholder: "AC… or SK…" });
  const password = h("input", { id: "password", name: "password", type: "password", required: true,
    autocomplete: "current-password" });
  const form = h("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const who = await request("POST", "/console/api/session",
        { username: username.value.trim(), password: password.value });
      session.csrf = who.csrf;
      session.account = who;
      header();
      const next = new URLSearchParams(location.search).get("next");
      go(next && next.startsWith("/") ? next : "/", true);
    } catch (e) {
      error.textContent = e.status === 401 ? "Those credentials do not match an active account or API key."
        : String(e.message);
      password.select();
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "With an Account SID and its auth token, or an API key SID and its secret."),
  h("label", { for: "username" }, "Account SID or API key SID"), username,
  h("label", { for: "password" }, "Auth token or API key secret"), password,
  h("button", { type: "submit", class: "primary" }, "Sign in"), error);
  setTimeout(() => username.focus(), 0);
  return form;
}

async function signOut() {
  try { await request("DELETE", "/console/api/session"); } catch { /* signed out anyway */ }
  session.csrf = null;
  session.account = null;
  setFeed(null);
  header();
  go("/sign-in");
}

session.onSignedOut = () => {
  if (!session.account) return;
  session.account = null;
  session.csrf = null;
  setFeed(null);
  header();
  toast("Your session ended; please sign in again.", "error");
  go(`/sign-in?next=${encodeURIComponent(location.pathname.replace(/^\/console/, ""))}`, true);
};

// ---------------------------------------------------------------- the router

async function route() {
  state.shown = location.pathname + location.search;
  state.token += 1;
  state.regions = [];
  state.eventHandlers = [];
  state.reconnectHandlers = [];
  const r = parse(location.pathname);
  if (!session.account && r.view !== "signIn") {
    go(`/sign-in?next=${encodeURIComponent(location.pathname.replace(/^\/console/, "") + location.search)}`, true);
    return;
  }
  if (r.view === "signIn") {
    setFeed(null);
    await sideNav({});
    main.replaceChildren(signInView());
    document.title = "Sign in · Switchboard";
    return;
  }
  setFeed(r.ws || (r.view === "workspaces" ? "*" : null));  // "*": the account's workspaces
  await sideNav(r);
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(link("/", "Workspaces"), r.ws ? [" / ", link(`/workspaces/${r.ws}`, r.ws)] : null);
  const view = r.view === "workspaces" ? workspaceList : VIEWS[r.view];
  const ctx = { ...r, live, onEvent, onReconnect, go, clock: state.clock };
  try {
    if (r.ws) await get(`/v1/Workspaces/${r.ws}`).then((w) => {
      crumbs.replaceChildren(link("/", "Workspaces"), " / ", link(`/workspaces/${r.ws}`, w.friendly_name));
      ctx.workspace = w;
    });
    if (!view) throw new ApiError(404, { message: `No such page: ${location.pathname}` });
    const node = await view(ctx);
    main.replaceChildren(node);
    document.title = `${(node.querySelector("h1") || {}).textContent || "Console"} · Switchboard`;
  } catch (error) {
    main.replaceChildren(problem(error));
    document.title = "Not found · Switchboard";
  }
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

async function boot() {
  try {
    const who = await get("/console/api/session");
    if (who.account_sid) {
      session.account = who;
      session.csrf = who.csrf;
    }
  } catch { /* not signed in */ }
  header();
  route();
}

boot();
