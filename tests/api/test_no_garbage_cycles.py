"""Requests leave nothing for the garbage collector: what a request makes is freed by reference
counting when the request ends. A cycle of references instead waits for a collection, and the
collector runs the more often (and pauses the server the longer) the more such cycles pile up
(``serving.py``'s thresholds assume almost nothing does)."""

from __future__ import annotations

import gc
import types
from collections.abc import Callable, Iterator

from tests.api.conftest import Workspace, default_filter, ok


def _ours(thing: object) -> bool:
    """Made by Switchboard's code: an instance of one of its classes, or one of its functions
    (closures included)."""
    if isinstance(thing, types.FunctionType):
        return str(thing.__module__).startswith("switchboard")
    return type(thing).__module__.startswith("switchboard")


def _left_in_cycles(run: Callable[[], None]) -> Iterator[str]:
    """What of ours ``run`` made that the collector then found unreachable: the objects it left
    in cycles. (What existed before is set aside: an earlier test's server may be let go of
    meanwhile, its state a cycle of references as any long-lived state may be.)"""
    gc.collect()
    before = {id(thing) for thing in gc.get_objects()}
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        run()
        gc.collect()
        found = [repr(thing)[:120] for thing in gc.garbage
                 if _ours(thing) and id(thing) not in before]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    yield from found


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
    assert list(_left_in_cycles(life)) == []


def test_refused_requests_leave_no_cycles(ws: Workspace) -> None:
    def refusals() -> None:
        ok(ws.client.post(ws.path("Tasks"), data={"Attributes": "{not json"}), 400)
        ok(ws.client.get(ws.path("Tasks", "WT" + "0" * 32)), 404)
        ok(ws.client.post(ws.path("Workflows"), data={"FriendlyName": "x",
                                                       "Configuration": default_filter("WQ")}),
           400)
        ok(ws.client.get(ws.path("Tasks"), auth=("AC" + "0" * 32, "wrong")), 401)

    refusals()
    assert list(_left_in_cycles(refusals)) == []
