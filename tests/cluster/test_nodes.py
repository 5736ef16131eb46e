"""Three real node processes on the PostgreSQL server: every node answers for every workspace,
and ownership survives kill -9, SIGSTOP past the lease, and a rolling restart under load."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from switchboard.cluster.placement import desired_owner
from tests.callbacks.receiver import Answer, Received, Receiver
from tests.cluster.nodes import Balancer, Cluster, TaskLoad, create_workspaces, node_index
from tests.conftest import ACCOUNT_SID

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def settled(cluster: Cluster, workspaces: list[str], nodes: int = 3) -> bool:
    """Every workspace owned, by as many nodes as placement spreads them over: a few
    workspaces may all hash to fewer than ``nodes`` nodes."""
    owners = cluster.owners()
    if not set(workspaces) <= set(owners):
        return False
    ids = [f"node{i}" for i in range(len(cluster.nodes))
           if cluster.nodes[i].process is not None][:nodes]
    return all(owners[w] == desired_owner(w, ids) for w in workspaces)


def test_every_node_answers_for_every_workspace(cluster: Cluster) -> None:
    clients = [cluster.client(i) for i in range(3)]
    workspaces = create_workspaces(clients[0], 9)
    cluster.wait_until(lambda: settled(cluster, workspaces), what="workspaces spread")
    owners = cluster.owners()
    for ws in workspaces:
        for index, client in enumerate(clients):
            answer = client.post(f"/v1/Workspaces/{ws}/Workers",
                                 data={"FriendlyName": f"from node{index}"})
            assert answer.status_code == 201, answer.text
            # Run by the owner, rendered for the node the client addressed.
            assert answer.headers["X-Switchboard-Node"] == owners[ws]
            assert answer.json()["url"].startswith(cluster.nodes[index].url)
            assert answer.headers["Twilio-Request-Id"].startswith("RQ")
        listed = clients[1].get(f"/v1/Workspaces/{ws}/Workers").json()["workers"]
        assert sorted(w["friendly_name"] for w in listed) == [f"from node{i}" for i in range(3)]
    # Errors come back as the owner gives them.
    missing = clients[2].get(f"/v1/Workspaces/{workspaces[0]}/Workers/WK" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    unknown = clients[2].get("/v1/Workspaces/WS" + "0" * 32)
    assert unknown.status_code == 404 and unknown.json()["code"] == 20404
    # Account-level requests: any node, the same answer.
    for client in clients:
        listed = client.get("/v1/Workspaces", params={"PageSize": 50}).json()["workspaces"]
        assert [w["sid"] for w in listed] == workspaces
    # An API key made through one node works on every node within a second.
    key = clients[0].post(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json").json()
    with httpx.Client(base_url=cluster.nodes[2].url, auth=(key["sid"], key["secret"])) as kc:
        cluster.wait_until(lambda: kc.get("/v1/Workspaces").status_code == 200, timeout=2,
                           what="the new key to work on another node")
    status = cluster.status()
    assert sorted(n["id"] for n in status["nodes"]) == ["node0", "node1", "node2"]
    assert all(set(n) >= {"id", "url", "last_seen", "workspaces"} for n in status["nodes"])


def test_kill_minus_nine_loses_no_acknowledged_write_and_timers_fire(cluster: Cluster) -> None:
    workspaces = create_workspaces(cluster.client(0), 6)
    cluster.wait_until(lambda: settled(cluster, workspaces), what="workspaces spread")
    owners = cluster.owners()
    victim = node_index(owners[workspaces[0]])
    theirs = [ws for ws in workspaces if owners[ws] == f"node{victim}"]
    survivors = Balancer(cluster, [i for i in range(3) if i != victim])
    # A task the victim's workspace must cancel by itself after the failover (its TTL).
    ttl_task = survivors.request("POST", f"/v1/Workspaces/{theirs[0]}/Tasks",
                                 data={"Timeout": 3, "Attributes": "{}"}).json()["sid"]
    with TaskLoad(survivors, workspaces) as load:
        time.sleep(1.0)
        killed_at = len(load.acknowledged)
        cluster.kill(victim)
        time.sleep(4.0)
    assert killed_at > 0 and len(load.acknowledged) > killed_at
    # Requests in flight at the victim when it died may fail (their fate is unknown to the
    # client); every other one waited for the failover and succeeded.
    assert len(load.failed) <= len(theirs) * 2, load.failed[:5]
    for ws, task in load.acknowledged:
        answer = survivors.request("GET", f"/v1/Workspaces/{ws}/Tasks/{task}")
        assert answer.status_code == 200, (ws, task, answer.text)
    assert set(cluster.owners()) >= set(workspaces)
    assert all(owner != f"node{victim}" for owner in cluster.owners().values())
    # The victim's timer fired on its new owner.
    cluster.wait_until(lambda: survivors.request(
        "GET", f"/v1/Workspaces/{theirs[0]}/Tasks/{ttl_task}").json()["assignment_status"]
        == "canceled", timeout=10, what="the TTL to fire after the failover")
    survivors.close()


def test_a_paused_owner_commits_nothing_after_its_lease_is_taken(cluster: Cluster) -> None:
    workspaces = create_workspaces(cluster.client(0), 6)
    cluster.wait_until(lambda: settled(cluster, workspaces), what="workspaces spread")
    ws = workspaces[0]
    paused = cluster.owner_of(ws)
    others = Balancer(cluster, [i for i in range(3) if i != paused])
    assert others.request("POST", f"/v1/Workspaces/{ws}/Tasks", data={}).status_code == 201
    cluster.signal(paused, signal.SIGSTOP)
    try:
        # A request waiting in the paused node's socket: it runs there after SIGCONT.
        stale: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: stale.append(cluster.client(paused).post(
            f"/v1/Workspaces/{ws}/Tasks", data={"Attributes": '{"stale": true}'})))
        waiting.start()
        cluster.wait_until(lambda: cluster.owners().get(ws) not in (None, f"node{paused}"),
                           what="another node to take over")
        for _ in range(5):
            assert others.request("POST", f"/v1/Workspaces/{ws}/Tasks",
                                  data={}).status_code == 201
    finally:
        cluster.signal(paused, signal.SIGCONT)
    waiting.join(timeout=30)
    # The paused node found it had lost the workspace: its request went to the new owner (or,
    # once placement gave the workspace back to it, ran there at a new epoch), never committed
    # at the old one.
    assert stale and stale[0].status_code == 201, stale
    engine = create_engine(cluster.database_url)
    with engine.connect() as conn:
        seqs = [r.seq for r in conn.execute(text(
            "SELECT seq FROM events WHERE workspace_sid = :ws ORDER BY seq"), {"ws": ws})]
        tasks = conn.execute(text("SELECT count(*) FROM tasks WHERE workspace_sid = :ws"),
                             {"ws": ws}).scalar()
    engine.dispose()
    assert seqs == list(range(1, len(seqs) + 1))  # contiguous: no write from a stale epoch
    assert tasks == 7
    log = cluster.log(paused)
    assert "lost its lease" in log or "taken over by another node" in log
    others.close()


def test_a_rolling_restart_under_load_fails_no_request(cluster: Cluster) -> None:
    workspaces = create_workspaces(cluster.client(0), 6)
    cluster.wait_until(lambda: settled(cluster, workspaces), what="workspaces spread")
    everyone = Balancer(cluster, [0, 1, 2])
    with TaskLoad(everyone, workspaces) as load:
        for index in range(3):
            time.sleep(0.5)
            before = len(load.acknowledged)
            cluster.nodes[index].stop()  # SIGTERM: hands over, then exits
            cluster.nodes[index].start()
            cluster.wait_until(lambda: settled(cluster, workspaces), timeout=30,
                               what="the workspaces to spread again")
            assert len(load.acknowledged) > before
        time.sleep(0.5)
    assert load.failed == []
    for ws, task in load.acknowledged:
        answer = everyone.request("GET", f"/v1/Workspaces/{ws}/Tasks/{task}")
        assert answer.status_code == 200, answer.text
    everyone.close()


def test_callbacks_resume_on_the_new_owner_at_least_once_in_order(cluster: Cluster) -> None:
    # Refused until the owner is dead: what it owed then, its successor must deliver.
    accepting = threading.Event()
    receiver = Receiver(answer=lambda path, params: Answer(204 if accepting.is_set() else 503)
                        ).start()
    try:
        client = cluster.client(0)
        answer = client.post("/v1/Workspaces", data={
            "FriendlyName": "called back", "Template": "FIFO", "EventCallbackUrl": receiver.url})
        ws = answer.json()["sid"]
        cluster.wait_until(lambda: settled(cluster, [ws]), what="the workspace to be placed")
        owner = cluster.owner_of(ws)
        survivors = Balancer(cluster, [i for i in range(3) if i != owner])
        for _ in range(5):
            assert survivors.request("POST", f"/v1/Workspaces/{ws}/Tasks",
                                     data={}).status_code == 201
        cluster.kill(owner)
        accepting.set()
        delivered_from = time.monotonic()
        for _ in range(5):
            assert survivors.request("POST", f"/v1/Workspaces/{ws}/Tasks",
                                     data={}).status_code == 201
        engine = create_engine(cluster.database_url)
        with engine.connect() as conn:
            owed = [r.sid for r in conn.execute(text(
                "SELECT sid FROM events WHERE workspace_sid = :ws AND callback_url IS NOT NULL "
                "ORDER BY seq"), {"ws": ws})]
        engine.dispose()

        def delivered(seen: list[Received]) -> list[str]:
            return [r.params["Sid"] for r in seen if r.at >= delivered_from]

        got = receiver.wait_for(lambda seen: set(owed) <= set(delivered(seen)), timeout=30)
        first = list(dict.fromkeys(sid for sid in delivered(got) if sid in owed))
        assert first == owed  # every one, first deliveries in the log's order
        survivors.close()
    finally:
        receiver.stop()
