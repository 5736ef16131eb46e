"""Twilio's headers on the wire, spelled as Twilio spells them, from a real server.

``http.client`` keeps header names as the server wrote them; so does the official
twilio-python, whose ``*_with_http_info`` methods hand them over in a plain dict.
"""

from __future__ import annotations

import base64
import http.client
from typing import Any

from tests.api.test_headers import REQUEST_ID, TWILIO_CORS


def wire_headers(url: str, method: str, path: str, account_sid: str, password: str,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """The status and the header names and values exactly as the server wrote them."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    auth = base64.b64encode(f"{account_sid}:{password}".encode()).decode()
    try:
        connection.request(method, path, headers={"Authorization": f"Basic {auth}",
                                                  **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def test_names_on_the_wire(server: Any, twilio_client: Any, workspace: Any,
                           account_sid: str) -> None:
    worker = twilio_client.taskrouter.v1.workspaces(workspace.sid).workers.create(
        friendly_name="alice")
    password = twilio_client.password
    path = f"/v1/Workspaces/{workspace.sid}/Workers/{worker.sid}"
    seen = []
    for method, where, expected in [("GET", path, 200), ("GET", "/v1/Nowhere", 404),
                                    ("PUT", "/v1/Workspaces", 405)]:
        status, headers = wire_headers(server.url, method, where, account_sid, password)
        assert status == expected
        assert REQUEST_ID.match(headers["Twilio-Request-Id"]), headers
        assert headers["Content-Type"] == "application/json"
        for name, value in TWILIO_CORS.items():
            assert headers.get(name) == value, (name, headers)
        seen.append(headers["Twilio-Request-Id"])
        if status == 200:
            assert headers["ETag"]
    assert len(set(seen)) == len(seen)

    status, headers = wire_headers(server.url, "GET", path, account_sid, "wrong")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    assert REQUEST_ID.match(headers["Twilio-Request-Id"])

    status, headers = wire_headers(server.url, "OPTIONS", "/v1/wschannels", account_sid,
                                   password, {"Origin": "https://agents.example",
                                              "Access-Control-Request-Method": "POST"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"].endswith(", apiVersion, clientVersion")


def test_twilio_python_reads_etag_by_its_name(twilio_client: Any, workspace: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    worker = ws.workers.create(friendly_name="alice")
    fetched = ws.workers(worker.sid).fetch_with_http_info()
    assert fetched.status_code == 200
    etag = fetched.headers["ETag"]
    assert REQUEST_ID.match(fetched.headers["Twilio-Request-Id"])
    assert fetched.headers["Access-Control-Expose-Headers"] == "ETag"

    updated = ws.workers(worker.sid).update_with_http_info(if_match=etag,
                                                           friendly_name="bob")
    assert updated.data.friendly_name == "bob"
    assert updated.headers["ETag"] != etag
    assert updated.headers["Twilio-Request-Id"] != fetched.headers["Twilio-Request-Id"]

    workflow = ws.workflows.list()[0]
    task = ws.tasks.create_with_http_info(workflow_sid=workflow.sid, attributes="{}")
    assert task.status_code == 201
    task_etag = task.headers["ETag"]
    assert ws.tasks(task.data.sid).update_with_http_info(
        if_match=task_etag, priority=5).headers["ETag"] != task_etag
