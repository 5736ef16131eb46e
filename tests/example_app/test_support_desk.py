"""The support desk's tests, written as a Switchboard user writes them: the ``taskrouter``
fixture comes from the ``switchboard.testing`` pytest plugin, nothing else to set up."""

from __future__ import annotations

import json

import httpx

from switchboard.testing import TaskRouter

from .support_desk import RESERVATION_TIMEOUT, hire, offers, route_call, set_up


def test_a_billing_call_is_offered_to_the_billing_agent(taskrouter: TaskRouter) -> None:
    desk = set_up(taskrouter.client)
    alice = hire(desk, "alice", "billing")
    hire(desk, "bob", "sales")

    task = route_call(desk, "billing", "+15550100")

    assert offers(desk, task) == [(alice, "pending")]


def test_an_unanswered_offer_times_out_and_goes_to_the_next_agent(
        taskrouter: TaskRouter) -> None:
    desk = set_up(taskrouter.client)
    alice = hire(desk, "alice", "billing")
    task = route_call(desk, "billing", "+15550101")
    carol = hire(desk, "carol", "billing")  # the call is alice's to answer first

    taskrouter.advance(RESERVATION_TIMEOUT - 1)
    assert offers(desk, task) == [(alice, "pending")]

    taskrouter.advance(1)  # the timeout has fired when advance returns
    assert offers(desk, task) == [(alice, "timeout"), (carol, "pending")]
    assert desk.workspace.workers(alice).fetch().activity_name == "Offline"


def test_the_worker_sdk_token_lets_the_agent_fetch_itself(taskrouter: TaskRouter) -> None:
    desk = set_up(taskrouter.client)
    alice = hire(desk, "alice", "billing")
    token = taskrouter.worker_token(desk.workspace_sid, alice)

    # What twilio-taskrouter.js sends to its ebServer to fetch its worker.
    reply = httpx.post(taskrouter.eb_server, content=json.dumps({
        "url": f"Workspaces/{desk.workspace_sid}/Workers/{alice}", "method": "GET",
        "params": {}, "token": token}), headers={"apiVersion": "v1"}, trust_env=False)

    assert reply.status_code == 200, reply.text
    assert reply.json()["payload"]["sid"] == alice
    assert taskrouter.ws_server.startswith("ws://")


def _same_name_workspace_is_mine_alone(taskrouter: TaskRouter) -> None:
    desk = set_up(taskrouter.client, name="Shared name")
    route_call(desk, "billing", "+15550102")
    named = taskrouter.client.taskrouter.v1.workspaces.list(friendly_name="Shared name")
    assert [w.sid for w in named] == [desk.workspace_sid]
    assert len(desk.workspace.tasks.list()) == 1


def test_isolation_one(taskrouter: TaskRouter) -> None:
    _same_name_workspace_is_mine_alone(taskrouter)


def test_isolation_two(taskrouter: TaskRouter) -> None:
    _same_name_workspace_is_mine_alone(taskrouter)
