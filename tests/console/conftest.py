"""A real server on loopback (manual clock), a workspace built through the official twilio
client, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from switchboard.testing import Server, TaskRouter

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")


@dataclass
class Built:
    """A small contact centre: two queues, a cascading workflow, three workers."""

    taskrouter: TaskRouter
    workspace_sid: str
    workflow_sid: str
    support_sid: str
    sales_sid: str
    workers: dict[str, str]  # friendly name -> sid
    idle_sid: str
    offline_sid: str

    @property
    def client(self) -> Any:
        return self.taskrouter.client.taskrouter.v1.workspaces(self.workspace_sid)

    def offer(self, worker: str, attributes: str = '{"type": "support", "language": "fr"}'
              ) -> Any:
        """Make ``worker`` available and create a task through the workflow (by default one
        only Alice, the French speaker, is offered at first)."""
        self.client.workers(self.workers[worker]).update(activity_sid=self.idle_sid)
        return self.client.tasks.create(attributes=attributes, workflow_sid=self.workflow_sid)


def build_workspace(taskrouter: TaskRouter, name: str = "Support centre") -> Built:
    client = taskrouter.client.taskrouter.v1
    ws = client.workspaces.create(friendly_name=name)
    space = client.workspaces(ws.sid)
    activities = {a.friendly_name: a.sid for a in space.activities.list()}
    support = space.task_queues.create(friendly_name="Support",
                                       target_workers='skills HAS "support"')
    sales = space.task_queues.create(friendly_name="Sales", target_workers='skills HAS "sales"')
    configuration = {"task_routing": {
        "filters": [{
            "filter_friendly_name": "Support requests",
            "expression": 'type == "support"',
            "targets": [
                {"queue": support.sid, "expression": 'task.language IN worker.languages',
                 "timeout": 30},
                {"queue": support.sid},
            ],
        }, {
            "filter_friendly_name": "Sales leads",
            "expression": 'type == "sales"',
            "targets": [{"queue": sales.sid, "priority": 5}],
        }],
        "default_filter": {"queue": support.sid},
    }}
    workflow = space.workflows.create(friendly_name="Front door",
                                      configuration=json.dumps(configuration),
                                      task_reservation_timeout=60)
    workers = {}
    for friendly_name, attributes in (
            ("Alice", {"skills": ["support"], "languages": ["en", "fr"]}),
            ("Bob", {"skills": ["support", "sales"], "languages": ["en"]}),
            ("Chloé", {"skills": ["sales"], "languages": ["fr"]})):
        worker = space.workers.create(friendly_name=friendly_name,
                                      attributes=json.dumps(attributes),
                                      activity_sid=activities["Offline"])
        workers[friendly_name] = worker.sid
    return Built(taskrouter, ws.sid, workflow.sid, support.sid, sales.sid, workers,
                 activities["Available"], activities["Offline"])


# A server of the module's own rather than the testing kit's session server: the console's
# failed sign-ins from this address count together (the server's failed-authentication brake),
# so other tests' must not slow these.
@pytest.fixture(scope="module")
def console_server() -> Iterator[Server]:
    with Server(clock="manual") as server:
        yield server


@pytest.fixture
def taskrouter(console_server: Server) -> Iterator[TaskRouter]:  # the kit's, on this server
    taskrouter = console_server.taskrouter("console")
    yield taskrouter
    taskrouter.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    if os.environ.get("SWITCHBOARD_TEST_CONSOLE_TRACE"):  # =1: print requests slower than 1 s
        def slow(request: Any) -> None:
            timing = request.timing
            took = timing["responseEnd"]
            if took > 1000:
                print(f"slow {took:.0f} ms {request.method} {request.url} {timing}")
        page.on("requestfinished", slow)
        page.on("requestfailed", lambda r: print("failed", r.url, r.failure))
    yield page
    context.close()  # closes the live feed before the server stops


def sign_in(page: Any, taskrouter: TaskRouter, path: str = "/") -> None:
    page.goto(f"{taskrouter.url}/console{path}")
    page.get_by_label("Account SID or API key SID").fill(taskrouter.account_sid)
    page.get_by_label("Auth token or API key secret").fill(taskrouter.auth_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => !location.pathname.startsWith('/console/sign-in')")
