"""The official Worker SDK against a three-node cluster: connected through a node that does not
own its workspace, it gets its reservations; when the owner dies, and when its own node dies,
it reconnects through the balancer in front and goes on, and its worker stays available."""

from __future__ import annotations

import time
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant

from tests.cluster.nodes import Cluster, TcpBalancer, create_workspaces
from tests.compat.worker_sdk import Sdk
from tests.conftest import ACCOUNT_SID

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WAIT = 30.0


def test_the_worker_sdk_goes_on_across_failovers(cluster: Cluster) -> None:
    client = cluster.client(0)
    ws = create_workspaces(client, 1)[0]
    owner = cluster.owner_of(ws)
    relay, third = (i for i in range(3) if i != owner)
    base = f"/v1/Workspaces/{ws}"
    available = next(a["sid"] for a in client.get(f"{base}/Activities").json()["activities"]
                     if a["friendly_name"] == "Available")
    alice = client.post(f"{base}/Workers", data={"FriendlyName": "alice",
                                                 "ActivitySid": available}).json()
    key = client.post(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json").json()
    now = int(time.time())
    token = AccessToken(ACCOUNT_SID, key["sid"], key["secret"], identity="alice", nbf=now - 60,
                        valid_until=now + 3600)
    token.add_grant(TaskRouterGrant(workspace_sid=ws, worker_sid=alice["sid"], role="worker"))
    # The SDK reaches the cluster through a balancer that prefers a node not owning the
    # workspace: its socket is relayed to the owner.
    balancer = TcpBalancer(cluster, [relay, third, owner])
    sdk = Sdk(balancer.url, [{"token": str(token.to_jwt())}])
    try:
        sdk.expect("ready", timeout=WAIT)

        def offered_and_done(step: str) -> None:
            task = client.post(f"{base}/Tasks", data={"Attributes": f'{{"step": "{step}"}}'})
            assert task.status_code == 201, task.text
            # Pushed (reservationCreated), or found by an SDK that reconnected meanwhile.
            offers: list[dict[str, Any]] = []
            try:
                cluster.wait_until(lambda: bool(offers.extend(
                    r for r in sdk.ok("reservations") if r["task"] == task.json()["sid"])
                    or offers), timeout=WAIT)
            except AssertionError:
                state = (client.get(f"{base}/Tasks/{task.json()['sid']}").json(),
                         client.get(f"{base}/Workers/{alice['sid']}").json()["activity_name"])
                raise AssertionError(f"the SDK did not get the reservation ({step}): {state}; "
                                     f"it saw {[e for e in sdk.seen if e['event'] != 'result']};"
                                     f" the nodes said {cluster_said(cluster, ws)}") from None
            offer = offers[0]
            sdk.ok("accept", reservation=offer["reservation"])
            sdk.ok("complete", reservation=offer["reservation"])
            worker = client.get(f"{base}/Workers/{alice['sid']}").json()
            assert worker["activity_name"] == "Available", (step, worker)

        offered_and_done("through a relay")

        # Each task is created once the SDK has reconnected and is ready again. Created while
        # it was still reloading its worker's state, a reservation was seen lost by the SDK:
        # the server answered its reservations list (empty) and then pushed reservation.created
        # on its new socket, yet it emitted no reservationCreated and kept the empty list.
        cluster.kill(owner)
        client = cluster.client(relay)
        sdk.expect("ready", timeout=WAIT)
        offered_and_done("after the owner died")

        cluster.kill(relay)
        client = cluster.client(third)
        sdk.expect("ready", timeout=WAIT)
        offered_and_done("after its own node died")
    finally:
        sdk.close()
        balancer.close()


def cluster_said(cluster: Cluster, ws: str) -> dict[int, list[str]]:
    """For a failure's message: where each node relayed or accepted the SDK's socket, when it
    took the workspace over, and the tasks it created."""
    return {i: [line for line in cluster.log(i).splitlines()
                if "WebSocket" in line or f"took over workspace {ws}" in line
                or f"access: POST /v1/Workspaces/{ws}/Tasks " in line][-30:]
            for i in range(len(cluster.nodes))}
