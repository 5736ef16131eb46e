"""The API reference: /docs works offline, and /openapi.json describes what each endpoint
answers, not only its errors."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.testclient import TestClient

from tests.api.conftest import ok
from tests.conftest import ACCOUNT_SID


def test_docs_page_loads_only_assets_the_server_serves(client: TestClient) -> None:
    client.auth = None  # type: ignore[assignment]  # the reference needs no credentials
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    for url in [*assets, "/openapi.json"]:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.content, url
    assert "javascript" in client.get("/docs/assets/swagger-ui-bundle.js").headers[
        "content-type"]
    assert 'url: "/openapi.json"' in page.text


# ---------------------------------------------------------------------- response schemas


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def check(document: dict[str, Any], value: Any, schema: dict[str, Any], at: str = "$") -> None:
    """A structural check of a JSON value against an OpenAPI 3.0 schema: types, nullable,
    enums, required keys and no undocumented keys."""
    schema = resolve(document, schema)
    if value is None:
        assert schema.get("nullable"), f"{at} is null but not nullable"
        return
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), at
        properties = schema.get("properties")
        if properties is not None:
            undocumented = set(value) - set(properties)
            assert not undocumented, f"{at}: undocumented {undocumented}"
            missing = set(schema.get("required", ())) - set(value)
            assert not missing, f"{at}: missing {missing}"
            for key, item in value.items():
                check(document, item, properties[key], f"{at}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                check(document, item, extra, f"{at}.{key}")
    elif kind == "array":
        assert isinstance(value, list), at
        for index, item in enumerate(value):
            check(document, item, schema["items"], f"{at}[{index}]")
    else:
        expected = {"string": str, "integer": int, "boolean": bool}[kind]
        assert isinstance(value, expected) and (kind == "boolean" or not isinstance(
            value, bool)), f"{at}: {value!r} is not {kind}"
        if "enum" in schema:
            assert value in schema["enum"], f"{at}: {value!r} not in {schema['enum']}"


def test_every_success_response_has_a_schema(client: TestClient) -> None:
    document = ok(client.get("/openapi.json"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert resolve(document, schema).get("properties"), (method, path)


class Validated:
    """Calls endpoints by their documented path and checks each answer against its schema."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.document = ok(client.get("/openapi.json"))
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, template: str, data: Any = None,
                 **path: str) -> Any:
        operation = self.document["paths"][template][method.lower()]
        status = next(s for s in operation["responses"] if s.startswith("2"))
        response = self.client.request(method, template.format(**path), data=data)
        body = ok(response, int(status))
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        check(self.document, body, schema)
        self.seen.add((template, method.lower()))
        return body


