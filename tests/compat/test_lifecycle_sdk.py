"""The task and reservation lifecycle through the official ``twilio`` Python library, unchanged.

Tasks are created, reserved, accepted, rejected, timed out, rescinded, wrapped up, completed,
canceled and deleted with the SDK alone; time moves only through the manual clock
(``POST /dev/clock``), so every timer (reservation timeout, task TTL, workflow step timeout)
fires exactly when a test says so. A restart after ``kill -9`` must keep pending timers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.compat.sdk_checks import check_types, sids
from twilio.base.exceptions import TwilioException, TwilioRestException

MISSING_TASK = "WT" + "0" * 32
TTL_REASON = "Task TTL Exceeded"
WORKFLOW_TIMEOUT_REASON = "Task canceled on Workflow timeout"


# ---------------------------------------------------------------------- helpers


def fields(instance: Any) -> dict[str, Any]:
    """The fields the SDK parsed from a response (its public attributes)."""
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}






def check_task(task: Any) -> None:
    check_types(task, datetimes=("date_created", "date_updated", "virtual_start_time"),
                ints=("age", "priority", "timeout"))
    assert task.sid.startswith("WT") and len(task.sid) == 34
    assert task.task_queue_entered_date is None or (
        isinstance(task.task_queue_entered_date, datetime)
        and task.task_queue_entered_date.tzinfo == UTC)
    assert task.ignore_capacity is None or type(task.ignore_capacity) is bool
    assert json.loads(task.attributes) is not None
    assert task.links["reservations"] == task.url + "/Reservations"


def check_reservation(reservation: Any) -> None:
    check_types(reservation)
    assert reservation.sid.startswith("WR") and len(reservation.sid) == 34
    assert reservation.links["task"].endswith("/Tasks/" + reservation.task_sid)
    assert reservation.links["worker"].endswith("/Workers/" + reservation.worker_sid)


def raises_rest(code: int | None, status: int, call: Any, *args: Any, **kwargs: Any
                ) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as info:
        call(*args, **kwargs)
    assert info.value.status == status, info.value.msg
    if code is not None:
        assert info.value.code == code, info.value.msg
    return info.value


def etag_of(context: Any) -> str:
    """The ETag of a fetched resource (the SDK's headers are a case-sensitive dict)."""
    return str(context.fetch_with_http_info().headers["ETag"])


def statuses(items: Any) -> list[str]:
    return [item.reservation_status for item in items]


@dataclass
class Room:
    """A FIFO-template workspace and what the template made."""

    sid: str
    ws: Any
    activity: dict[str, Any]
    queue: Any  # "Sample Queue", 1==1
    workflow: Any  # "Default Fifo Workflow"
    channel: Any  # the "default" TaskChannel

    def worker(self, name: str, activity: str = "Available", **attributes: Any) -> Any:
        return self.ws.workers.create(friendly_name=name, attributes=json.dumps(attributes),
                                      activity_sid=self.activity[activity].sid)

    def set_activity(self, worker: Any, activity: str) -> Any:
        return self.ws.workers(worker.sid).update(activity_sid=self.activity[activity].sid)

    def reservations(self, task: Any, **filters: Any) -> list[Any]:
        return list(self.ws.tasks(task.sid).reservations.list(**filters))

    def worker_reservations(self, worker: Any, **filters: Any) -> list[Any]:
        return list(self.ws.workers(worker.sid).reservations.list(**filters))

    def task(self, task: Any) -> Any:
        return self.ws.tasks(task.sid).fetch()

    def channel_of(self, worker: Any) -> Any:
        return self.ws.workers(worker.sid).worker_channels("default").fetch()

    def snapshot(self) -> Any:
        """Everything a failed request must leave alone (the manual clock stands still)."""
        tasks = list(self.ws.tasks.list())
        return ([fields(t) for t in tasks],
                {t.sid: [fields(r) for r in self.reservations(t)] for t in tasks},
                [fields(w) for w in self.ws.workers.list()],
                [fields(w) for w in self.ws.workflows.list()])


@pytest.fixture
def room(workspace: Any, twilio_client: Any) -> Room:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    return Room(
        sid=workspace.sid,
        ws=ws,
        activity={a.friendly_name: a for a in ws.activities.list()},
        queue=ws.task_queues.list(friendly_name="Sample Queue")[0],
        workflow=ws.workflows.list()[0],
        channel=ws.task_channels("default").fetch(),
    )


def routing(filters: list[dict[str, Any]], default_queue: str | None = None) -> str:
    config: dict[str, Any] = {"task_routing": {"filters": filters}}
    if default_queue:
        config["task_routing"]["default_filter"] = {"queue": default_queue}
    return json.dumps(config)


# ---------------------------------------------------------------------- 1. happy path


def test_happy_path(room: Room, advance: Any) -> None:
    ws = room.ws
    alice = room.worker("alice", skills=["en"])
    attributes = {"type": "support", "customer": {"name": "Ann", "tier": 2}, "vip": True}
    task = ws.tasks.create(attributes=json.dumps(attributes))
    check_task(task)
    assert task.assignment_status == "reserved"
    assert json.loads(task.attributes) == attributes
    assert (task.age, task.priority, task.timeout, task.reason) == (0, 0, 86_400, None)
    assert (task.workflow_sid, task.workflow_friendly_name) == (
        room.workflow.sid, "Default Fifo Workflow")
    assert (task.task_queue_sid, task.task_queue_friendly_name) == (
        room.queue.sid, "Sample Queue")
    assert (task.task_channel_sid, task.task_channel_unique_name) == (
        room.channel.sid, "default")
    assert (task.routing_target, task.ignore_capacity) == (None, None)
    assert task.virtual_start_time == task.date_created == task.task_queue_entered_date
    assert task.workspace_sid == room.sid
    assert task.links["task_queue"].endswith("/TaskQueues/" + room.queue.sid)
    assert task.links["workflow"].endswith("/Workflows/" + room.workflow.sid)

    advance(7)
    fetched = room.task(task)
    check_task(fetched)
    assert fetched.age == 7  # the manual clock moved 7 s; nothing else did
    assert {**fields(fetched), "age": 0} == fields(task)

    # The pending reservation, seen from the task and from the worker.
    [reservation] = room.reservations(task)
    check_reservation(reservation)
    assert reservation.reservation_status == "pending"
    assert (reservation.task_sid, reservation.worker_sid, reservation.worker_name) == (
        task.sid, alice.sid, "alice")
    assert reservation.workspace_sid == task.workspace_sid
    assert reservation.url == f"{task.url}/Reservations/{reservation.sid}"
    assert reservation.date_created == task.date_created
    assert sids(room.reservations(task, reservation_status="pending")) == [reservation.sid]
    assert room.reservations(task, reservation_status="accepted") == []
    by_worker = room.worker_reservations(alice, reservation_status="pending")
    assert sids(by_worker) == [reservation.sid]
    assert by_worker[0].url.endswith(f"/Workers/{alice.sid}/Reservations/{reservation.sid}")
    assert room.worker_reservations(alice, reservation_status="accepted") == []
    assert fields(ws.tasks(task.sid).reservations(reservation.sid).fetch()) == fields(
        reservation)
    assert fields(ws.workers(alice.sid).reservations(reservation.sid).fetch()) == fields(
        by_worker[0])
    channel = room.channel_of(alice)
    check_types(channel, bools=("available",),
                ints=("assigned_tasks", "configured_capacity", "available_capacity_percentage"))
    assert (channel.assigned_tasks, channel.available_capacity_percentage) == (0, 0)

    # Accept through the worker's reservation list.
    advance(3)
    accepted = ws.workers(alice.sid).reservations(reservation.sid).update(
        reservation_status="accepted")
    check_reservation(accepted)
    assert accepted.reservation_status == "accepted"
    assert accepted.date_updated == reservation.date_created + timedelta(seconds=10)
    assigned = room.task(task)
    check_task(assigned)
    assert (assigned.assignment_status, assigned.age) == ("assigned", 10)
    assert assigned.date_updated == accepted.date_updated
    assert room.channel_of(alice).assigned_tasks == 1
    worker = ws.workers(alice.sid).fetch()
    assert (worker.activity_name, worker.available) == ("Available", True)  # multitasking

    wrapping = ws.tasks(task.sid).update(assignment_status="wrapping")
    check_task(wrapping)
    assert wrapping.assignment_status == "wrapping"
    assert statuses(room.reservations(task)) == ["wrapping"]
    assert room.channel_of(alice).assigned_tasks == 1

    advance(2)
    completed = ws.tasks(task.sid).update(assignment_status="completed", reason="resolved")
    check_task(completed)
    assert (completed.assignment_status, completed.reason, completed.age) == (
        "completed", "resolved", 12)
    assert fields(room.task(task)) == fields(completed)
    [done] = room.reservations(task)
    check_reservation(done)
    assert done.reservation_status == "completed"
    assert room.worker_reservations(alice, reservation_status="completed")[0].sid == done.sid
    channel = room.channel_of(alice)
    assert (channel.assigned_tasks, channel.available_capacity_percentage) == (0, 100)

    # Capacity is back: the next task goes to alice at once.
    again = ws.tasks.create(attributes="{}", priority=3)
    assert (again.assignment_status, again.priority) == ("reserved", 3)
    assert [r.worker_sid for r in room.reservations(again)] == [alice.sid]


def test_completing_through_the_reservation(room: Room) -> None:
    ws = room.ws
    bob = room.worker("bob")
    task = ws.tasks.create(attributes="{}")
    [reservation] = room.reservations(task)
    reservations = ws.tasks(task.sid).reservations
    assert reservations(reservation.sid).update(
        reservation_status="accepted").reservation_status == "accepted"
    assert reservations(reservation.sid).update(
        reservation_status="wrapping").reservation_status == "wrapping"
    assert room.task(task).assignment_status == "wrapping"
    assert reservations(reservation.sid).update(
        reservation_status="completed").reservation_status == "completed"
    finished = room.task(task)
    assert finished.assignment_status == "completed"
    assert finished.reason
    assert room.channel_of(bob).assigned_tasks == 0


# ---------------------------------------------------------------------- 2. reject, timeout, TTL


def test_reject_moves_the_worker_and_offers_the_next(room: Room) -> None:
    ws = room.ws
    workers = [room.worker("alice"), room.worker("bob")]
    task = ws.tasks.create(attributes=json.dumps({"type": "x"}))
    [first] = room.reservations(task)
    second_worker = next(w for w in workers if w.sid != first.worker_sid)

    rejected = ws.workers(first.worker_sid).reservations(first.sid).update(
        reservation_status="rejected", worker_activity_sid=room.activity["Unavailable"].sid)
    check_reservation(rejected)
    assert rejected.reservation_status == "rejected"
    moved = ws.workers(first.worker_sid).fetch()
    assert (moved.activity_sid, moved.activity_name, moved.available) == (
        room.activity["Unavailable"].sid, "Unavailable", False)
    reservations = room.reservations(task)
    assert statuses(reservations) == ["rejected", "pending"]
    assert reservations[1].worker_sid == second_worker.sid
    assert room.task(task).assignment_status == "reserved"

    # The second worker rejects too and stays where it was: the task waits again.
    ws.tasks(task.sid).reservations(reservations[1].sid).update(reservation_status="rejected")
    assert statuses(room.reservations(task)) == ["rejected", "rejected"]
    assert ws.workers(second_worker.sid).fetch().activity_name == "Available"
    assert room.task(task).assignment_status == "pending"

    # The first worker comes back and is offered the task again.
    room.set_activity(moved, "Available")
    reservations = room.reservations(task)
    assert statuses(reservations) == ["rejected", "rejected", "pending"]
    assert reservations[2].worker_sid == first.worker_sid
    assert room.task(task).assignment_status == "reserved"


def test_reservation_timeout(room: Room, advance: Any) -> None:
    ws = room.ws
    workflow = ws.workflows(room.workflow.sid).update(task_reservation_timeout=30)
    assert workflow.task_reservation_timeout == 30
    assert ws.fetch().timeout_activity_name == "Offline"
    workers = {w.sid: w for w in (room.worker("alice"), room.worker("bob"))}
    task = ws.tasks.create(attributes="{}")
    [first] = room.reservations(task)

    advance(29)
    assert statuses(room.reservations(task)) == ["pending"]
    advance(1)
    first_after, second = room.reservations(task)
    assert first_after.sid == first.sid
    assert first_after.reservation_status == "timeout"
    assert first_after.date_updated == first.date_created + timedelta(seconds=30)
    timed_out = ws.workers(first.worker_sid).fetch()
    assert (timed_out.activity_name, timed_out.available) == ("Offline", False)
    assert second.reservation_status == "pending"
    assert second.worker_sid != first.worker_sid and second.worker_sid in workers
    assert second.date_created == first_after.date_updated
    assert room.task(task).assignment_status == "reserved"

    # The second reservation's timer started at zero when it was made.
    advance(29)
    assert statuses(room.reservations(task)) == ["timeout", "pending"]
    advance(1)
    assert statuses(room.reservations(task)) == ["timeout", "timeout"]
    assert {w.activity_name for w in ws.workers.list()} == {"Offline"}
    assert room.task(task).assignment_status == "pending"
    assert all(room.channel_of(w).available_capacity_percentage == 100
               for w in workers.values())


def test_task_ttl(room: Room, advance: Any) -> None:
    ws = room.ws
    ws.workflows(room.workflow.sid).update(task_reservation_timeout=3600)
    waiting = ws.tasks.create(attributes="{}", timeout=60)  # nobody is available
    assert (waiting.assignment_status, waiting.timeout) == ("pending", 60)
    carol = room.worker("carol")
    assert room.task(waiting).assignment_status == "reserved"  # carol took it
    # A second task waits: carol's one slot is held by the first.
    queued = ws.tasks.create(attributes="{}", timeout=90)
    assert queued.assignment_status == "pending"

    advance(59)
    assert room.task(waiting).assignment_status == "reserved"
    advance(2)
    expired = room.task(waiting)
    check_task(expired)
    assert (expired.assignment_status, expired.reason) == ("canceled", TTL_REASON)
    assert statuses(room.reservations(waiting)) == ["canceled"]
    # carol is free again and takes the other task at once.
    assert room.task(queued).assignment_status == "reserved"
    assert [r.worker_sid for r in room.reservations(queued)] == [carol.sid]
    advance(40)
    expired = room.task(queued)
    assert (expired.assignment_status, expired.reason) == ("canceled", TTL_REASON)
    assert room.channel_of(carol).available_capacity_percentage == 100


def test_cancel(room: Room) -> None:
    ws = room.ws
    pending = ws.tasks.create(attributes="{}")
    assert pending.assignment_status == "pending"
    canceled = ws.tasks(pending.sid).update(assignment_status="canceled",
                                            reason="customer hung up")
    check_task(canceled)
    assert (canceled.assignment_status, canceled.reason) == ("canceled", "customer hung up")
    assert fields(room.task(pending)) == fields(canceled)

    dave = room.worker("dave")
    reserved = ws.tasks.create(attributes="{}")
    assert reserved.assignment_status == "reserved"
    ws.tasks(reserved.sid).update(assignment_status="canceled", reason="duplicate")
    assert room.task(reserved).reason == "duplicate"
    assert statuses(room.reservations(reserved)) == ["canceled"]
    assert room.channel_of(dave).available_capacity_percentage == 100
    raises_rest(20001, 400, ws.tasks(reserved.sid).update, assignment_status="canceled",
                reason="again")
    assert room.task(reserved).reason == "duplicate"


# ---------------------------------------------------------------------- 3. multi-reservation


def test_multi_reservation(room: Room) -> None:
    ws = room.ws
    queue = ws.task_queues(room.queue.sid).update(max_reserved_workers=3)
    assert queue.max_reserved_workers == 3
    workers = [room.worker(name) for name in ("alice", "bob", "carol")]
    task = ws.tasks.create(attributes="{}")
    assert task.assignment_status == "reserved"
    reservations = room.reservations(task)
    assert statuses(reservations) == ["pending"] * 3
    assert {r.worker_sid for r in reservations} == {w.sid for w in workers}

    winner = reservations[1]
    ws.workers(winner.worker_sid).reservations(winner.sid).update(reservation_status="accepted")
    after = {r.sid: r.reservation_status for r in room.reservations(task)}
    assert after == {reservations[0].sid: "rescinded", winner.sid: "accepted",
                     reservations[2].sid: "rescinded"}
    assert room.task(task).assignment_status == "assigned"

    late = reservations[0]
    error = raises_rest(None, 410, ws.workers(late.worker_sid).reservations(late.sid).update,
                        reservation_status="accepted")
    assert error.method == "POST"
    raises_rest(None, 410, ws.tasks(task.sid).reservations(late.sid).update,
                reservation_status="rejected")
    assert room.reservations(task)[0].reservation_status == "rescinded"
    assert room.task(task).assignment_status == "assigned"

    # The two rescinded workers are free for the next task.
    following = ws.tasks.create(attributes="{}")
    assert {r.worker_sid for r in room.reservations(following)} == {
        reservations[0].worker_sid, reservations[2].worker_sid}


# ---------------------------------------------------------------------- 4. workflows


def two_queues(room: Room) -> tuple[Any, Any]:
    return (room.ws.task_queues.create(friendly_name="Q1", target_workers="skill == 'one'"),
            room.ws.task_queues.create(friendly_name="Q2", target_workers="skill == 'two'"))


def cascade(room: Room, q1: Any, q2: Any) -> Any:
    return room.ws.workflows.create(friendly_name="Cascade", configuration=routing(
        [{"filter_friendly_name": "cascade", "expression": "type == 'cascade'",
          "targets": [{"queue": q1.sid, "timeout": 10},
                      {"queue": q2.sid, "timeout": 20, "priority": 5}]}],
        default_queue=room.queue.sid))


def test_cascading_targets(room: Room, advance: Any) -> None:
    ws = room.ws
    q1, q2 = two_queues(room)
    workflow = cascade(room, q1, q2)
    bob = room.worker("bob", skill="two")
    task = ws.tasks.create(attributes=json.dumps({"type": "cascade"}), workflow_sid=workflow.sid)
    check_task(task)
    assert (task.assignment_status, task.task_queue_sid, task.task_queue_friendly_name) == (
        "pending", q1.sid, "Q1")
    assert (task.workflow_sid, task.workflow_friendly_name) == (workflow.sid, "Cascade")
    assert task.priority == 0
    assert task.task_queue_entered_date == task.date_created

    advance(9)
    assert room.task(task).task_queue_sid == q1.sid
    advance(1)
    moved = room.task(task)
    check_task(moved)
    assert (moved.assignment_status, moved.task_queue_sid, moved.task_queue_friendly_name,
            moved.priority) == ("reserved", q2.sid, "Q2", 5)
    assert moved.task_queue_entered_date == task.date_created + timedelta(seconds=10)
    assert moved.age == 10
    assert [(r.worker_sid, r.reservation_status) for r in room.reservations(task)] == [
        (bob.sid, "pending")]
    assert [t.sid for t in ws.tasks.list(task_queue_sid=q2.sid)] == [task.sid]


def test_falling_off_the_workflow(room: Room, advance: Any) -> None:
    ws = room.ws
    q1, q2 = two_queues(room)
    workflow = cascade(room, q1, q2)
    bob = room.worker("bob", activity="Offline", skill="two")
    task = ws.tasks.create(attributes=json.dumps({"type": "cascade"}), workflow_sid=workflow.sid)
    other = ws.tasks.create(attributes=json.dumps({"type": "other"}), workflow_sid=workflow.sid)
    # No filter matches "other": the default filter's queue, with no timeout.
    assert (other.assignment_status, other.task_queue_sid) == ("pending", room.queue.sid)

    advance(10)
    assert (room.task(task).task_queue_sid, room.task(task).priority) == (q2.sid, 5)
    advance(19)  # the second target's deadline is task age 10 + 20
    assert room.task(task).assignment_status == "pending"
    advance(1)
    gone = room.task(task)
    check_task(gone)
    assert (gone.assignment_status, gone.reason) == ("canceled", WORKFLOW_TIMEOUT_REASON)
    assert room.reservations(task) == []

    # The default filter's task waits on, and goes to bob when he is available.
    advance(300)
    assert room.task(other).assignment_status == "pending"
    room.set_activity(bob, "Available")
    assert room.task(other).assignment_status == "reserved"
    assert [r.worker_sid for r in room.reservations(other)] == [bob.sid]


def test_skip_if_and_default_filter(room: Room) -> None:
    ws = room.ws
    q1, q2 = two_queues(room)
    workflow = ws.workflows.create(friendly_name="Skip", configuration=routing(
        [{"expression": "type == 'skip'",
          "targets": [{"queue": q1.sid, "skip_if": "workers.available == 0"},
                      {"queue": q2.sid}]}],
        default_queue=room.queue.sid))
    carol = room.worker("carol", activity="Offline", skill="one")
    bob = room.worker("bob", skill="two")
    attributes = json.dumps({"type": "skip"})

    # Q1's only member is offline: skipped at once to Q2, where bob takes it.
    first = ws.tasks.create(attributes=attributes, workflow_sid=workflow.sid)
    assert (first.assignment_status, first.task_queue_sid) == ("reserved", q2.sid)
    assert [r.worker_sid for r in room.reservations(first)] == [bob.sid]

    # carol is available: Q1 reserves her.
    room.set_activity(carol, "Available")
    second = ws.tasks.create(attributes=attributes, workflow_sid=workflow.sid)
    assert (second.assignment_status, second.task_queue_sid) == ("reserved", q1.sid)
    assert [r.worker_sid for r in room.reservations(second)] == [carol.sid]

    # carol is available but busy: workers.available == 1, so the task waits in Q1.
    third = ws.tasks.create(attributes=attributes, workflow_sid=workflow.sid)
    assert (third.assignment_status, third.task_queue_sid) == ("pending", q1.sid)

    # Default filter: everything else goes to the Sample Queue (everyone).
    dave = room.worker("dave")
    default = ws.tasks.create(attributes=json.dumps({"type": "misc"}), workflow_sid=workflow.sid)
    assert (default.assignment_status, default.task_queue_sid) == ("reserved", room.queue.sid)
    assert [r.worker_sid for r in room.reservations(default)] == [dave.sid]


# ---------------------------------------------------------------------- 5. listing, If-Match


def test_task_list_filters_if_match_and_delete(room: Room, twilio_client: Any,
                                               http_log: Any) -> None:
    ws = room.ws
    other_queue = ws.task_queues.create(friendly_name="Other", target_workers="team == 'x'")
    other_flow = ws.workflows.create(friendly_name="Other flow",
                                     configuration=routing([], other_queue.sid))
    alice = room.worker("alice")

    def create(workflow: Any, priority: int, **attributes: Any) -> Any:
        return ws.tasks.create(attributes=json.dumps(attributes), workflow_sid=workflow.sid,
                               priority=priority)

    t = [create(room.workflow, 1, n=0),  # reserved by alice
         create(room.workflow, 5, n=1),
         create(other_flow, 3, n=2),
         create(other_flow, 5, n=3),
         create(room.workflow, 0, n=4, lang="fr"),
         create(other_flow, 2, n=5),
         create(room.workflow, 7, n=6)]
    ws.tasks(t[5].sid).update(assignment_status="canceled", reason="test")
    everything = sids(t)
    assert sids(ws.tasks.list()) == everything
    assert [x.assignment_status for x in ws.tasks.list()] == [
        "reserved", "pending", "pending", "pending", "pending", "canceled", "pending"]

    def listed(**filters: Any) -> list[str]:
        return sids(ws.tasks.list(**filters))

    everything_but_5 = [s for s in everything if s != t[5].sid]
    assert listed(assignment_status=["pending", "reserved"]) == everything_but_5
    assert listed(assignment_status="reserved") == [t[0].sid]
    assert listed(assignment_status=["canceled"]) == [t[5].sid]
    assert listed(assignment_status=["assigned", "completed"]) == []
    assert listed(workflow_sid=other_flow.sid) == [t[2].sid, t[3].sid, t[5].sid]
    assert listed(workflow_name="Default Fifo Workflow") == [
        t[0].sid, t[1].sid, t[4].sid, t[6].sid]
    assert listed(task_queue_sid=other_queue.sid) == [t[2].sid, t[3].sid, t[5].sid]
    assert listed(task_queue_name="Sample Queue") == [t[0].sid, t[1].sid, t[4].sid, t[6].sid]
    assert listed(evaluate_task_attributes="lang == 'fr'") == [t[4].sid]
    assert listed(evaluate_task_attributes="n >= 5") == [t[5].sid, t[6].sid]
    assert listed(priority=5) == [t[1].sid, t[3].sid]
    assert listed(ordering="Priority:desc") == [
        t[6].sid, t[1].sid, t[3].sid, t[2].sid, t[5].sid, t[0].sid, t[4].sid]
    assert listed(ordering="Priority:asc") == [
        t[4].sid, t[0].sid, t[5].sid, t[2].sid, t[1].sid, t[3].sid, t[6].sid]
    assert listed(ordering="Priority:desc", workflow_sid=other_flow.sid,
                  assignment_status=["pending"]) == [t[3].sid, t[2].sid]

    # The SDK follows the pages itself.
    http_log.requests.clear()
    assert sids(ws.tasks.stream(page_size=2)) == everything
    pages = http_log.gets("/Tasks")
    assert len(pages) == 4 and all("PageSize=2" in url for url in pages)
    http_log.requests.clear()
    assert sids(ws.tasks.list(page_size=2, assignment_status=["pending", "reserved"])) == (
        everything_but_5)
    assert len(http_log.gets("/Tasks")) == 3
    http_log.requests.clear()
    assert sids(ws.tasks.list(limit=3, page_size=2)) == everything[:3]
    assert len(http_log.gets("/Tasks")) == 2

    # If-Match: the ETag is the task's version.
    etag = etag_of(ws.tasks(t[1].sid))
    before = fields(room.task(t[1]))
    raises_rest(20412, 412, ws.tasks(t[1].sid).update, if_match=etag + "0", priority=9)
    assert fields(room.task(t[1])) == before
    updated = ws.tasks(t[1].sid).update(if_match=etag, priority=9)
    assert updated.priority == 9
    assert etag_of(ws.tasks(t[1].sid)) != etag
    raises_rest(20412, 412, ws.tasks(t[1].sid).update, if_match=etag, priority=8)
    assert room.task(t[1]).priority == 9

    # Delete: wrong If-Match refused; deleting a reserved task frees its worker. The SDK's
    # TaskContext.delete(if_match=...) drops the header (twilio 9.13.0 overwrites it), so
    # the header goes through the SDK's own generic Client.request.
    refused = twilio_client.request("DELETE", t[0].url, headers={"If-Match": "12345"})
    assert refused.status_code == 412
    assert json.loads(refused.text)["code"] == 20412
    assert room.task(t[0]).assignment_status == "reserved"
    assert ws.tasks(t[0].sid).delete() is True
    raises_rest(20404, 404, ws.tasks(t[0].sid).fetch)
    assert t[0].sid not in listed()
    # alice takes the best waiting task of her queue: t1, now priority 9.
    assert [r.task_sid for r in room.worker_reservations(alice, reservation_status="pending")
            ] == [t[1].sid]
    etag = etag_of(ws.tasks(t[4].sid))
    deleted = twilio_client.request("DELETE", t[4].url, headers={"If-Match": etag})
    assert deleted.status_code == 204
    assert listed() == [t[1].sid, t[2].sid, t[3].sid, t[5].sid, t[6].sid]


# ---------------------------------------------------------------------- 6. RoutingTarget


def test_routing_target_worker(room: Room) -> None:
    ws = room.ws
    dave = room.worker("dave", activity="Offline")
    erin = room.worker("erin", activity="Offline")
    frank = room.worker("frank")  # available, but the tasks below are not for him

    direct = ws.tasks.create(attributes="{}", routing_target=dave.sid)
    check_task(direct)
    assert (direct.assignment_status, direct.routing_target, direct.ignore_capacity) == (
        "reserved", dave.sid, True)
    assert [(r.worker_sid, r.reservation_status) for r in room.reservations(direct)] == [
        (dave.sid, "pending")]
    # Ignoring capacity: dave's one slot is taken, he gets a second task anyway.
    second = ws.tasks.create(attributes="{}", routing_target=dave.sid)
    assert second.assignment_status == "reserved"
    assert len(room.worker_reservations(dave, reservation_status="pending")) == 2

    careful = ws.tasks.create(attributes="{}", routing_target=erin.sid, ignore_capacity="false")
    check_task(careful)
    assert (careful.assignment_status, careful.routing_target, careful.ignore_capacity) == (
        "pending", erin.sid, False)
    assert room.worker_reservations(frank) == []
    assert [t.sid for t in ws.tasks.list(routing_target=erin.sid)] == [careful.sid]
    room.set_activity(erin, "Available")
    assert room.task(careful).assignment_status == "reserved"
    assert [r.worker_sid for r in room.reservations(careful)] == [erin.sid]

    # Accept and complete a directly routed task like any other.
    [reservation] = room.reservations(direct)
    ws.workers(dave.sid).reservations(reservation.sid).update(reservation_status="accepted")
    ws.tasks(direct.sid).update(assignment_status="completed", reason="done")
    assert room.task(direct).assignment_status == "completed"


# ---------------------------------------------------------------------- 7. restart


def test_restart_keeps_pending_timers(own_server: Any, make_client: Any,
                                      dev_clock: Any) -> None:
    client = make_client(own_server.url)
    clock = dev_clock(own_server)
    created = client.taskrouter.v1.workspaces.create(friendly_name="restart", template="FIFO")
    ws = client.taskrouter.v1.workspaces(created.sid)
    available = ws.activities.list(friendly_name="Available")[0]
    workflow = ws.workflows.list()[0]
    ws.workflows(workflow.sid).update(task_reservation_timeout=30)
    w1 = ws.workers.create(friendly_name="w1", activity_sid=available.sid)
    w2 = ws.workers.create(friendly_name="w2", activity_sid=available.sid)
    w3 = ws.workers.create(friendly_name="w3")  # offline

    created_at = clock.now_ms()
    task = ws.tasks.create(attributes=json.dumps({"n": 1}))
    [first] = ws.tasks(task.sid).reservations.list()
    first_worker = first.worker_sid
    assert first.reservation_status == "pending"
    # w2 holds a task of its own, so the timed-out task has nowhere to go but w3.
    busy = ws.tasks.create(attributes=json.dumps({"n": 2}))
    [held] = ws.tasks(busy.sid).reservations.list()
    assert held.worker_sid != first_worker
    # A task waiting for w3 only, with a 45 s TTL.
    waiting = ws.tasks.create(attributes=json.dumps({"n": 3}), routing_target=w3.sid,
                              ignore_capacity="false", timeout=45)
    assert waiting.assignment_status == "pending"
    assert {w1.sid, w2.sid} == {first_worker, held.worker_sid}

    own_server.stop(kill=True)
    own_server.start()
    restarted_at = clock.now_ms()
    assert restarted_at >= created_at
    # The clock restarts from real time: the timers are where they were, in absolute time.
    until_timeout = (created_at + 30_000 - restarted_at) / 1000
    assert until_timeout > 1, "the restart took too long for this test"
    assert sids(ws.tasks.list()) == [task.sid, busy.sid, waiting.sid]
    assert statuses(ws.tasks(task.sid).reservations.list()) == ["pending"]

    clock.advance(until_timeout - 0.5)
    assert statuses(ws.tasks(task.sid).reservations.list()) == ["pending"]
    clock.advance(0.5)
    # Both pending reservations timed out (same deadline); each worker went Offline and
    # each task came back to the pending list: nobody is available.
    for t in (task, busy):
        reservations = ws.tasks(t.sid).reservations.list()
        assert statuses(reservations) == ["timeout"]
        assert ws.tasks(t.sid).fetch().assignment_status == "pending"
    assert {w.friendly_name: w.activity_name for w in ws.workers.list()} == {
        "w1": "Offline", "w2": "Offline", "w3": "Offline"}

    # Re-routed: w3 comes in and takes the oldest waiting task (FIFO), then the direct one
    # would wait for capacity.
    ws.workers(w3.sid).update(activity_sid=available.sid)
    [offered] = ws.tasks(task.sid).reservations.list(reservation_status="pending")
    assert offered.worker_sid == w3.sid
    assert ws.tasks(task.sid).fetch().assignment_status == "reserved"

    clock.advance((created_at + 45_000 - clock.now_ms()) / 1000)
    expired = ws.tasks(waiting.sid).fetch()
    assert (expired.assignment_status, expired.reason) == ("canceled", TTL_REASON)

    # Nothing lost or duplicated.
    assert sids(ws.tasks.list()) == [task.sid, busy.sid, waiting.sid]
    assert statuses(ws.tasks(task.sid).reservations.list()) == ["timeout", "pending"]
    assert len(ws.tasks(busy.sid).reservations.list()) == 1
    assert ws.tasks(waiting.sid).reservations.list() == []
    per_worker = {w.friendly_name: statuses(ws.workers(w.sid).reservations.list())
                  for w in ws.workers.list()}
    assert per_worker == {"w1": ["timeout"], "w2": ["timeout"], "w3": ["pending"]}


# ---------------------------------------------------------------------- 8. errors


def test_errors_change_nothing(room: Room, dev_clock: Any, server: Any) -> None:
    ws = room.ws
    alice = room.worker("alice")
    task = ws.tasks.create(attributes=json.dumps({"n": 1}))
    [reservation] = room.reservations(task)
    waiting = ws.tasks.create(attributes=json.dumps({"n": 2}))
    assert waiting.assignment_status == "pending"
    before = room.snapshot()

    def refused(code: int, status: int, call: Any, **kwargs: Any) -> TwilioRestException:
        error = raises_rest(code, status, call, **kwargs)
        assert room.snapshot() == before, f"{kwargs} changed something"
        return error

    unknown = ws.tasks(MISSING_TASK)
    refused(20404, 404, unknown.fetch)
    refused(20404, 404, unknown.update, priority=1)
    refused(20404, 404, unknown.delete)
    with pytest.raises(TwilioException, match="20404"):  # the SDK's error for a list page
        unknown.reservations.list()
    assert room.snapshot() == before
    refused(20404, 404, ws.tasks(task.sid).reservations("WR" + "0" * 32).fetch)

    refused(20001, 400, ws.tasks.create, attributes="x" * 10)  # not JSON
    refused(20001, 400, ws.tasks.create, attributes="[]")
    long = json.dumps({"text": "x" * 4085})
    assert len(long) == 4097
    refused(20001, 400, ws.tasks.create, attributes=long)
    refused(20001, 400, ws.tasks.create, timeout=0)
    refused(20001, 400, ws.tasks.create, timeout=1_209_601)
    refused(20001, 400, ws.tasks.create, priority=-1)
    refused(20001, 400, ws.tasks.create, priority=2_147_483_648)
    refused(20001, 400, ws.tasks.create, task_channel="no-such-channel")
    future = datetime.fromtimestamp(dev_clock(server).now_ms() / 1000 + 3600, UTC)
    refused(20001, 400, ws.tasks.create, virtual_start_time=future)
    refused(20001, 400, ws.tasks(waiting.sid).update, virtual_start_time=future)
    refused(20001, 400, ws.tasks(waiting.sid).update, attributes="x" * 4097)
    refused(20001, 400, ws.tasks(waiting.sid).update, priority=-1)
    refused(20001, 400, ws.tasks(waiting.sid).update, assignment_status="completed",
            reason="too early")
    refused(20001, 400, ws.tasks(waiting.sid).update, assignment_status="wrapping")
    refused(20001, 400, ws.tasks(task.sid).update, assignment_status="completed",
            reason="not yet accepted")
    refused(20001, 400, ws.tasks(task.sid).update, assignment_status="canceled",
            attributes="{}")

    # Telephony instructions: refused, and the reservation stays pending.
    by_worker = ws.workers(alice.sid).reservations(reservation.sid)
    for instruction, extra in [("dequeue", {"dequeue_from": "+15550100"}),
                               ("call", {"call_from": "+15550100", "call_to": "+15550101",
                                         "call_url": "https://example.com/twiml"}),
                               ("conference", {"from_": "+15550100"}),
                               ("redirect", {"redirect_call_sid": "CA" + "0" * 32,
                                             "redirect_url": "https://example.com/twiml"})]:
        error = refused(20001, 400, by_worker.update, instruction=instruction, **extra)
        assert "telephone network" in error.msg
    refused(20001, 400, ws.tasks(task.sid).reservations(reservation.sid).update,
            instruction="dequeue", reservation_status="accepted")
    refused(20001, 400, by_worker.update, reservation_status="completed")

    # Boundaries that are allowed.
    exact = json.dumps({"text": "x" * 4084})
    assert len(exact) == 4096
    edge = ws.tasks.create(attributes=exact, timeout=1_209_600, priority=2_147_483_647,
                           virtual_start_time=datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert (edge.timeout, edge.priority) == (1_209_600, 2_147_483_647)
    assert edge.virtual_start_time == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    ws.tasks(edge.sid).delete()
    assert room.snapshot() == before

    # A second workflow: WorkflowSid becomes required.
    second = ws.workflows.create(friendly_name="Second", configuration=routing(
        [], room.queue.sid))
    before = room.snapshot()
    error = refused(20001, 400, ws.tasks.create, attributes="{}")
    assert "WorkflowSid" in error.msg
    refused(20001, 400, ws.tasks.create, attributes="{}", workflow_sid="WW" + "0" * 32)
    made = ws.tasks.create(attributes="{}", workflow_sid=second.sid)
    assert made.workflow_friendly_name == "Second"

    # The reservation survived all of it and can still be accepted.
    assert by_worker.update(reservation_status="accepted").reservation_status == "accepted"
    assert room.task(task).assignment_status == "assigned"
