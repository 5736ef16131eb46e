"""Requests leave nothing for the garbage collector: what a request makes is freed by reference
counting when the request ends. A cycle of references instead waits for a collection, and the
collector runs the more often (and pauses the server the longer) the more such cycles pile up
(``serving.py``'s thresholds assume almost nothing does)."""

from __future__ import annotations

from .conftest import Workspace, default_filter, left_in_cycles, ok


def test_a_tasks_life_leaves_no_cycles(ws: Workspace) -> None:
    queue = ws.queue("Support", TargetWorkers="1==1")
    workflow = ws.workflow("Route", queue["sid"])
    available = ws.activity("Available")
    worker = ws.worker("Alice", ActivitySid=available)

    def life() -> None:
        task = ws.create("Tasks", WorkflowSid=workflow["sid"], Attributes='{"n": 1}')
        (reservation,) = ws.list("Tasks", task["sid"], "Reservations")
        ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
                  ReservationStatus="accepted")
        ws.update("Tasks", task["sid"], AssignmentStatus="completed", Reason="done")
        ws.delete("Tasks", task["sid"])
        ws.fetch("Workers", worker["sid"], "Statistics")
        ws.fetch("TaskQueues", queue["sid"], "RealTimeStatistics")
        ws.list("Events", PageSize=5)

    life()  # first uses fill caches; the second life is the one examined
    assert left_in_cycles(life) == []


def test_refused_requests_leave_no_cycles(ws: Workspace) -> None:
    def refusals() -> None:
        ok(ws.client.post(ws.path("Tasks"), data={"Attributes": "{not json"}), 400)
        ok(ws.client.get(ws.path("Tasks", "WT" + "0" * 32)), 404)
        ok(ws.client.post(ws.path("Workflows"), data={"FriendlyName": "x",
                                                       "Configuration": default_filter("WQ")}),
           400)
        ok(ws.client.get(ws.path("Tasks"), auth=("AC" + "0" * 32, "wrong")), 401)

    refusals()
    assert left_in_cycles(refusals) == []
