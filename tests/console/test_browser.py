"""The console in a real browser (Debian's Chromium through Playwright) against a real server,
the workspace built and observed through the official twilio client."""

from __future__ import annotations

import time
from typing import Any

from switchboard.testing import TaskRouter
from tests.console.conftest import build_workspace, sign_in

# Generous: a loaded CI machine must not fail a test that would pass on a quiet one.
LIVE_TIMEOUT_MS = 10_000


def test_sign_in_with_the_keyboard_alone(page: Any, taskrouter: TaskRouter) -> None:
    page.goto(f"{taskrouter.url}/console/")
    username = page.get_by_label("Account SID or API key SID")
    username.wait_for()
    assert page.evaluate("document.activeElement.id") == "username"  # focused on arrival
    page.keyboard.type(taskrouter.account_sid)
    page.keyboard.press("Tab")
    page.keyboard.type(taskrouter.auth_token)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Workspaces", exact=True).wait_for()


def test_sign_in_and_a_wrong_token_is_refused(page: Any, taskrouter: TaskRouter) -> None:
    page.goto(f"{taskrouter.url}/console/")
    page.get_by_label("Account SID or API key SID").fill(taskrouter.account_sid)
    page.get_by_label("Auth token or API key secret").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="do not match").wait_for()
    assert page.context.cookies() == []

    sign_in(page, taskrouter)
    page.get_by_role("heading", name="Workspaces", exact=True).wait_for()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    # The page's script cannot read the session cookie.
    assert "switchboard_console" not in page.evaluate("document.cookie")
    # The browser's cookie alone does not authenticate a change: the CSRF header must come too.
    url = f"{taskrouter.url}/v1/Workspaces"
    assert page.request.post(url, form={"FriendlyName": "forged"}).status == 401
    csrf = page.evaluate("fetch('/console/api/session').then(r => r.json()).then(j => j.csrf)")
    assert page.request.post(url, form={"FriendlyName": "mine"},
                             headers={"X-Switchboard-Csrf": csrf}).status == 201


def test_a_workspace_built_through_the_sdk(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter)
    page.get_by_role("link", name="Support centre").click()
    page.get_by_role("heading", name="Support centre").wait_for()
    queues = page.locator("article.queue h3")
    queues.filter(has_text="Support").wait_for()
    assert sorted(queues.all_inner_texts()) == ["Sales", "Support"]
    page.get_by_role("link", name="Workers", exact=True).click()
    for name in built.workers:
        page.get_by_role("link", name=name).wait_for()
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name="Front door").click()
    page.get_by_text("Support requests", exact=True).wait_for()
    assert page.locator(".diagram .filter").count() == 3  # two filters and the default


