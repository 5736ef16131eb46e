"""The console as a demanding user and a hostile one try it: deep links on reload and the back
button, every kind of change shown live, hostile names shown as text, nothing fetched from
elsewhere, the keyboard alone, long and non-Latin names."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from switchboard.testing import TaskRouter
from tests.console.conftest import Built, build_workspace, sign_in

LIVE_TIMEOUT_MS = 10_000
HOSTILE = '"><img src=x onerror=pwned=1><script>pwned=2</script>'


def wait_live(page: Any) -> None:
    page.wait_for_function("() => document.getElementById('live')?.dataset.state === 'live'")
    page.evaluate("window.notReloaded = true")


def test_every_deep_link_survives_a_reload_and_the_back_button(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    task = built.client.tasks.create(attributes='{"type": "sales"}',
                                     workflow_sid=built.workflow_sid)
    ws = built.workspace_sid
    views = [(f"/workspaces/{ws}", "Support centre"),
             (f"/workspaces/{ws}/task-queues/{built.support_sid}", "Support"),
             (f"/workspaces/{ws}/workers/{built.workers['Bob']}", "Bob"),
             (f"/workspaces/{ws}/tasks/{task.sid}", f"Task {task.sid}"),
             (f"/workspaces/{ws}/workflows/{built.workflow_sid}", "Front door")]
    sign_in(page, taskrouter, views[0][0])
    for path, heading in views:
        page.goto(f"{taskrouter.url}/console{path}")
        page.reload()
        page.get_by_role("heading", level=1, name=heading, exact=True).wait_for()
    # Through the page's own links, then back and forward again.
    page.goto(f"{taskrouter.url}/console/workspaces/{ws}")
    page.get_by_role("heading", level=1, name="Support centre", exact=True).wait_for()
    page.evaluate("window.notReloaded = true")
    page.locator("article.queue h3").get_by_role("link", name="Support").click()
    page.get_by_role("heading", name="Waiting tasks, in routing order").wait_for()
    page.get_by_role("link", name="Bob").click()
    page.get_by_role("heading", level=1, name="Bob", exact=True).wait_for()
    page.go_back()
    page.get_by_role("heading", level=1, name="Support", exact=True).wait_for()
    page.go_back()
    page.get_by_role("heading", level=1, name="Support centre", exact=True).wait_for()
    page.go_forward()
    page.get_by_role("heading", level=1, name="Support", exact=True).wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#side a[aria-current=page]").inner_text() == "Task queues"


def test_every_kind_of_change_shows_without_a_reload(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    ws, bob = built.workspace_sid, built.workers["Bob"]
    # A queue: its statistics and waiting tasks follow tasks and workers.
    sign_in(page, taskrouter, f"/workspaces/{ws}/task-queues/{built.sales_sid}")
    wait_live(page)
    waiting = page.locator('article.queue [data-figure="waiting"] dd')
    waiting.filter(has_text="0").wait_for()
    task = built.client.tasks.create(attributes='{"type": "sales"}',
                                     workflow_sid=built.workflow_sid)
    waiting.filter(has_text="1").wait_for(timeout=LIVE_TIMEOUT_MS)
    page.locator("section:has(h2:text('Waiting tasks'))").get_by_role(
        "link", name=task.sid).wait_for(timeout=LIVE_TIMEOUT_MS)
    # A worker becoming available is reserved the task: the queue shows it at once.
    built.client.workers(bob).update(activity_sid=built.idle_sid)
    page.locator('article.queue .figure:has(dt:text("Reserved")) dd').filter(
        has_text="1").wait_for(timeout=LIVE_TIMEOUT_MS)
    waiting.filter(has_text="0").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True

    # The worker's page: the reservation accepted through the API, then completed.
    page.get_by_role("link", name="Bob").click()
    page.get_by_role("heading", level=1, name="Bob").wait_for()
    page.get_by_role("button", name="Accept").wait_for()
    (reservation,) = built.client.tasks(task.sid).reservations.list()
    built.client.workers(bob).reservations(reservation.sid).update(
        reservation_status="accepted")
    page.get_by_role("button", name="Complete").wait_for(timeout=LIVE_TIMEOUT_MS)
    built.client.tasks(task.sid).update(assignment_status="completed", reason="done")
    page.locator("td .badge-completed").wait_for(timeout=LIVE_TIMEOUT_MS)
    # Its activity and attributes changed elsewhere.
    built.client.workers(bob).update(activity_sid=built.offline_sid,
                                     attributes='{"skills": ["sales"], "team": "blue"}')
    page.locator('[data-figure="activity"] dd').filter(has_text="Offline").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    page.locator("pre.json").filter(has_text='"blue"').wait_for(timeout=LIVE_TIMEOUT_MS)

    # A task canceled elsewhere.
    other = built.client.tasks.create(attributes='{"type": "sales"}',
                                      workflow_sid=built.workflow_sid)
    page.goto(f"{taskrouter.url}/console/workspaces/{ws}/tasks/{other.sid}")
    page.locator('[data-figure="status"] dd').filter(has_text="pending").wait_for()
    wait_live(page)
    built.client.tasks(other.sid).update(assignment_status="canceled", reason="gone")
    page.locator('[data-figure="status"] dd').filter(has_text="canceled").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    # The workers list follows activities, and links each open reservation to its task.
    page.get_by_role("link", name="Workers", exact=True).click()
    row = page.locator("tr", has=page.get_by_role("link", name="Chloé"))
    row.get_by_text("Offline").wait_for()
    built.client.workers(built.workers["Chloé"]).update(activity_sid=built.idle_sid)
    row.locator(".badge-available").wait_for(timeout=LIVE_TIMEOUT_MS)
    lead = built.client.tasks.create(attributes='{"type": "sales"}',
                                     workflow_sid=built.workflow_sid)
    row.locator(f'a[href$="/tasks/{lead.sid}"]').wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "pending" in row.inner_text()
    assert page.evaluate("window.notReloaded") is True


def test_moving_the_clock_updates_the_pending_timers(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    built.offer("Alice")
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/clock")
    timeout = page.locator("section:has(h2:text('Pending timers')) tbody tr").filter(
        has_text="reservation timeout")
    timeout.filter(has_text="1m").wait_for()
    # Nothing fires in 10 s, so no event comes: the timers are read again all the same.
    page.get_by_label("Move the clock forward by (seconds)").fill("10")
    page.get_by_role("button", name="Move the clock").click()
    timeout.filter(has_text="50s").wait_for(timeout=LIVE_TIMEOUT_MS)


def hostile_workspace(taskrouter: TaskRouter) -> tuple[Built, str, str]:
    """Markup in every name, attribute and expression, and a long name in another script."""
    built = build_workspace(taskrouter, name="WS " + HOSTILE)
    space = built.client
    long_name = "Ünïcödé-Ελληνικά-" + "x" * 44
    queue = space.task_queues.create(friendly_name="Q " + HOSTILE,
                                     target_workers='skills HAS "support"')
    space.task_queues.create(friendly_name=long_name, target_workers="1==1")
    bare = HOSTILE.replace('"', "")
    configuration = {"task_routing": {"filters": [{
        "filter_friendly_name": "F " + HOSTILE, "expression": f'type == "{bare}"',
        "targets": [{"queue": queue.sid, "expression": f'worker.x == "{bare}"', "timeout": 30}],
    }], "default_filter": {"queue": queue.sid}}}
    workflow = space.workflows.create(friendly_name="WF " + HOSTILE,
                                      configuration=json.dumps(configuration))
    worker = space.workers.create(friendly_name="W " + HOSTILE, activity_sid=built.idle_sid,
                                  attributes=json.dumps({"skills": ["support"], "x": HOSTILE}))
    space.workers.create(friendly_name=long_name, activity_sid=built.offline_sid,
                         attributes=json.dumps({"skills": ["support"], "name": long_name}))
    task = space.tasks.create(attributes=json.dumps({"type": "support", "x": HOSTILE}),
                              workflow_sid=workflow.sid)
    return built, task.sid, worker.sid


def test_hostile_names_are_text_and_nothing_comes_from_elsewhere(
        page: Any, taskrouter: TaskRouter) -> None:
    built, task_sid, worker_sid = hostile_workspace(taskrouter)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []  # a script error, or anything the page's CSP refused
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    ws = built.workspace_sid
    sign_in(page, taskrouter, f"/workspaces/{ws}")
    for path in ("", "/task-queues", "/workers", f"/workers/{worker_sid}", "/tasks",
                 f"/tasks/{task_sid}", "/workflows", f"/workflows/{built.workflow_sid}",
                 "/events", "/playground", "/clock"):
        page.goto(f"{taskrouter.url}/console/workspaces/{ws}{path}")
        page.locator("main h1").wait_for()
        page.wait_for_function("() => !document.querySelector('main .live > p.muted')")
        assert page.evaluate("typeof window.pwned") == "undefined", path
        assert page.locator("main img, main script").count() == 0, path
        # Long names wrap inside their cards rather than running out of them.
        overflowing = page.evaluate("""() => [...document.querySelectorAll(
            'main h1, main h2, main h3, main .decision, main .step, main .target')].filter(
            e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right >
            e.closest('.card, main').getBoundingClientRect().right + 1).map(e => e.outerHTML
            .slice(0, 80))""")
        assert overflowing == [], (path, overflowing)
    page.goto(f"{taskrouter.url}/console/workspaces/{ws}/tasks/{task_sid}")
    page.locator(".timeline").get_by_text("F " + HOSTILE).first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert [url for url in requests if not url.startswith(taskrouter.url + "/")] == []
    assert errors == []


FOCUSED = """() => { const e = document.activeElement; const s = getComputedStyle(e);
  const label = e.labels && e.labels.length ? e.labels[0].textContent : null;
  return { tag: e.tagName.toLowerCase(), text: (label || e.getAttribute('aria-label') ||
  e.textContent || '').trim().slice(0, 60), outline: s.outlineStyle !== 'none' &&
  parseFloat(s.outlineWidth) >= 2 }; }"""


def test_the_keyboard_alone_reaches_every_control_with_a_visible_focus(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    alice = built.workers["Alice"]
    built.offer("Alice")
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workers/{alice}")
    page.get_by_role("button", name="Accept").wait_for()
    page.locator(".brand").focus()
    page.keyboard.press("Shift+Tab")  # the first control of the page
    seen = [page.evaluate(FOCUSED)["text"]]
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["tag"] in ("a", "button", "input", "select", "textarea", "summary"), focused
        assert focused["outline"], focused  # a visible focus ring on every control
        seen.append(focused["text"])
        if focused["text"].startswith("Accept"):
            break
    assert seen[0] == "Skip to content"
    for name in ("Sign out", "Overview", "Task queues", "Workers", "Tasks", "Workflows",
                 "Events", "Expression playground", "Clock", "Activity", "Attributes", "Save"):
        assert any(text.startswith(name) for text in seen), (name, seen)
    # Acting from the keyboard: the row's controls change, and the focus stays in the table
    # rather than falling back to the top of the page.
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Complete").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("!!document.activeElement.closest('section')"), page.evaluate(FOCUSED)
    for _ in range(4):
        if page.evaluate(FOCUSED)["text"].startswith("Complete"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("td .badge-completed").wait_for(timeout=LIVE_TIMEOUT_MS)
    # Every label names its control; every clickable thing is a link or a button.
    page.goto(f"{taskrouter.url}/console/workspaces/{built.workspace_sid}/tasks")
    page.get_by_role("button", name="Create task").wait_for()
    unlabelled = page.evaluate("""() => [...document.querySelectorAll(
        'input, select, textarea')].filter(e => !e.labels.length).map(e => e.id || e.name)""")
    assert unlabelled == []


def test_why_tells_skipped_targets_order_by_and_known_workers(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    space, ws = built.client, built.workspace_sid
    vip = space.task_queues.create(friendly_name="VIP", target_workers='skills HAS "vip"')
    configuration = {"task_routing": {"filters": [
        {"filter_friendly_name": "Known", "expression": 'type == "known"',
         "targets": [{"queue": built.support_sid, "known_worker_sid": "task.agent"}]},
        {"filter_friendly_name": "Ranked", "expression": 'type == "ranked"',
         "targets": [{"queue": vip.sid, "skip_if": "workers.available == 0"},
                     {"queue": built.support_sid, "order_by": "worker.level DESC"},
                     {"queue": built.sales_sid}]}]}}
    flow = space.workflows.create(friendly_name="Ranked flow",
                                  configuration=json.dumps(configuration))
    for name, level in (("Alice", 1), ("Bob", 5)):
        space.workers(built.workers[name]).update(
            activity_sid=built.idle_sid,
            attributes=json.dumps({"skills": ["support"], "level": level}))
    ranked = space.tasks.create(attributes='{"type": "ranked"}', workflow_sid=flow.sid)
    known = space.tasks.create(attributes=json.dumps(
        {"type": "known", "agent": built.workers["Alice"]}), workflow_sid=flow.sid)

    sign_in(page, taskrouter, f"/workspaces/{ws}/tasks/{ranked.sid}")
    decision = page.locator(".decision")
    decision.get_by_role("link", name="Bob").wait_for()
    skipped = page.locator('.timeline .step[data-kind="target_skipped"]')
    assert "skip_if (workers.available == 0) was true" in skipped.inner_text()
    assert "came first by order_by (worker.level DESC=5" in decision.inner_text()
    # Alice took the known task: the other worker is counted, the chosen one is not.
    assert "The queue's other workers now: 1, 0 of them eligible" in decision.inner_text()

    page.goto(f"{taskrouter.url}/console/workspaces/{ws}/tasks/{known.sid}")
    decision.get_by_role("link", name="Alice").wait_for()
    assert "The task names its worker (task.agent" in decision.inner_text()
    assert decision.locator(".considered").count() == 0  # nobody else was considered

    page.goto(f"{taskrouter.url}/console/workspaces/{ws}/workflows/{flow.sid}")
    page.locator(".diagram .arrow").first.wait_for()
    arrows = page.locator(".diagram .arrow").all_inner_texts()
    assert arrows == ["if skipped →", "never: no timeout nor skip_if before →"]


def test_saving_a_worker_sends_only_what_was_changed(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    bob = built.workers["Bob"]
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workers/{bob}")
    wait_live(page)
    page.get_by_label("Activity").select_option(built.idle_sid)
    # Before it is saved, the worker changes elsewhere: the choice stays, and the attributes
    # editor (untouched) follows.
    built.client.workers(bob).update(attributes='{"skills": ["support"], "team": "red"}')
    editor = page.get_by_label("Attributes")
    page.wait_for_function("() => document.getElementById('worker-attributes')?.value"
                           "?.includes('red')", timeout=LIVE_TIMEOUT_MS)
    assert page.get_by_label("Activity").input_value() == built.idle_sid
    page.get_by_role("button", name="Save").click()
    page.locator('[data-figure="activity"] dd').filter(has_text="Available").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    worker = built.client.workers(bob).fetch()
    assert worker.activity_name == "Available"
    assert json.loads(worker.attributes) == {"skills": ["support"], "team": "red"}
    # Edited attributes are kept while the worker changes elsewhere, then saved alone.
    editor.fill('{"skills": ["sales"]}')
    built.client.workers(bob).update(activity_sid=built.offline_sid)
    page.locator('[data-figure="activity"] dd').filter(has_text="Offline").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    assert editor.input_value() == '{"skills": ["sales"]}'
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Worker updated").wait_for()
    worker = built.client.workers(bob).fetch()
    assert worker.activity_name == "Offline" and json.loads(worker.attributes) == {
        "skills": ["sales"]}


def test_the_list_of_workspaces_is_live(page: Any, taskrouter: TaskRouter) -> None:
    sign_in(page, taskrouter)
    page.get_by_role("heading", name="Workspaces", exact=True).wait_for()
    page.wait_for_function("() => window.switchboardConsole.state.liveStatus === 'live'")
    page.evaluate("window.notReloaded = true")
    made = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Made elsewhere")
    page.get_by_role("link", name="Made elsewhere").wait_for(timeout=LIVE_TIMEOUT_MS)
    taskrouter.client.taskrouter.v1.workspaces(made.sid).update(friendly_name="Renamed")
    page.get_by_role("link", name="Renamed").wait_for(timeout=LIVE_TIMEOUT_MS)
    taskrouter.client.taskrouter.v1.workspaces(made.sid).delete()
    page.get_by_role("link", name="Renamed").wait_for(state="detached", timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True


def test_zoomed_in_or_narrow_the_navigation_stays(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    page.set_viewport_size({"width": 640, "height": 720})  # a laptop at 200 % zoom
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workers/{built.workers['Bob']}")
    page.get_by_role("heading", level=1, name="Bob").wait_for()
    page.get_by_role("link", name="Tasks", exact=True).click()
    page.get_by_role("heading", level=1, name="Tasks").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 640


def test_an_open_page_loses_its_feed_when_its_key_is_deleted(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    key = taskrouter.client.new_keys.create(friendly_name="console")
    as_key = SimpleNamespace(url=taskrouter.url, account_sid=key.sid, auth_token=key.secret)
    sign_in(page, as_key, f"/workspaces/{built.workspace_sid}/events")  # type: ignore[arg-type]
    wait_live(page)
    events = page.locator("li.event")
    built.client.tasks.create(attributes='{"type": "sales"}', workflow_sid=built.workflow_sid)
    events.filter(has_text="task.created").wait_for(timeout=LIVE_TIMEOUT_MS)
    taskrouter.client.keys(key.sid).delete()
    before = page.evaluate("window.switchboardConsole.events")
    # The next event is not sent to the ended session: its stream ends, and the page, trying
    # to reconnect, is told to sign in again.
    built.client.tasks.create(attributes='{"type": "sales"}', workflow_sid=built.workflow_sid)
    page.get_by_role("heading", name="Sign in").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.switchboardConsole.events") == before


def test_an_event_that_comes_while_the_events_page_loads_is_kept(
        page: Any, taskrouter: TaskRouter) -> None:
    """The page's list of events is read while the feed is already live: a task created
    before that read is answered is told live, and the older list must not wipe it out."""
    built = build_workspace(taskrouter)
    held: list[Any] = []
    page.route("**/Events?*", lambda route: held.append(route))  # the page's read, held
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/events")
    wait_live(page)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    older = held[0].fetch()  # the list as it is before the task
    heard = page.evaluate("window.switchboardConsole.events")
    built.client.tasks.create(attributes='{"type": "sales"}', workflow_sid=built.workflow_sid)
    page.wait_for_function(f"() => window.switchboardConsole.events > {heard}")
    held[0].fulfill(response=older)
    page.locator("li.event").filter(has_text="task.created").wait_for(timeout=LIVE_TIMEOUT_MS)


def test_the_skip_link_moves_the_focus_and_keeps_what_was_typed(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks")
    editor = page.get_by_label("Attributes (JSON)")
    editor.fill('{"typed": true}')
    page.locator(".brand").focus()
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'main'")
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")
    assert editor.input_value() == '{"typed": true}'


def test_the_open_event_log_keeps_the_newest_events_only(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/events")
    wait_live(page)
    for _ in range(80):  # four events each
        last = built.client.tasks.create(attributes='{"type": "sales"}',
                                         workflow_sid=built.workflow_sid)
    page.locator(f'li.event a[href$="/tasks/{last.sid}"]').first.wait_for(
        timeout=LIVE_TIMEOUT_MS)
    page.wait_for_function("() => window.switchboardConsole.events >= 320",
                           timeout=LIVE_TIMEOUT_MS)
    # A feed that reconnected meanwhile reloads the newest 300 from the Events list.
    page.wait_for_function("() => document.querySelectorAll('li.event').length === 300",
                           timeout=LIVE_TIMEOUT_MS)
    assert page.locator("li.event").count() == 300


def test_a_task_created_in_the_console_links_to_its_why(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks")
    page.get_by_label("Attributes (JSON)").fill('{"type": "sales"}')
    page.get_by_role("button", name="Create task").click()
    task = page.locator("p.created a").inner_text()
    page.locator("p.created").get_by_role("link", name=task).click()
    page.get_by_role("heading", level=1, name=f"Task {task}").wait_for()
    page.get_by_text("Filter 'Sales leads' matched").wait_for()


def test_workflows_follow_changes_made_elsewhere(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workflows/{built.workflow_sid}")
    page.get_by_text("Support requests", exact=True).wait_for()
    wait_live(page)
    configuration = {"task_routing": {"filters": [{
        "filter_friendly_name": "Everything to sales", "expression": "1 == 1",
        "targets": [{"queue": built.sales_sid}]}]}}
    built.client.workflows(built.workflow_sid).update(configuration=json.dumps(configuration))
    page.get_by_text("Everything to sales", exact=True).wait_for(timeout=LIVE_TIMEOUT_MS)
    assert page.get_by_text("Support requests", exact=True).count() == 0
    page.get_by_role("link", name="Workflows", exact=True).click()
    page.get_by_role("link", name="Front door").wait_for()
    built.client.workflows.create(friendly_name="Back door", configuration=json.dumps(
        configuration))
    page.get_by_role("link", name="Back door").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True
