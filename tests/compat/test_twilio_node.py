"""The official Node library (npm ``twilio``, pinned) running a whole application against a server.

``tests/compat/node/rest_flow.js`` configures a workspace, takes a task through its life,
pages with ``each``, meets errors and makes an API key, all with twilio-node unchanged but for
its two base URLs (``client.taskrouter.baseUrl`` and ``client.api.baseUrl``); it prints what it
saw as one JSON object, asserted here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "twilio").exists(),
    reason="needs Node and tests/compat/node/node_modules (./dev test installs them)")


def run_flow(url: str, account_sid: str, auth_token: str) -> dict[str, Any]:
    # No TWILIO_* variables (edge and region rewrite the host) and no proxy for loopback.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TWILIO_") and name.lower() not in ("http_proxy",
                                                                       "https_proxy")}
    env.update(SB_URL=url, SB_ACCOUNT_SID=account_sid, SB_AUTH_TOKEN=auth_token,
               NO_PROXY="127.0.0.1,localhost")
    done = subprocess.run(["node", "rest_flow.js"], cwd=NODE_DIR, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0 and "failed" not in seen, (seen.get("failed"), done.stderr)
    return seen


@pytest.fixture(scope="module")
def seen(server: Any, twilio_client: Any) -> dict[str, Any]:
    return run_flow(server.url, twilio_client.username, twilio_client.password)


def test_configuration(seen: dict[str, Any]) -> None:
    configured = seen["configuration"]
    assert configured["activities"] == [
        {"name": "Offline", "available": False}, {"name": "Available", "available": True},
        {"name": "Unavailable", "available": False}, {"name": "Busy", "available": False}]
    assert configured["queue"] == {"name": "Billing", "targetWorkers": "skills HAS 'billing'"}
    assert configured["workflow"]["timeout"] == 30
    assert configured["workflow"]["configuration"]["task_routing"]["filters"][0][
        "expression"] == "type == 'billing'"
    assert configured["worker"] == {
        "name": "alice", "activity": "Available", "available": True,
        "attributes": {"skills": ["billing"], "level": 3}, "dateCreatedIsDate": True}
    assert configured["queueMembers"] == ["alice"]


def test_task_lifecycle(seen: dict[str, Any]) -> None:
    lifecycle = seen["lifecycle"]
    assert lifecycle["created"] == {"status": "reserved", "queue": "Billing",
                                    "attributes": {"type": "billing"}}
    assert lifecycle["offered"] == {"worker": "alice", "status": "pending"}
    assert lifecycle["accepted"] == "accepted"
    assigned = lifecycle["assigned"]
    assert (assigned["status"], assigned["statusCode"]) == ("assigned", 200)
    assert assigned["etag"]
    assert re.match(r"^RQ[0-9a-f]{32}$", assigned["requestId"])
    assert lifecycle["completed"] == {"status": "completed", "reason": "resolved"}
    assert lifecycle["reservation"] == "completed"
    assert lifecycle["worker"] == "Available"


def test_paging(seen: dict[str, Any], server: Any) -> None:
    paging = seen["paging"]
    workers = ["alice", "extra-1", "extra-2", "extra-3", "extra-4"]
    assert paging["each"] == workers
    # Three pages of two, the later ones by the absolute next_page_url the server gave.
    pages = paging["pagesRequested"]
    assert len(pages) == 3
    assert all(page.startswith(f"GET {server.url}/v1/Workspaces/") for page in pages)
    assert "PageToken=" in pages[1] and "PageToken=" in pages[2]
    assert paging["limited"] == workers[:3]
    assert paging["firstPage"] == workers[:2]
    assert paging["secondPage"] == workers[2:4]


@pytest.mark.parametrize(("case", "status", "code", "mention"), [
    ("notFound", 404, 20404, "was not found"),
    ("invalid", 400, 20001, "TargetWorkers"),
    ("staleEtag", 412, 20412, "If-Match"),
    ("acceptedTwice", 400, 20001, "can no longer be accepted"),
    ("wrongToken", 401, 20003, "credentials"),
])
def test_errors_are_rest_exceptions(seen: dict[str, Any], case: str, status: int, code: int,
                                    mention: str) -> None:
    error = seen["errors"][case]
    assert error["restException"] is True, error
    assert (error["status"], error["code"]) == (status, code)
    assert mention in error["message"]
    assert error["moreInfo"] == f"https://www.twilio.com/docs/errors/{code}"


def test_api_keys(seen: dict[str, Any]) -> None:
    keys = seen["keys"]
    assert keys["sid"].startswith("SK")
    assert keys["friendlyName"] == "node key"
    assert keys["hasSecret"] is True
    # The key works as credentials, with the account named beside it.
    assert keys["workspaceViaKey"] == seen["configuration"]["workspace"]["friendlyName"]
    assert keys["listed"] is True
    assert keys["removed"] is True
    assert (keys["afterRemoval"]["status"], keys["afterRemoval"]["code"]) == (401, 20003)
    assert seen["workspaceRemoved"] is True