def test_a_task_created_through_the_sdk_appears_without_a_reload(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks")
    page.get_by_role("heading", name="Tasks").wait_for()
    page.wait_for_function("() => document.getElementById('live')?.dataset.state === 'live'")
    page.evaluate("window.notReloaded = true")
    created = time.monotonic()
    task = built.client.tasks.create(attributes='{"type": "sales"}',
                                     workflow_sid=built.workflow_sid)
    page.get_by_role("link", name=task.sid).wait_for(timeout=LIVE_TIMEOUT_MS)
    delay = time.monotonic() - created
    print(f"the SDK's task appeared in the console {delay * 1000:.0f} ms after it was created")
    assert page.evaluate("window.notReloaded") is True  # the same page, updated in place
    assert page.evaluate("window.switchboardConsole.events") >= 1  # from the live feed


def test_accept_and_complete_a_reservation_from_the_console(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    alice = built.workers["Alice"]
    task = built.offer("Alice")
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workers/{alice}")
    page.get_by_role("heading", name="Alice").wait_for()
    page.get_by_role("button", name="Accept").click()
    page.get_by_role("button", name="Complete").wait_for(timeout=LIVE_TIMEOUT_MS)
    (reservation,) = built.client.tasks(task.sid).reservations.list()
    assert reservation.reservation_status == "accepted"
    assert built.client.tasks(task.sid).fetch().assignment_status == "assigned"

    page.get_by_role("button", name="Complete").click()
    page.locator(".badge-completed").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert built.client.tasks(task.sid).fetch().assignment_status == "completed"
    assert (built.client.tasks(task.sid).reservations(reservation.sid).fetch()
            .reservation_status == "completed")


def test_change_a_workers_activity_and_attributes(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    bob = built.workers["Bob"]
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/workers/{bob}")
    page.get_by_label("Activity").select_option(built.idle_sid)
    attributes = page.get_by_label("Attributes")
    attributes.fill('{"skills": ["sales"], ')
    page.get_by_text("Not valid JSON").wait_for()
    attributes.fill('{"skills": ["sales"], "languages": ["de"]}')
    page.get_by_role("button", name="Save").click()
    page.locator('[data-figure="activity"] dd').filter(has_text="Available").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    worker = built.client.workers(bob).fetch()
    assert worker.activity_name == "Available"
    assert '"de"' in worker.attributes


def test_create_a_task_from_the_console(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks")
    editor = page.get_by_label("Attributes (JSON)")
    editor.fill('{"type": "sales"')
    page.get_by_role("button", name="Create task").click()
    page.get_by_text("Not valid JSON").wait_for()
    assert built.client.tasks.list() == []  # refused before anything was sent
    editor.fill('{"type": "callback", "lead": 7}')
    page.get_by_label("Priority").fill("3")
    page.get_by_role("button", name="Create task").click()
    page.locator("td .badge-pending").wait_for(timeout=LIVE_TIMEOUT_MS)
    (task,) = built.client.tasks.list()
    assert task.priority == 3 and task.task_queue_friendly_name == "Support"  # the default
    page.get_by_label("Status").select_option("completed")
    page.get_by_role("cell", name="None").wait_for()
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("link", name=task.sid).wait_for()


def test_the_manual_clock_moves_a_reservation_to_timeout(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    alice = built.workers["Alice"]
    task = built.offer("Alice")
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks/{task.sid}")
    page.locator("td .badge-pending").wait_for()
    page.get_by_role("link", name="Clock").click()
    timers = page.locator("section:has(h2:text('Pending timers')) tbody tr")
    timers.filter(has_text="reservation timeout").first.wait_for()
    assert timers.filter(has_text="reservation timeout").first.locator(
        f'a[href$="/tasks/{task.sid}"]').count() == 1
    page.get_by_label("Move the clock forward by (seconds)").fill("61")
    page.get_by_role("button", name="Move the clock").click()
    page.get_by_text("Clock moved 61 s").wait_for()
    page.go_back()
    page.locator("td .badge-timeout").wait_for(timeout=LIVE_TIMEOUT_MS)
    (reservation,) = [r for r in built.client.tasks(task.sid).reservations.list()
                      if r.worker_sid == alice][:1]
    assert reservation.reservation_status == "timeout"


def test_a_second_account_cannot_open_the_first_ones_deep_links(
        page: Any, taskrouter: TaskRouter, console_server: Any) -> None:
    built = build_workspace(taskrouter)
    task = built.client.tasks.create(attributes='{"type": "sales"}',
                                     workflow_sid=built.workflow_sid)
    other = console_server.taskrouter("intruder")
    try:
        sign_in(page, other)
        ws = built.workspace_sid
        for path in (f"/workspaces/{ws}", f"/workspaces/{ws}/tasks/{task.sid}",
                     f"/workspaces/{ws}/workers/{built.workers['Alice']}",
                     f"/workspaces/{ws}/task-queues/{built.support_sid}",
                     f"/workspaces/{ws}/workflows/{built.workflow_sid}",
                     f"/workspaces/{ws}/events"):
            page.goto(f"{other.url}/console{path}")
            page.get_by_role("heading", name="Not found").wait_for()
            assert "Support centre" not in page.content()
    finally:
        other.close()


def test_the_expression_playground(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/playground")
    expression = page.get_by_label("Expression", exact=True)
    expression.fill('skills HAS "sales"')
    results = page.locator("#playground-results")
    results.get_by_role("link", name=built.workers["Bob"]).wait_for()
    results.get_by_role("link", name=built.workers["Chloé"]).wait_for()
    assert results.get_by_role("link", name=built.workers["Alice"]).count() == 0
    expression.fill('skills HAS "sales" AND')
    page.locator("#expression-status .error").wait_for()
    assert "^" in page.locator("pre.marker").inner_text()
    assert expression.get_attribute("aria-invalid") == "true"


def test_why_a_task_went_where_it_went(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    bob = built.workers["Bob"]
    built.client.workers(bob).update(activity_sid=built.idle_sid)
    # Bob speaks no French: the first target (language match) times out, the second routes.
    task = built.client.tasks.create(attributes='{"type": "support", "language": "fr"}',
                                     workflow_sid=built.workflow_sid)
    taskrouter.advance(31)
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks/{task.sid}")
    page.get_by_role("heading", name="Why did it go there?").wait_for()
    page.locator(".timeline .step").first.wait_for(timeout=LIVE_TIMEOUT_MS)
    kinds = page.locator(".timeline .step").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds.index("filter_matched") < kinds.index("target_timeout") < kinds.index("reserved")
    timeline = page.locator(".timeline").inner_text()
    assert "Support requests" in timeline and "Target timed out" in timeline
    decision = page.locator(".decision")
    decision.get_by_role("link", name="Bob").wait_for()
    assert "idle longest" in decision.inner_text()


def test_the_event_log_filters_and_links_to_its_resources(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    task = built.offer("Bob", '{"type": "sales"}')
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/events")
    page.get_by_label("Event type").fill("reservation.created")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("li.event")
    page.wait_for_function("() => [...document.querySelectorAll('li.event')].every("
                           "e => e.dataset.eventType === 'reservation.created')")
    assert rows.count() == 1
    # A new event of that type arrives live; others are left out.
    built.client.workers(built.workers["Alice"]).update(activity_sid=built.idle_sid)
    second = built.client.tasks.create(attributes='{"type": "support", "language": "en"}',
                                       workflow_sid=built.workflow_sid)
    page.locator("li.event").nth(1).wait_for(timeout=LIVE_TIMEOUT_MS)
    assert set(rows.evaluate_all("els => els.map(e => e.dataset.eventType)")) == {
        "reservation.created"}
    page.get_by_label("Event type").fill("")
    page.get_by_label("Resource SID").fill(task.sid)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function("() => document.querySelectorAll('li.event').length > 2")
    # Every event shown concerns that task, and links to it.
    assert rows.evaluate_all(f"els => els.every(e => e.querySelector("
                             f"'a[href$=\"/tasks/{task.sid}\"]'))") is True
    assert rows.evaluate_all(f"els => els.some(e => e.querySelector("
                             f"'a[href$=\"/tasks/{second.sid}\"]'))") is False
    rows.first.get_by_role("link", name="worker WK").click()
    page.get_by_role("heading", name="Bob").wait_for()


def test_reject_a_reservation_and_cancel_the_task(page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)
    task = built.offer("Alice")
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/tasks/{task.sid}")
    page.get_by_role("button", name="Reject").click()
    page.locator("td .badge-rejected").wait_for(timeout=LIVE_TIMEOUT_MS)
    (reservation,) = built.client.tasks(task.sid).reservations.list()
    assert reservation.reservation_status == "rejected"
    page.get_by_role("button", name="Cancel task").click()
    page.locator('[data-figure="status"] dd').filter(has_text="canceled").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    assert built.client.tasks(task.sid).fetch().assignment_status == "canceled"


def test_a_queue_shows_its_waiting_tasks_in_routing_order(
        page: Any, taskrouter: TaskRouter) -> None:
    built = build_workspace(taskrouter)  # every worker offline: the tasks wait
    created = [built.client.tasks.create(attributes='{"type": "sales"}',
                                         workflow_sid=built.workflow_sid).sid for _ in range(3)]
    sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}/task-queues/{built.sales_sid}")
    waiting = page.locator("section:has(h2:text('Waiting tasks')) tbody tr")
    waiting.nth(2).wait_for()
    rows = waiting.evaluate_all("rows => rows.map(r => [r.cells[0].textContent, "
                                "r.cells[1].textContent])")
    assert rows == [[str(n + 1), sid] for n, sid in enumerate(created)]
    page.locator('article.queue [data-figure="waiting"] dd').filter(has_text="3").wait_for()
