"""The routing core's invariants with transfers among the random commands.

``RoutingMachine`` (``test_routing_invariants.py``) drives one workspace with random workers,
tasks, answers and time; this machine adds transfers (warm and cold, to a worker or a queue)
and their cancellation, and lets any worker wrap up or complete its own reservation while
others hold the task. After every step capacity still adds up, no worker idles beside a task
it could take, and an engine rebuilt from the stored rows is the same engine, transfers
included. The task/reservation state rules are those a transfer allows: while it lasts the
task is pending or reserved beside the transferring worker's reservation.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from routing_helpers import state
from test_routing_invariants import MEMBERSHIP, RoutingMachine

from switchboard.routing.errors import RoutingError
from switchboard.routing.model import RESERVATION_OPEN, Task, Worker


class TransferMachine(RoutingMachine):
    def attempt(self, command: Callable[[], object]) -> None:
        """Run a command that may be refused; a refusal must change nothing at all."""
        before = state(self.engine)
        try:
            command()
        except RoutingError:
            assert not self.world.take(), "a refused command recorded changes"
            assert state(self.engine) == before
            self.last = []
            return
        self.last = self.world.take().events

    @precondition(lambda self: self.reservations("accepted"))
    @rule(data=st.data(), mode=st.sampled_from(["WARM", "COLD"]), to_queue=st.booleans())
    def transfer(self, data: st.DataObject, mode: str, to_queue: bool) -> None:
        reservation = self.engine.reservations[self.pick(data, self.reservations("accepted"))]
        if to_queue:
            to = self.pick(data, sorted(self.queue_names))
        else:
            to = self.pick(data, self.workers())
        self.attempt(lambda: self.engine.transfer_task(
            reservation.task_sid, reservation.sid, self.world.now, to=to,
            worker_sid=reservation.worker_sid, mode=mode))

    @precondition(lambda self: any(t.transfer_status == "initiated"
                                   for t in self.engine.transfers.values()))
    @rule(data=st.data())
    def cancel_transfer(self, data: st.DataObject) -> None:
        sid = self.pick(data, sorted(t.sid for t in self.engine.transfers.values()
                                     if t.transfer_status == "initiated"))
        self.run(lambda: self.engine.cancel_transfer(sid, self.world.now))

    @precondition(lambda self: self.reservations("accepted"))
    @rule(data=st.data())
    def wrap_a_reservation(self, data: st.DataObject) -> None:
        sid = self.pick(data, self.reservations("accepted"))
        self.run(lambda: self.engine.update_reservation(sid, self.world.now,
                                                        status="wrapping"))

    @precondition(lambda self: self.reservations("accepted", "wrapping"))
    @rule(data=st.data())
    def complete_a_reservation(self, data: st.DataObject) -> None:
        sid = self.pick(data, self.reservations("accepted", "wrapping"))
        self.run(lambda: self.engine.update_reservation(sid, self.world.now,
                                                        status="completed"))

    # Several workers may hold a task now: the base rules' one-holder forms are replaced.
    @precondition(lambda self: self.tasks("assigned"))
    @rule(data=st.data())
    def wrap(self, data: st.DataObject) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("assigned"))]
        self.run(lambda: self.world.wrap(task))

    @precondition(lambda self: self.tasks("assigned", "wrapping"))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("assigned", "wrapping"))]
        self.run(lambda: self.world.complete(task))

    # ------------------------------------------------------------------ invariants

    def check_reservation_states(self) -> None:
        engine = self.engine
        for sid, task in engine.tasks.items():
            statuses = [r.reservation_status for r in engine.task_reservations[sid]]
            pending, accepted = statuses.count("pending"), statuses.count("accepted")
            status = task.assignment_status
            assert (pending >= 1) == (status == "reserved"), f"{sid} {status}: {statuses}"
            if task.transfer is not None:
                assert status in ("pending", "reserved"), f"{sid} transferred while {status}"
                assert task.transfer.transfer_status == "initiated"
            elif status in ("pending", "reserved"):
                assert accepted == 0, f"{sid} is {status} with an accepted reservation"
            if status == "assigned":
                assert accepted >= 1, f"{sid} is assigned to nobody: {statuses}"
            if status in ("wrapping", "completed", "canceled"):
                assert accepted == 0, f"{sid} is {status} with {statuses}"
            if status in ("completed", "canceled"):
                assert "wrapping" not in statuses, f"{sid} is {status} with {statuses}"
            holding = [r.worker_sid for r in engine.task_reservations[sid]
                       if r.reservation_status in ("pending", "accepted")]
            assert len(holding) == len(set(holding)), f"{sid}: a worker holds it twice"
        for worker_sid, mine in engine.worker_reservations.items():
            assert worker_sid in self.engine.workers, f"reservations of deleted {worker_sid}"
            assert all(r.worker_sid == worker_sid for r in mine.values())
        for transfer in engine.transfers.values():
            task = engine.tasks[transfer.task_sid]
            assert (task.transfer is transfer) == (transfer.transfer_status == "initiated")

    def check_new_reservations(self) -> None:
        # A transfer to a worker offers the task to that worker, wherever it queues.
        engine = self.engine
        for event in self.last:
            if event.event_type != "reservation.created":
                continue
            reservation = engine.reservations[event.reservation_sid]
            transfer = engine.transfers.get(reservation.transfer_sid or "")
            if transfer is not None and transfer.transfer_type == "WORKER":
                assert reservation.worker_sid == transfer.transfer_to
                continue
            queue = self.queue_names[event.data["task_queue_sid"]]
            worker = engine.workers[reservation.worker_sid]
            assert MEMBERSHIP[queue][1](worker.parsed_attributes)

    def eligible(self, task: Task, worker: Worker, queue: str) -> bool:
        # Not a worker that holds the task already (transferring it, warm).
        if any(r.worker_sid == worker.sid and r.reservation_status in ("pending", "accepted")
               for r in self.engine.task_reservations[task.sid]):
            return False
        return super().eligible(task, worker, queue)

    def open_for(self, worker_sid: str) -> int:
        return sum(1 for r in self.engine.worker_reservations.get(worker_sid, {}).values()
                   if r.reservation_status in RESERVATION_OPEN)


TransferMachine.TestCase.settings = RoutingMachine.TestCase.settings
test_transfer_invariants = TransferMachine.TestCase
