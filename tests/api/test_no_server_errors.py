"""Whatever a client sends, the answer is a Twilio-style response, never a 500."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from switchboard.api.app import MODULES

from .conftest import MakeWorkspace, ok

JUNK = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e400", "true", "null", "{}", "[]", '{"a": [1, {"b": null}]}',
                     "2030-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "nope", "WQ" + "0" * 32,
                     "1 == 1", "skills HAS", "((", "\x00", "é" * 5000]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
ENDPOINTS = [e for module in MODULES for e in module.api.endpoints]
MAX_QUERY_VALUE = 1_000


def _path(template: str, sids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: sids.get(m.group(1), "XX" + "0" * 32), template)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_input_never_causes_a_server_error(client: TestClient,
                                                  make_workspace: MakeWorkspace,
                                                  data: st.DataObject) -> None:
    ws = make_workspace(Template="FIFO")
    worker = ws.worker("w", ActivitySid=ws.activity("Available"))
    task = ok(client.post(ws.path("Tasks"), data={}), 201)
    reservation = ws.list("Tasks", task["sid"], "Reservations")[0]
    sids = {"WorkspaceSid": ws.sid, "Sid": task["sid"], "WorkerSid": worker["sid"],
            "TaskSid": task["sid"], "AccountSid": "AC" + "a" * 32,
            "TaskQueueSid": task["task_queue_sid"], "WorkflowSid": task["workflow_sid"]}
    endpoint = data.draw(st.sampled_from(ENDPOINTS))
    if "Reservations/{Sid}" in endpoint.path:
        sids["Sid"] = reservation["sid"]
    names = [p.name for p in endpoint.params] + ["Unknown"]
    params = data.draw(st.dictionaries(st.sampled_from(names), JUNK, max_size=6))
    path = _path(endpoint.path, sids)
    if endpoint.method == "POST":
        response = client.post(path, data=params)
    else:
        # Long values go in bodies: a URL has a length limit (the test client's too).
        query = {name: value[:MAX_QUERY_VALUE] for name, value in params.items()}
        response = client.request(endpoint.method, path, params=query)
    assert response.status_code < 500, (endpoint.method, path, params, response.text)
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "message", "more_info", "status"}
