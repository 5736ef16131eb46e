"""A worker's version (its ETag) grows with what it holds, as TaskRouter's does: the Worker SDK
counts channel changes and offered reservations itself and sends the count as If-Match."""

from __future__ import annotations

from routing_helpers import World


def test_each_channel_change_and_each_offer_counts() -> None:
    world = World()
    world.workflow(world.queue())
    (alice,) = world.workers("alice")
    version = alice.version
    world.set_channel(alice, "chat", capacity=3)
    assert alice.version == version + 1
    world.set_channel(alice, "chat", available=False)
    assert alice.version == version + 2
    # Both in one update: two pushes, two counts.
    world.set_channel(alice, "voice", capacity=2, available=False)
    assert alice.version == version + 4
    # No change, no count.
    world.set_channel(alice, "voice", capacity=2, available=False)
    assert alice.version == version + 4
    world.take()
    world.task()
    assert alice.version == version + 5
    assert ("worker", alice.sid) in world.take().upserts  # stored with it
    # Accepting and completing are not counted by the SDK, and do not count here.
    reservation = world.pending(next(iter(world.engine.tasks.values())))
    world.accept(reservation)
    world.complete(world.engine.tasks[reservation.task_sid])
    assert alice.version == version + 5
