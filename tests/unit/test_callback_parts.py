"""Signing, connection overrides and payloads of callbacks."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import example, given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from switchboard.callbacks.overrides import split_url
from switchboard.callbacks.payloads import assignment_params, camel, event_params, form_encode
from switchboard.callbacks.signing import signature
from switchboard.routing.model import Event

TWILIO_EXAMPLE = {
    "CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
    "From": "+12349013030", "To": "+18005551212",
}


def test_signature_matches_twilios_documented_example() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, TWILIO_EXAMPLE) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_official_validator_accepts_our_signatures() -> None:
    url = "http://127.0.0.1:9000/hook?x=1"
    params = {"EventType": "task.created", "TaskAttributes": '{"a": "ü"}', "Empty": ""}
    assert RequestValidator("token").validate(url, params, signature("token", url, params))
    assert not RequestValidator("other").validate(url, params, signature("token", url, params))


def test_repeated_values_are_sorted_like_twilio() -> None:
    one = signature("t", "http://x/", {"A": ["2", "1"]})
    assert one == signature("t", "http://x/", {"A": ["1", "2"]})


def test_connection_overrides_come_from_the_fragment() -> None:
    url, overrides = split_url("https://example.com/hook?q=1#ct=1000&rt=2500&tt=9000&rc=3")
    assert url == "https://example.com/hook?q=1"
    assert (overrides.connect_timeout, overrides.read_timeout, overrides.total_time,
            overrides.retries) == (1.0, 2.5, 9.0, 3)
    _, clamped = split_url("https://example.com/#ct=1&rt=99999&rc=9&junk=1")
    assert (clamped.connect_timeout, clamped.read_timeout, clamped.retries) == (0.1, 15.0, 5)
    _, defaults = split_url("https://example.com/")
    assert defaults.retries is None and defaults.read_timeout == 15.0


def _event(**data: object) -> Event:
    return Event(sid="EV" + "1" * 32, account_sid="AC" + "a" * 32, workspace_sid="WS" + "b" * 32,
                 seq=7, event_type="reservation.created", event_date=1_767_225_600_123,
                 resource_type="reservation", resource_sid="WR" + "c" * 32,
                 description="Reservation created", data=dict(data))


def test_event_params_are_camel_case_strings() -> None:
    params = event_params(_event(task_sid="WT1", task_age=3, worker_channel_available=True,
                                 task_canceled_reason=None))
    assert params["TaskSid"] == "WT1"
    assert params["TaskAge"] == "3"
    assert params["WorkerChannelAvailable"] == "true"
    assert "TaskCanceledReason" not in params
    assert params["ResourceType"] == "Reservation"
    assert params["Timestamp"] == "1767225600"
    assert params["TimestampMs"] == "1767225600123"
    assert camel("task_queue_sid") == "TaskQueueSid"


def test_assignment_params_are_the_documented_set() -> None:
    data = {name: "x" for name in (
        "account_sid", "workspace_sid", "workflow_sid", "task_queue_sid", "worker_sid",
        "worker_attributes", "task_sid", "task_attributes", "task_age", "task_priority",
        "reservation_sid", "worker_name")}
    params = assignment_params(_event(**data))
    assert set(params) == {"AccountSid", "WorkspaceSid", "WorkflowSid", "TaskQueueSid",
                           "WorkerSid", "WorkerAttributes", "TaskSid", "TaskAttributes",
                           "TaskAge", "TaskPriority", "ReservationSid", "Timestamp"}


TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # what a JSON string can hold


@given(st.dictionaries(TEXT, TEXT))
@example({"a\x00": "b\x01c", "d": "=&"})
def test_form_encoding_is_the_standard_librarys(params: dict[str, str]) -> None:
    assert form_encode(params) == urlencode(params).encode()
