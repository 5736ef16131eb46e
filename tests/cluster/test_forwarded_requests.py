"""A node that forwards a request to its workspace's owner logs it and counts it, as the app's
own requests are: an access line naming the owner, with the request ID of the answer, and
``switchboard_http_forwarded_requests_total``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.nodes import Cluster, create_workspaces
from tests.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def access_lines(cluster: Cluster, index: int) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in cluster.log(index).splitlines()
             if line.startswith("{")]
    return [line for line in lines if line["logger"] == "switchboard.access"]


def forwarded_count(metrics_url: str, method: str, status: str) -> float:
    text = httpx.get(metrics_url, timeout=10, trust_env=False).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "switchboard_http_forwarded_requests_total"
                    and sample.labels == {"method": method, "status": status}):
                return sample.value
    return 0.0


def test_a_forwarded_request_is_logged_and_counted(cluster_db: str, tmp_path: Path) -> None:
    cluster = Cluster(cluster_db, tmp_path, size=2)
    metrics = []
    for node in cluster.nodes:
        port = free_port()
        node.extra_args += ("--log-format", "json", "--metrics-port", str(port))
        metrics.append(f"http://127.0.0.1:{port}/metrics")
    cluster.start()
    try:
        with cluster.client(0) as client:
            [ws] = create_workspaces(client, 1)
        owner = cluster.owner_of(ws)
        other = 1 - owner
        with cluster.client(other) as client:
            answer = client.get(f"/v1/Workspaces/{ws}")
            assert answer.status_code == 200, answer.text
            missing = client.get(f"/v1/Workspaces/{ws}/Workers/WK" + "0" * 32)
            assert missing.status_code == 404
        assert answer.headers["X-Switchboard-Node"] == f"node{owner}"
        rid = answer.headers["Twilio-Request-Id"]

        # Both nodes log it under the answer's request ID; the one that relayed it says where.
        [relayed] = [line for line in access_lines(cluster, other)
                     if line["request_id"] == rid]
        assert relayed["forwarded_to"] == cluster.nodes[owner].url
        assert relayed["status"] == 200 and relayed["path"] == f"/v1/Workspaces/{ws}"
        assert relayed["method"] == "GET" and relayed["duration_ms"] >= 0
        [answered] = [line for line in access_lines(cluster, owner)
                      if line["request_id"] == rid]
        assert "forwarded_to" not in answered and answered["status"] == 200

        assert forwarded_count(metrics[other], "GET", "200") == 1
        assert forwarded_count(metrics[other], "GET", "404") == 1
        assert forwarded_count(metrics[owner], "GET", "200") == 0
        # Started at the same instant, both created the environment's account: no error logged.
        for index in (0, 1):
            assert '"level":"error"' not in cluster.log(index), cluster.log(index)
    finally:
        cluster.stop()
