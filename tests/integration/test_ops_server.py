"""Operations on a real server: metrics on their own port, JSON logs with request IDs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url, timeout=5).text
    return {f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_port_and_json_logs(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(tmp_path, extra_args=(
        "--metrics-port", str(metrics_port), "--log-format", "json", "--log-level", "info"))
    server.start()
    try:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        before = scrape(metrics_url)
        assert "switchboard_callbacks_owed[]" in before
        assert "switchboard_websocket_connections[]" in before
        auth = (ACCOUNT_SID, AUTH_TOKEN)
        answer = httpx.post(server.url + "/v1/Workspaces", data={"FriendlyName": "M"},
                            auth=auth)
        assert answer.status_code == 201
        after = scrape(metrics_url)
        key = ("switchboard_http_requests_total[('method', 'POST'), ('route', "
               "'/v1/Workspaces'), ('status', '201')]")
        assert before.get(key, 0) == 0 and after[key] == 1
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/other").status_code == 404
        assert httpx.get(server.url + "/readyz").status_code == 200
        rid = answer.headers["Twilio-Request-Id"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [json.loads(line) for line in
                     (tmp_path / "server.log").read_text().splitlines()
                     if line.startswith("{")]
            if any(e.get("request_id") == rid for e in lines):
                break
            time.sleep(0.05)
        (access,) = [e for e in lines if e.get("request_id") == rid]
        assert access["logger"] == "switchboard.access"
        assert access["status"] == 201 and access["account_sid"] == ACCOUNT_SID
        assert {"time", "level", "message", "duration_ms"} <= set(access)
    finally:
        server.stop()
