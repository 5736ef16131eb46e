"""Screenshots of the console's main views, for the README: ``python docs/console/screenshots.py``.

Starts a server of its own (manual clock), builds a small contact centre through the official
twilio client, and saves PNGs next to this file with Debian's Chromium (``/usr/bin/chromium``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.console.conftest import CHROMIUM, build_workspace, sign_in  # noqa: E402

from switchboard.testing import Server  # noqa: E402

OUT = Path(__file__).resolve().parent


def shoot(page: Any, url: str, name: str, ready: str, scroll_to: str | None = None) -> None:
    page.goto(url)
    page.locator(ready).first.wait_for()
    page.wait_for_timeout(400)  # the live regions' first refresh
    if scroll_to:
        page.locator(scroll_to).first.evaluate("e => e.scrollIntoView()")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
    print(f"saved docs/console/{name}.png")


def main() -> None:
    with Server(clock="manual") as server, sync_playwright() as playwright:
        taskrouter = server.taskrouter("Demo account")
        built = build_workspace(taskrouter)
        space = built.client
        for name in ("Alice", "Bob"):
            space.workers(built.workers[name]).update(activity_sid=built.idle_sid)
        # Bob takes a French support call after its language target times out; sales leads wait.
        why = space.tasks.create(attributes=json.dumps({"type": "support", "language": "de",
                                                        "customer": "Ada"}),
                                 workflow_sid=built.workflow_sid)
        taskrouter.advance(31)
        for lead in range(3):
            space.tasks.create(attributes=json.dumps({"type": "sales", "lead": lead}),
                               workflow_sid=built.workflow_sid, priority=lead)
        taskrouter.advance(12)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1366, "height": 860},
                                   device_scale_factor=1).new_page()
        base = f"{taskrouter.url}/console/workspaces/{built.workspace_sid}"
        sign_in(page, taskrouter, f"/workspaces/{built.workspace_sid}")
        shoot(page, base, "overview", "article.queue")
        shoot(page, f"{base}/task-queues/{built.sales_sid}", "queue", "article.queue")
        shoot(page, f"{base}/tasks/{why.sid}", "task-why", ".timeline .step",
          scroll_to="section:has(.routing)")
        shoot(page, f"{base}/workers", "workers", "td")
        shoot(page, f"{base}/workflows/{built.workflow_sid}", "workflow", ".diagram .filter")
        shoot(page, f"{base}/events", "events", ".event")
        shoot(page, f"{base}/clock", "clock", "section:has(h2:text('Pending timers')) tbody tr")
        page.goto(f"{base}/playground")
        expression = 'skills HAS "sales" AND languages HAS "fr"'
        page.get_by_label("Expression", exact=True).fill(expression)
        page.locator("#playground-results td").first.wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "playground.png"))
        print("saved docs/console/playground.png")
        browser.close()


if __name__ == "__main__":
    main()
