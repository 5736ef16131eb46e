"""Configuration resources through the official ``twilio`` Python library, unchanged.

Workspaces, Activities, TaskChannels, Workers, WorkerChannels, TaskQueues, Workflows and API
keys: create, list (the SDK follows the pages itself), fetch, update and delete; the typed
fields the SDK parses; a new user's first set-up; errors as the SDK raises them; and a
restart after ``kill -9`` that must keep everything.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from tests.compat.sdk_checks import check_types, sids
from twilio.base.exceptions import TwilioException, TwilioRestException

MISSING_SID = "0" * 32


# ---------------------------------------------------------------------- helpers


def fields(instance: Any) -> dict[str, Any]:
    """The fields the SDK parsed from a response (its public attributes)."""
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}






def check_paging(listing: Any, expected: list[str], http_log: Any, path_end: str,
                 **filters: Any) -> None:
    """``list``/``stream`` with ``page_size=2`` follow ≥ 3 pages; ``limit`` stops early."""
    assert len(expected) >= 5, "need at least 5 items for 3 pages of 2"
    http_log.requests.clear()
    streamed = sids(listing.stream(page_size=2, **filters))
    assert streamed == expected
    pages = http_log.gets(path_end)
    assert len(pages) == (len(expected) + 1) // 2 >= 3
    assert all("PageSize=2" in url for url in pages)

    http_log.requests.clear()
    assert sids(listing.list(page_size=2, **filters)) == expected
    assert len(http_log.gets(path_end)) >= 3

    http_log.requests.clear()
    assert sids(listing.list(limit=3, page_size=2, **filters)) == expected[:3]
    assert len(http_log.gets(path_end)) == 2  # stops once the limit is reached

    http_log.requests.clear()
    assert sids(listing.list(limit=4, **filters)) == expected[:4]
    assert len(http_log.gets(path_end)) == 1  # page_size defaults to the limit
    assert "PageSize=4" in http_log.gets(path_end)[0]


def raises_rest(code: int, status: int, call: Any, *args: Any, **kwargs: Any
                ) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as info:
        call(*args, **kwargs)
    assert (info.value.code, info.value.status) == (code, status), info.value.msg
    return info.value


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------- CRUD and paging


def test_workspaces(twilio_client: Any, http_log: Any) -> None:
    workspaces = twilio_client.taskrouter.v1.workspaces
    name = unique("paging")
    created = [workspaces.create(friendly_name=name, template="FIFO" if i % 2 else "NONE")
               for i in range(4)]
    try:
        special = workspaces.create(
            friendly_name=name, event_callback_url="https://example.com/events",
            events_filter="task.created,worker.activity.update", multi_task_enabled=False,
            prioritize_queue_order="LIFO")
        created.append(special)
        for ws in created:
            check_types(ws, bools=("multi_task_enabled",))
            assert ws.account_sid == twilio_client.account_sid
            assert ws.friendly_name == name
            assert ws.default_activity_name == ws.timeout_activity_name == "Offline"
            assert ws.links["workers"] == ws.url + "/Workers"
        assert special.multi_task_enabled is False
        assert special.prioritize_queue_order == "LIFO"
        assert special.event_callback_url == "https://example.com/events"
        assert special.events_filter == "task.created,worker.activity.update"
        assert created[0].multi_task_enabled is True
        assert created[0].prioritize_queue_order == "FIFO"

        check_paging(workspaces, sids(created), http_log, "/v1/Workspaces",
                     friendly_name=name)

        fetched = workspaces(special.sid).fetch()
        assert fields(fetched) == fields(special)

        available = next(a for a in workspaces(special.sid).activities.list()
                         if a.friendly_name == "Available")
        updated = workspaces(special.sid).update(
            friendly_name=name + "-renamed", multi_task_enabled=True,
            prioritize_queue_order="FIFO", default_activity_sid=available.sid,
            event_callback_url="https://example.com/other")
        check_types(updated, bools=("multi_task_enabled",))
        assert updated.friendly_name == name + "-renamed"
        assert updated.multi_task_enabled is True
        assert updated.prioritize_queue_order == "FIFO"
        assert (updated.default_activity_sid, updated.default_activity_name) == (
            available.sid, "Available")
        assert updated.event_callback_url == "https://example.com/other"
        assert updated.date_created == special.date_created
        assert fields(workspaces(special.sid).fetch()) == fields(updated)

        assert workspaces(special.sid).delete() is True
        raises_rest(20404, 404, workspaces(special.sid).fetch)
        assert special.sid not in sids(workspaces.list(friendly_name=name))
    finally:
        for ws in created:
            with contextlib.suppress(TwilioRestException):
                workspaces(ws.sid).delete()


def test_activities(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    activities = twilio_client.taskrouter.v1.workspaces(workspace.sid).activities
    defaults = activities.list()
    assert [(a.friendly_name, a.available) for a in defaults] == [
        ("Offline", False), ("Available", True), ("Unavailable", False)]
    created = [activities.create(friendly_name=f"Busy {i}", available=i % 2 == 0)
               for i in range(4)]
    for activity in [*defaults, *created]:
        check_types(activity, bools=("available",))
        assert activity.workspace_sid == workspace.sid
    assert [a.available for a in created] == [True, False, True, False]
    assert activities.create(friendly_name="Default availability").available is True

    everything = [*sids(defaults), *sids(created)]
    everything.append(activities.list(friendly_name="Default availability")[0].sid)
    check_paging(activities, everything, http_log, "/Activities")
    assert sids(activities.list(available="true")) == [
        everything[1], everything[3], everything[5], everything[7]]
    assert sids(activities.list(available="false")) == [
        everything[0], everything[2], everything[4], everything[6]]
    assert sids(activities.list(friendly_name="Busy 2")) == [created[2].sid]

    fetched = activities(created[0].sid).fetch()
    assert fields(fetched) == fields(created[0])
    updated = activities(created[0].sid).update(friendly_name="On a break")
    check_types(updated, bools=("available",))
    assert (updated.friendly_name, updated.available) == ("On a break", True)
    assert fields(activities(created[0].sid).fetch()) == fields(updated)

    assert activities(created[0].sid).delete() is True
    raises_rest(20404, 404, activities(created[0].sid).fetch)
    assert created[0].sid not in sids(activities.list())


def test_task_channels(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    channels = ws.task_channels
    defaults = channels.list()
    assert [c.unique_name for c in defaults] == ["default", "voice", "sms", "chat", "video"]
    email = channels.create(friendly_name="Email", unique_name="email",
                            channel_optimized_routing=True)
    fax = channels.create(friendly_name="Fax", unique_name="fax")
    for channel in [*defaults, email, fax]:
        check_types(channel)
        assert channel.workspace_sid == workspace.sid
    assert email.channel_optimized_routing is True
    check_paging(channels, [*sids(defaults), email.sid, fax.sid], http_log, "/TaskChannels")

    assert fields(channels(email.sid).fetch()) == fields(email)
    assert fields(channels("email").fetch()) == fields(email)  # by unique name
    updated = channels(email.sid).update(friendly_name="E-mail", channel_optimized_routing=False)
    check_types(updated, bools=("channel_optimized_routing",))
    assert (updated.friendly_name, updated.unique_name) == ("E-mail", "email")
    assert updated.channel_optimized_routing is False
    assert fields(channels(email.sid).fetch()) == fields(updated)

    # Every worker gets a channel for each task channel, and loses it with the task channel.
    worker = ws.workers.create(friendly_name="alice")
    names = [wc.task_channel_unique_name for wc in ws.workers(worker.sid).worker_channels.list()]
    assert names == ["default", "voice", "sms", "chat", "video", "email", "fax"]
    assert channels(fax.sid).delete() is True
    raises_rest(20404, 404, channels(fax.sid).fetch)
    assert fax.sid not in sids(channels.list())
    names = [wc.task_channel_unique_name for wc in ws.workers(worker.sid).worker_channels.list()]
    assert "fax" not in names


def test_workers(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    activity = {a.friendly_name: a for a in ws.activities.list()}
    created = []
    for i in range(7):
        attributes = json.dumps({"index": i, "languages": ["en"] if i % 2 else ["fr"],
                                 "contact": {"email": f"w{i}@example.com"}})
        kwargs = {"activity_sid": activity["Available"].sid} if i < 3 else {}
        created.append(ws.workers.create(friendly_name=f"worker {i}", attributes=attributes,
                                         **kwargs))
    for i, worker in enumerate(created):
        check_types(worker, datetimes=("date_created", "date_updated", "date_status_changed"),
                    bools=("available",))
        assert json.loads(worker.attributes)["index"] == i
        assert worker.workspace_sid == workspace.sid
        expected = "Available" if i < 3 else "Offline"
        assert (worker.activity_name, worker.available) == (expected, i < 3)
        assert worker.activity_sid == activity[expected].sid
    assert json.loads(ws.workers.create(friendly_name="no attributes").attributes) == {}
    everything = [*sids(created), ws.workers.list(friendly_name="no attributes")[0].sid]

    check_paging(ws.workers, everything, http_log, "/Workers")
    assert sids(ws.workers.list(available="true")) == everything[:3]
    assert sids(ws.workers.list(activity_name="Offline")) == everything[3:]
    assert sids(ws.workers.list(activity_sid=activity["Available"].sid)) == everything[:3]
    assert sids(ws.workers.list(friendly_name="worker 4")) == [everything[4]]
    by_name = [w.friendly_name for w in ws.workers.list(ordering="FriendlyName:desc")]
    assert by_name == ["worker 6", "worker 5", "worker 4", "worker 3", "worker 2", "worker 1",
                       "worker 0", "no attributes"]

    target = ws.workers(created[4].sid)
    assert fields(target.fetch()) == fields(created[4])
    updated = target.update(friendly_name="renamed", activity_sid=activity["Unavailable"].sid,
                            attributes=json.dumps({"languages": ["de"]}))
    check_types(updated, datetimes=("date_created", "date_updated", "date_status_changed"),
                bools=("available",))
    assert updated.friendly_name == "renamed"
    assert (updated.activity_name, updated.available) == ("Unavailable", False)
    assert json.loads(updated.attributes) == {"languages": ["de"]}
    assert fields(target.fetch()) == fields(updated)

    assert target.delete() is True
    raises_rest(20404, 404, target.fetch)
    assert created[4].sid not in sids(ws.workers.list())


def test_worker_channels(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    worker = ws.workers.create(friendly_name="alice")
    task_channels = {c.unique_name: c for c in ws.task_channels.list()}
    channels = ws.workers(worker.sid).worker_channels
    listed = channels.list()
    for wc in listed:
        check_types(wc, bools=("available",),
                    ints=("assigned_tasks", "available_capacity_percentage",
                          "configured_capacity"))
        assert (wc.worker_sid, wc.workspace_sid) == (worker.sid, workspace.sid)
        assert wc.task_channel_sid == task_channels[wc.task_channel_unique_name].sid
        assert (wc.assigned_tasks, wc.configured_capacity, wc.available) == (0, 1, True)
        assert wc.available_capacity_percentage == 100
    check_paging(channels, sids(listed), http_log, f"/Workers/{worker.sid}/Channels")

    voice = next(wc for wc in listed if wc.task_channel_unique_name == "voice")
    assert fields(channels(voice.sid).fetch()) == fields(voice)
    assert fields(channels("voice").fetch()) == fields(voice)  # by the channel's unique name
    assert fields(channels(voice.task_channel_sid).fetch()) == fields(voice)

    updated = channels("voice").update(capacity=3)
    check_types(updated, bools=("available",),
                ints=("assigned_tasks", "available_capacity_percentage", "configured_capacity"))
    assert (updated.sid, updated.configured_capacity, updated.available) == (voice.sid, 3, True)
    updated = channels(voice.sid).update(available=False)
    assert (updated.configured_capacity, updated.available) == (3, False)
    assert fields(channels(voice.sid).fetch()) == fields(updated)

    # Worker channels come and go with workers and task channels.
    email = ws.task_channels.create(friendly_name="Email", unique_name="email")
    added = channels("email").fetch()
    check_types(added, bools=("available",), ints=("configured_capacity",))
    assert added.task_channel_sid == email.sid
    ws.task_channels(email.sid).delete()
    raises_rest(20404, 404, channels("email").fetch)
    ws.workers(worker.sid).delete()
    raises_rest(20404, 404, channels(voice.sid).fetch)


def test_task_queues(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    activity = {a.friendly_name: a for a in ws.activities.list()}
    sample = ws.task_queues.list()
    assert [(q.friendly_name, q.target_workers) for q in sample] == [("Sample Queue", "1==1")]
    created = [ws.task_queues.create(friendly_name=f"Queue {i}", target_workers=f"level >= {i}",
                                     max_reserved_workers=i + 1,
                                     task_order="LIFO" if i % 2 else "FIFO")
               for i in range(4)]
    created.append(ws.task_queues.create(
        friendly_name="Activities", reservation_activity_sid=activity["Unavailable"].sid,
        assignment_activity_sid=activity["Offline"].sid))
    for i, queue in enumerate(created):
        check_types(queue, ints=("max_reserved_workers",))
        assert queue.workspace_sid == workspace.sid
        if i < 4:
            assert (queue.target_workers, queue.max_reserved_workers, queue.task_order) == (
                f"level >= {i}", i + 1, "LIFO" if i % 2 else "FIFO")
    last = created[-1]
    assert (last.target_workers, last.max_reserved_workers, last.task_order) == (
        "1==1", 1, "FIFO")
    assert (last.reservation_activity_sid, last.reservation_activity_name) == (
        activity["Unavailable"].sid, "Unavailable")
    assert (last.assignment_activity_sid, last.assignment_activity_name) == (
        activity["Offline"].sid, "Offline")

    everything = [*sids(sample), *sids(created)]
    check_paging(ws.task_queues, everything, http_log, "/TaskQueues")
    assert sids(ws.task_queues.list(friendly_name="Queue 2")) == [created[2].sid]
    assert [q.friendly_name for q in ws.task_queues.list(ordering="FriendlyName:asc")] == [
        "Activities", "Queue 0", "Queue 1", "Queue 2", "Queue 3", "Sample Queue"]

    queue = ws.task_queues(created[1].sid)
    assert fields(queue.fetch()) == fields(created[1])
    updated = queue.update(friendly_name="Seniors", target_workers="level >= 5 AND team == 'a'",
                           max_reserved_workers=7, task_order="FIFO")
    check_types(updated, ints=("max_reserved_workers",))
    assert (updated.friendly_name, updated.target_workers, updated.max_reserved_workers,
            updated.task_order) == ("Seniors", "level >= 5 AND team == 'a'", 7, "FIFO")
    assert fields(queue.fetch()) == fields(updated)

    assert queue.delete() is True
    raises_rest(20404, 404, queue.fetch)
    assert created[1].sid not in sids(ws.task_queues.list())


def test_workflows(workspace: Any, twilio_client: Any, http_log: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    queue = ws.task_queues.list()[0]
    default = ws.workflows.list()
    assert [w.friendly_name for w in default] == ["Default Fifo Workflow"]
    assert json.loads(default[0].configuration) == {
        "task_routing": {"default_filter": {"queue": queue.sid}}}
    created = []
    for i in range(4):
        configuration = {"task_routing": {
            "filters": [{"filter_friendly_name": f"filter {i}", "expression": f"n == {i}",
                         "targets": [{"queue": queue.sid, "timeout": 30 + i}]}],
            "default_filter": {"queue": queue.sid},
        }}
        created.append(ws.workflows.create(
            friendly_name=f"Workflow {i}", configuration=json.dumps(configuration),
            task_reservation_timeout=60 + i,
            assignment_callback_url=f"https://example.com/assign/{i}",
            fallback_assignment_callback_url="https://example.com/fallback"))
        assert json.loads(created[-1].configuration) == configuration
    for i, workflow in enumerate([*default, *created]):
        check_types(workflow, ints=("task_reservation_timeout",))
        assert workflow.workspace_sid == workspace.sid
        assert workflow.document_content_type == "application/json"
        if i:
            assert workflow.task_reservation_timeout == 59 + i
            assert workflow.assignment_callback_url == f"https://example.com/assign/{i - 1}"
            assert workflow.fallback_assignment_callback_url == "https://example.com/fallback"
    assert default[0].task_reservation_timeout == 120

    check_paging(ws.workflows, [*sids(default), *sids(created)], http_log, "/Workflows")
    assert sids(ws.workflows.list(friendly_name="Workflow 3")) == [created[3].sid]

    workflow = ws.workflows(created[0].sid)
    assert fields(workflow.fetch()) == fields(created[0])
    new_configuration = {"task_routing": {"filters": [], "default_filter": {"queue": queue.sid}}}
    updated = workflow.update(friendly_name="Renamed",
                              configuration=json.dumps(new_configuration),
                              task_reservation_timeout=300,
                              assignment_callback_url="https://example.com/new")
    check_types(updated, ints=("task_reservation_timeout",))
    assert (updated.friendly_name, updated.task_reservation_timeout,
            updated.assignment_callback_url) == ("Renamed", 300, "https://example.com/new")
    assert json.loads(updated.configuration) == new_configuration
    assert updated.fallback_assignment_callback_url == "https://example.com/fallback"
    assert fields(workflow.fetch()) == fields(updated)

    assert workflow.delete() is True
    raises_rest(20404, 404, workflow.fetch)
    assert created[0].sid not in sids(ws.workflows.list())


# ---------------------------------------------------------------------- a new user's set-up


def test_new_user_flow(workspace: Any, twilio_client: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    assert fields(ws.fetch()) == fields(workspace)
    available = ws.activities.list(friendly_name="Available")[0]

    people = {
        "alice": {"skills": ["en", "es"], "level": 5, "team": "support"},
        "bob": {"skills": ["en"], "level": 2, "team": "support"},
        "carol": {"skills": ["fr"], "level": 7, "team": "sales"},
        "dave": {"skills": [], "level": 1, "team": "support",
                 "contact": {"email": "dave@example.com"}},
    }
    worker = {name: ws.workers.create(friendly_name=name, attributes=json.dumps(attrs),
                                      activity_sid=available.sid)
              for name, attrs in people.items()}
    for name, attrs in people.items():
        assert json.loads(worker[name].attributes) == attrs
    queue = {
        name: ws.task_queues.create(friendly_name=name, target_workers=expression)
        for name, expression in [
            ("English", "'en' IN skills"),
            ("Spanish", "skills HAS 'es'"),
            ("Senior", "level >= 5"),
            ("Sales", "team == 'sales'"),
            ("Junior support", "team == 'support' AND level < 5"),
        ]
    }
    queue["Sample Queue"] = ws.task_queues.list(friendly_name="Sample Queue")[0]
    configuration = {"task_routing": {
        "filters": [
            {"filter_friendly_name": "Spanish speakers", "expression": "language == 'es'",
             "targets": [{"queue": queue["Spanish"].sid, "timeout": 30, "priority": 5},
                         {"queue": queue["English"].sid}]},
            {"filter_friendly_name": "Sales", "expression": "type == 'sales'",
             "targets": [{"queue": queue["Sales"].sid,
                          "expression": "worker.level >= task.required_level"},
                         {"queue": queue["Senior"].sid, "order_by": "worker.level DESC"}]},
        ],
        "default_filter": {"queue": queue["English"].sid},
    }}
    workflow = ws.workflows.create(friendly_name="Support", configuration=json.dumps(
        configuration), task_reservation_timeout=45)
    fetched = ws.workflows(workflow.sid).fetch()
    assert json.loads(fetched.configuration) == configuration
    assert fetched.task_reservation_timeout == 45

    def names(workers: Any) -> set[str]:
        return {w.friendly_name for w in workers}

    def members(queue_name: str) -> set[str]:
        return names(ws.workers.list(task_queue_sid=queue[queue_name].sid))

    def queues_for(attributes: dict[str, Any]) -> set[str]:
        return {q.friendly_name for q in ws.task_queues.list(
            evaluate_worker_attributes=json.dumps(attributes))}

    assert names(ws.workers.list(target_workers_expression="level > 3")) == {"alice", "carol"}
    assert names(ws.workers.list(
        target_workers_expression="'en' IN skills AND level < 5")) == {"bob"}
    assert names(ws.workers.list(
        target_workers_expression="contact.email == 'dave@example.com'")) == {"dave"}
    assert names(ws.workers.list(target_workers_expression="1==1")) == set(people)
    assert names(ws.workers.list(target_workers_expression="team == 'nobody'")) == set()

    assert members("English") == {"alice", "bob"}
    assert members("Spanish") == {"alice"}
    assert members("Senior") == {"alice", "carol"}
    assert members("Sales") == {"carol"}
    assert members("Junior support") == {"bob", "dave"}
    assert members("Sample Queue") == set(people)
    assert names(ws.workers.list(task_queue_name="Senior")) == {"alice", "carol"}

    assert queues_for({"skills": ["es"], "level": 6, "team": "sales"}) == {
        "Spanish", "Senior", "Sales", "Sample Queue"}
    assert queues_for({"skills": ["en"], "level": 1, "team": "support"}) == {
        "English", "Junior support", "Sample Queue"}
    assert queues_for({}) == {"Sample Queue"}
    assert {q.friendly_name for q in ws.task_queues.list(worker_sid=worker["bob"].sid)} == {
        "English", "Junior support", "Sample Queue"}

    # Membership follows attribute and expression changes.
    ws.workers(worker["bob"].sid).update(attributes=json.dumps(
        {"skills": ["en"], "level": 9, "team": "support"}))
    assert members("Senior") == {"alice", "bob", "carol"}
    assert members("Junior support") == {"dave"}
    ws.task_queues(queue["Sales"].sid).update(target_workers="team IN ['sales', 'support']")
    assert members("Sales") == set(people)
    ws.workers(worker["carol"].sid).delete()
    assert members("Senior") == {"alice", "bob"}


# ---------------------------------------------------------------------- If-Match


def test_worker_update_if_match(workspace: Any, twilio_client: Any) -> None:
    workers = twilio_client.taskrouter.v1.workspaces(workspace.sid).workers
    worker = workers.create(friendly_name="alice")
    error = raises_rest(20412, 412, workers(worker.sid).update, if_match="999",
                        friendly_name="changed")
    assert error.method == "POST"
    assert workers(worker.sid).fetch().friendly_name == "alice"

    # The SDK hands the headers over as a plain dict, named as the server spelled them.
    etag = workers(worker.sid).fetch_with_http_info().headers["ETag"]
    updated = workers(worker.sid).update(if_match=etag, friendly_name="changed")
    assert updated.friendly_name == "changed"
    raises_rest(20412, 412, workers(worker.sid).update, if_match=etag, friendly_name="stale")
    assert workers(worker.sid).fetch().friendly_name == "changed"


# ---------------------------------------------------------------------- API keys


def test_api_keys(twilio_client: Any, make_client: Any, server: Any, account_sid: str,
                  http_log: Any) -> None:
    created = [twilio_client.new_keys.create(friendly_name=f"key {i}") for i in range(5)]
    try:
        for i, key in enumerate(created):
            assert key.sid.startswith("SK") and len(key.sid) == 34
            assert isinstance(key.secret, str) and len(key.secret) >= 20
            assert key.friendly_name == f"key {i}"
            assert isinstance(key.date_created, datetime)
            assert isinstance(key.date_updated, datetime)
        assert len({key.secret for key in created}) == len(created)

        # A client authenticated with the key uses the TaskRouter API as the account.
        key = created[0]
        keyed = make_client(server.url, key.sid, key.secret, account_sid)
        ws = keyed.taskrouter.v1.workspaces.create(friendly_name=unique("keyed"))
        try:
            assert ws.account_sid == account_sid
            fetched = twilio_client.taskrouter.v1.workspaces(ws.sid).fetch()
            assert fetched.friendly_name == ws.friendly_name
            assert ws.sid in sids(keyed.taskrouter.v1.workspaces.list())
            keyed.taskrouter.v1.workspaces(ws.sid).workers.create(friendly_name="alice")
        finally:
            twilio_client.taskrouter.v1.workspaces(ws.sid).delete()

        # Listing: the SDK follows the 2010-style relative page URIs.
        http_log.requests.clear()
        listed = {k.sid: k for k in twilio_client.keys.list(page_size=2)}
        assert set(sids(created)) <= set(listed)
        assert len(http_log.gets("/Keys.json")) >= 3
        for made in created:
            assert listed[made.sid].friendly_name == made.friendly_name
            assert getattr(listed[made.sid], "secret", None) is None  # shown once, at creation
            assert isinstance(listed[made.sid].date_created, datetime)

        fetched_key = twilio_client.keys(key.sid).fetch()
        assert (fetched_key.sid, fetched_key.friendly_name, fetched_key.date_created) == (
            key.sid, key.friendly_name, key.date_created)
        assert getattr(fetched_key, "secret", None) is None
        updated = twilio_client.keys(key.sid).update(friendly_name="renamed")
        assert (updated.sid, updated.friendly_name) == (key.sid, "renamed")
        assert twilio_client.keys(key.sid).fetch().friendly_name == "renamed"

        assert twilio_client.keys(key.sid).delete() is True
        raises_rest(20404, 404, twilio_client.keys(key.sid).fetch)
        assert key.sid not in sids(twilio_client.keys.list())
        # The deleted key's credentials no longer work.
        raises_rest(20003, 401, keyed.taskrouter.v1.workspaces.create, friendly_name="nope")
        wrong_secret = make_client(server.url, created[1].sid, "not-the-secret", account_sid)
        raises_rest(20003, 401, wrong_secret.taskrouter.v1.workspaces.create,
                    friendly_name="nope")
    finally:
        for made in created:
            with contextlib.suppress(TwilioRestException):
                twilio_client.keys(made.sid).delete()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("resource", [
    "workspace", "activity", "task_channel", "worker", "worker_channel", "task_queue",
    "workflow", "key",
])
def test_unknown_sid(resource: str, workspace: Any, twilio_client: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    context = {
        "workspace": lambda: twilio_client.taskrouter.v1.workspaces("WS" + MISSING_SID),
        "activity": lambda: ws.activities("WA" + MISSING_SID),
        "task_channel": lambda: ws.task_channels("TC" + MISSING_SID),
        "worker": lambda: ws.workers("WK" + MISSING_SID),
        "worker_channel": lambda: ws.workers(ws.workers.create(friendly_name="a").sid)
        .worker_channels("WC" + MISSING_SID),
        "task_queue": lambda: ws.task_queues("WQ" + MISSING_SID),
        "workflow": lambda: ws.workflows("WW" + MISSING_SID),
        "key": lambda: twilio_client.keys("SK" + MISSING_SID),
    }[resource]()
    error = raises_rest(20404, 404, context.fetch)
    assert error.msg.startswith("Unable to fetch record")
    if resource != "worker_channel":  # worker channels have no delete
        raises_rest(20404, 404, context.delete)
    if resource in ("activity", "task_channel", "worker", "task_queue", "workflow"):
        raises_rest(20404, 404, context.update, friendly_name="x")
    # A workspace that does not exist hides everything below it.
    missing = twilio_client.taskrouter.v1.workspaces("WS" + MISSING_SID)
    raises_rest(20404, 404, missing.workers.create, friendly_name="a")
    with pytest.raises(TwilioException, match="Unable to fetch page") as info:
        missing.workers.list()
    assert info.value.args[1].status_code == 404


def test_invalid_expressions(workspace: Any, twilio_client: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    queue = ws.task_queues.list()[0]
    for bad in ("skills HAS", "level >>= 3", "(a == 1", "a == 'unterminated"):
        raises_rest(20001, 400, ws.task_queues.create, friendly_name="bad", target_workers=bad)
        raises_rest(20001, 400, ws.task_queues(queue.sid).update, target_workers=bad)
        configuration = {"task_routing": {"filters": [
            {"expression": bad, "targets": [{"queue": queue.sid}]}]}}
        raises_rest(20001, 400, ws.workflows.create, friendly_name="bad",
                    configuration=json.dumps(configuration))
        configuration = {"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": queue.sid, "expression": bad}]}]}}
        raises_rest(20001, 400, ws.workflows.create, friendly_name="bad",
                    configuration=json.dumps(configuration))
        # List calls raise the SDK's plain TwilioException; the response is the 400.
        with pytest.raises(TwilioException, match="Unable to fetch page") as info:
            ws.workers.list(target_workers_expression=bad)
        assert info.value.args[1].status_code == 400
        assert json.loads(info.value.args[1].text)["code"] == 20001
    assert ws.task_queues(queue.sid).fetch().target_workers == "1==1"
    assert [q.friendly_name for q in ws.task_queues.list()] == ["Sample Queue"]
    assert [w.friendly_name for w in ws.workflows.list()] == ["Default Fifo Workflow"]
    # Workflows must name queues of this workspace, in valid JSON.
    raises_rest(20001, 400, ws.workflows.create, friendly_name="bad", configuration=json.dumps(
        {"task_routing": {"default_filter": {"queue": "WQ" + MISSING_SID}}}))
    raises_rest(20001, 400, ws.workflows.create, friendly_name="bad", configuration="{not json")
    raises_rest(20001, 400, ws.workers.create, friendly_name="bad", attributes="{not json")
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        ws.task_queues.list(evaluate_worker_attributes="{not json")


def test_missing_required_parameters(workspace: Any, twilio_client: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    queue = ws.task_queues.list()[0]
    configuration = json.dumps({"task_routing": {"default_filter": {"queue": queue.sid}}})
    calls = [
        (twilio_client.taskrouter.v1.workspaces.create, {"friendly_name": None}, "FriendlyName"),
        (ws.activities.create, {"friendly_name": None}, "FriendlyName"),
        (ws.task_channels.create, {"friendly_name": "x", "unique_name": None}, "UniqueName"),
        (ws.task_channels.create, {"friendly_name": None, "unique_name": "x"}, "FriendlyName"),
        (ws.workers.create, {"friendly_name": None}, "FriendlyName"),
        (ws.task_queues.create, {"friendly_name": None}, "FriendlyName"),
        (ws.workflows.create, {"friendly_name": "x", "configuration": None}, "Configuration"),
        (ws.workflows.create, {"friendly_name": None, "configuration": configuration},
         "FriendlyName"),
    ]
    for create, kwargs, name in calls:
        error = raises_rest(20001, 400, create, **kwargs)
        assert error.msg.startswith("Unable to create record")
        assert name in error.msg
    assert [c.unique_name for c in ws.task_channels.list()] == [
        "default", "voice", "sms", "chat", "video"]
    assert ws.workers.list() == []


def test_wrong_credentials(workspace: Any, make_client: Any, server: Any,
                           account_sid: str) -> None:
    for client in (make_client(server.url, account_sid, "wrong-token"),
                   make_client(server.url, "AC" + "b" * 32, "test-auth-token"),
                   make_client(server.url, "SK" + MISSING_SID, "secret", account_sid)):
        tr = client.taskrouter.v1
        raises_rest(20003, 401, tr.workspaces(workspace.sid).fetch)
        raises_rest(20003, 401, tr.workspaces.create, friendly_name="nope")
        raises_rest(20003, 401, tr.workspaces(workspace.sid).workers.create, friendly_name="x")
        raises_rest(20003, 401, tr.workspaces(workspace.sid).update, friendly_name="nope")
        raises_rest(20003, 401, tr.workspaces(workspace.sid).delete)
        raises_rest(20003, 401, client.new_keys.create)
        # For list calls the SDK raises its plain exception, before reading any code.
        with pytest.raises(TwilioException, match="Unable to fetch page") as info:
            tr.workspaces.list()
        assert not isinstance(info.value, TwilioRestException)
        assert info.value.args[1].status_code == 401
    assert make_client(server.url).taskrouter.v1.workspaces(workspace.sid).fetch().friendly_name \
        == workspace.friendly_name  # nothing was changed or deleted


# ---------------------------------------------------------------------- restart durability


def snapshot(client: Any, workspace_sid: str) -> dict[str, Any]:
    """Everything the SDK can read about a workspace, in list order."""
    ws = client.taskrouter.v1.workspaces(workspace_sid)
    workers = ws.workers.list()
    queues = ws.task_queues.list()
    return {
        "workspace": fields(ws.fetch()),
        "activities": [fields(a) for a in ws.activities.list()],
        "task_channels": [fields(c) for c in ws.task_channels.list()],
        "workers": [fields(w) for w in workers],
        "worker_channels": {w.sid: [fields(c) for c in ws.workers(w.sid).worker_channels.list()]
                            for w in workers},
        "task_queues": [fields(q) for q in queues],
        "queue_members": {q.sid: sorted(sids(ws.workers.list(task_queue_sid=q.sid)))
                          for q in queues},
        "workflows": [fields(w) for w in ws.workflows.list()],
    }


def by_sid(value: Any) -> Any:
    """The snapshot without list order: every list of resources becomes a dict by SID."""
    if isinstance(value, dict):
        return {key: by_sid(item) for key, item in value.items()}
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return {item["sid"]: item for item in value}
    return value


def build_workspace(client: Any) -> str:
    tr = client.taskrouter.v1
    ws = tr.workspaces.create(friendly_name="durable", template="FIFO",
                              event_callback_url="https://example.com/events",
                              multi_task_enabled=False, prioritize_queue_order="LIFO")
    w = tr.workspaces(ws.sid)
    brk = w.activities.create(friendly_name="Break", available=False)
    available = w.activities.list(friendly_name="Available")[0]
    w.update(timeout_activity_sid=brk.sid)
    w.task_channels.create(friendly_name="Email", unique_name="email",
                           channel_optimized_routing=True)
    for i in range(5):
        worker = w.workers.create(
            friendly_name=f"worker {i}", activity_sid=available.sid if i % 2 else brk.sid,
            attributes=json.dumps({"level": i, "skills": ["en"] if i < 3 else ["fr"]}))
        w.workers(worker.sid).worker_channels("email").update(capacity=i + 1)
    english = w.task_queues.create(friendly_name="English", target_workers="'en' IN skills",
                                   max_reserved_workers=3, task_order="LIFO",
                                   reservation_activity_sid=brk.sid)
    senior = w.task_queues.create(friendly_name="Senior", target_workers="level >= 3")
    w.workflows.create(friendly_name="Routing", task_reservation_timeout=90,
                       assignment_callback_url="https://example.com/assign",
                       configuration=json.dumps({"task_routing": {
                           "filters": [{"filter_friendly_name": "seniors",
                                        "expression": "vip == true",
                                        "targets": [{"queue": senior.sid, "timeout": 20},
                                                    {"queue": english.sid}]}],
                           "default_filter": {"queue": english.sid}}}))
    return str(ws.sid)


def test_restart_after_kill_keeps_everything(own_server: Any, make_client: Any) -> None:
    client = make_client(own_server.url)
    workspace_sid = build_workspace(client)
    before = snapshot(client, workspace_sid)
    assert len(before["workers"]) == 5
    assert {len(m) for m in before["queue_members"].values()} == {5, 3, 2}

    others = [client.taskrouter.v1.workspaces.create(friendly_name=f"other {i}").sid
              for i in range(3)]

    own_server.stop(kill=True)
    own_server.start()
    after = snapshot(client, workspace_sid)
    assert by_sid(after) == by_sid(before)  # nothing lost or changed...
    assert after == before  # ...and every list in the same order
    assert sids(client.taskrouter.v1.workspaces.list()) == [workspace_sid, *others]

    # Still writable, and indexes rebuilt: a new worker joins the right queues.
    w = client.taskrouter.v1.workspaces(workspace_sid)
    new = w.workers.create(friendly_name="newcomer", attributes=json.dumps(
        {"level": 9, "skills": ["en"]}))
    assert {q.friendly_name for q in w.task_queues.list(worker_sid=new.sid)} == {
        "Sample Queue", "English", "Senior"}
    raises_rest(20001, 400, w.workers.create, friendly_name="worker 0")  # names still known