def test_real_answers_match_their_schemas(client: TestClient) -> None:
    call = Validated(client)
    ws = call("POST", "/v1/Workspaces", {"FriendlyName": "schemas", "Template": "FIFO"})
    w = {"WorkspaceSid": ws["sid"]}
    base = "/v1/Workspaces/{WorkspaceSid}"
    call("GET", "/v1/Workspaces")
    call("GET", "/v1/Workspaces/{Sid}", Sid=ws["sid"])
    call("POST", "/v1/Workspaces/{Sid}", {"FriendlyName": "renamed"}, Sid=ws["sid"])
    activity = call("POST", base + "/Activities", {"FriendlyName": "Lunch",
                                                   "Available": "false"}, **w)
    activities = call("GET", base + "/Activities", **w)["activities"]
    available = next(a for a in activities if a["friendly_name"] == "Available")
    call("GET", base + "/Activities/{Sid}", Sid=activity["sid"], **w)
    call("POST", base + "/Activities/{Sid}", {"FriendlyName": "Break"}, Sid=activity["sid"],
         **w)
    channel = call("POST", base + "/TaskChannels", {"FriendlyName": "Fax",
                                                    "UniqueName": "fax"}, **w)
    call("GET", base + "/TaskChannels", **w)
    call("GET", base + "/TaskChannels/{Sid}", Sid=channel["sid"], **w)
    call("POST", base + "/TaskChannels/{Sid}", {"FriendlyName": "Telefax"},
         Sid=channel["sid"], **w)
    worker = call("POST", base + "/Workers", {"FriendlyName": "alice", "ActivitySid":
                                              available["sid"], "Attributes": '{"a": 1}'}, **w)
    call("GET", base + "/Workers", **w)
    call("GET", base + "/Workers/{Sid}", Sid=worker["sid"], **w)
    call("POST", base + "/Workers/{Sid}", {"Attributes": '{"a": 2}'}, Sid=worker["sid"], **w)
    wc = call("GET", base + "/Workers/{WorkerSid}/Channels", WorkerSid=worker["sid"],
              **w)["channels"][0]
    call("GET", base + "/Workers/{WorkerSid}/Channels/{Sid}", WorkerSid=worker["sid"],
         Sid=wc["sid"], **w)
    call("POST", base + "/Workers/{WorkerSid}/Channels/{Sid}", {"Capacity": "2"},
         WorkerSid=worker["sid"], Sid=wc["sid"], **w)
    queue = call("GET", base + "/TaskQueues", **w)["task_queues"][0]
    call("GET", base + "/TaskQueues/{Sid}", Sid=queue["sid"], **w)
    call("GET", base + "/TaskQueues/{Sid}/EstimatedWaitTime", Sid=queue["sid"],
         **w)  # an extension
    call("POST", base + "/TaskQueues/{Sid}", {"TaskOrder": "FIFO"}, Sid=queue["sid"], **w)
    other = call("POST", base + "/TaskQueues", {"FriendlyName": "Other",
                                                "TargetWorkers": "a == 2"}, **w)
    workflow = call("GET", base + "/Workflows", **w)["workflows"][0]
    call("GET", base + "/Workflows/{Sid}", Sid=workflow["sid"], **w)
    call("POST", base + "/Workflows/{Sid}", {"TaskReservationTimeout": "60"},
         Sid=workflow["sid"], **w)
    call("POST", base + "/Workflows", {"FriendlyName": "Other", "Configuration": json.dumps(
        {"task_routing": {"default_filter": {"queue": other["sid"]}}})}, **w)
    task = call("POST", base + "/Tasks", {"WorkflowSid": workflow["sid"],
                                          "Attributes": '{"type": "x"}'}, **w)
    call("GET", base + "/Tasks", **w)
    call("GET", base + "/Tasks/{Sid}", Sid=task["sid"], **w)
    call("GET", base + "/Tasks/{Sid}/QueuePosition", Sid=task["sid"], **w)  # an extension
    for subject, text in (("Workers", "a == 2"), ("Tasks", "type == 'x'"), ("Tasks", "a ==")):
        call("POST", base + "/ExpressionEvaluations", {"Subject": subject, "Expression": text},
             **w)  # extensions, as are Timers
    call("GET", base + "/Timers", **w)
    call("GET", base + "/Tasks/{TaskSid}/Routing", TaskSid=task["sid"], **w)
    reservation = call("GET", base + "/Tasks/{TaskSid}/Reservations", TaskSid=task["sid"],
                       **w)["reservations"][0]
    call("GET", base + "/Workers/{WorkerSid}/Reservations", WorkerSid=worker["sid"], **w)
    call("GET", base + "/Workers/{WorkerSid}/Reservations/{Sid}", WorkerSid=worker["sid"],
         Sid=reservation["sid"], **w)
    call("POST", base + "/Tasks/{TaskSid}/Reservations/{Sid}",
         {"ReservationStatus": "accepted"}, TaskSid=task["sid"], Sid=reservation["sid"], **w)
    call("GET", base + "/Tasks/{TaskSid}/Reservations/{Sid}", TaskSid=task["sid"],
         Sid=reservation["sid"], **w)
    call("POST", base + "/Tasks/{Sid}", {"AssignmentStatus": "completed", "Reason": "done"},
         Sid=task["sid"], **w)
    second = call("POST", base + "/Tasks", {"WorkflowSid": workflow["sid"]}, **w)
    offered = call("GET", base + "/Tasks/{TaskSid}/Reservations", TaskSid=second["sid"],
                   **w)["reservations"][0]
    call("POST", base + "/Workers/{WorkerSid}/Reservations/{Sid}",
         {"ReservationStatus": "rejected"}, WorkerSid=worker["sid"], Sid=offered["sid"], **w)
    event = call("GET", base + "/Events", **w)["events"][0]
    call("GET", base + "/Events/{Sid}", Sid=event["sid"], **w)
    for path in ("/Statistics", "/RealTimeStatistics", "/CumulativeStatistics",
                 "/TaskQueues/Statistics", "/Workers/Statistics",
                 "/Workers/RealTimeStatistics", "/Workers/CumulativeStatistics"):
        call("GET", base + path, **w)
    # SplitByWaitTime fills split_by_wait_time, otherwise null.
    split = client.get(f"/v1/Workspaces/{ws['sid']}/CumulativeStatistics",
                       params={"SplitByWaitTime": "10,60"}).json()
    check(call.document, split, {"$ref": "#/components/schemas/WorkspaceCumulativeStatistics"})
    for kind, sid in (("TaskQueues", queue["sid"]), ("Workflows", workflow["sid"])):
        name = "TaskQueueSid" if kind == "TaskQueues" else "WorkflowSid"
        for path in ("Statistics", "RealTimeStatistics", "CumulativeStatistics"):
            call("GET", f"{base}/{kind}/{{{name}}}/{path}", **{name: sid}, **w)
    call("GET", base + "/Workers/{WorkerSid}/Statistics", WorkerSid=worker["sid"], **w)
    call("POST", base + "/TaskQueues/RealTimeStatistics", {"QueueSids": queue["sid"]}, **w)
    keys = "/2010-04-01/Accounts/{AccountSid}/Keys"
    account = {"AccountSid": ACCOUNT_SID}
    key = call("POST", keys + ".json", {"FriendlyName": "k"}, **account)
    call("GET", keys + ".json", **account)
    call("GET", keys + "/{Sid}.json", Sid=key["sid"], **account)
    call("POST", keys + "/{Sid}.json", {"FriendlyName": "k2"}, Sid=key["sid"], **account)
    call("GET", "/dev/clock")
    call("POST", "/dev/clock", {"Advance": "1"})
    call("POST", "/dev/accounts", {"FriendlyName": "a test's own"})

    # Every operation that answers with a body was checked above.
    with_body = {(path, method) for path, operations in call.document["paths"].items()
                 for method, operation in operations.items()
                 if any(s.startswith("2") and s != "204" for s in operation["responses"])}
    assert with_body - call.seen == set()
