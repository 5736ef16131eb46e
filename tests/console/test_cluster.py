"""The console on a cluster: nodes given one --console-secret accept each other's sessions, a
node forwards the page's API requests to the workspace's owner, and the live feed is the
owner's (another node answers it 404)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cluster.conftest import cluster_db  # noqa: F401 (the fixture)
from tests.cluster.nodes import Cluster, create_workspaces
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CSRF = "X-Switchboard-Csrf"


def test_a_session_works_on_every_node_and_the_feed_on_the_owner(
        cluster_db: str, tmp_path: Path) -> None:  # noqa: F811
    cluster = Cluster(cluster_db, tmp_path, size=2)
    for node in cluster.nodes:
        node.extra_args += ("--console-secret", "one secret for the cluster")
    cluster.start()
    try:
        with cluster.client(0) as client:
            [ws] = create_workspaces(client, 1)
        owner = cluster.owner_of(ws)
        other = 1 - owner
        with httpx.Client(base_url=cluster.nodes[other].url, timeout=30) as browser:
            signed = browser.post("/console/api/session",
                                  data={"username": ACCOUNT_SID, "password": AUTH_TOKEN})
            assert signed.status_code == 200, signed.text
            headers = {CSRF: signed.json()["csrf"]}
            answer = browser.get(f"/v1/Workspaces/{ws}", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.headers["X-Switchboard-Node"] == f"node{owner}"  # forwarded
            assert browser.get(f"/console/api/workspaces/{ws}/stream",
                               headers=headers).status_code == 404
            cookies = dict(browser.cookies)
        with httpx.Client(base_url=cluster.nodes[owner].url, timeout=30,
                          cookies=cookies) as browser, \
                browser.stream("GET", f"/console/api/workspaces/{ws}/stream",
                               headers=headers) as feed:
            assert feed.status_code == 200
            assert next(feed.iter_lines()).startswith("retry:")
    finally:
        cluster.stop()
