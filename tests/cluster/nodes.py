"""Real node processes sharing one PostgreSQL database, and a client that spreads requests over
them as a load balancer would."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess

LEASE_SECONDS = 1.5  # short, so failover tests take seconds


def node_index(node_id: str) -> int:
    """``node2`` -> 2: the index in ``Cluster.nodes`` of the node with that ID."""
    return int(node_id.removeprefix("node"))


class Cluster:
    def __init__(self, database_url: str, root: Path, size: int = 3,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.database_url = database_url
        self.nodes: list[ServerProcess] = []
        for index in range(size):
            data_dir = root / f"node{index}"
            data_dir.mkdir()
            self.nodes.append(ServerProcess(
                data_dir, clock="system", database_url=database_url,
                extra_args=("--node-id", f"node{index}", "--lease-seconds",
                            str(lease_seconds), "--log-level", "info")))

    def start(self) -> None:
        """Every node at once (the first migrates the schema; the others wait for it)."""
        threads = [threading.Thread(target=node.start) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for node in self.nodes:
            assert node.process is not None, "a node did not start"

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.kill()
                node.process.wait(timeout=10)
                node.process = None

    def client(self, index: int) -> httpx.Client:
        return httpx.Client(base_url=self.nodes[index].url, auth=(ACCOUNT_SID, AUTH_TOKEN),
                            timeout=30)

    def log(self, index: int) -> str:
        return (self.nodes[index].data_dir / "server.log").read_text()

    def status(self) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "switchboard", "cluster", "status", "--json",
             "--database-url", self.database_url],
            capture_output=True, text=True, timeout=30, check=True)
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    def owners(self) -> dict[str, str]:
        """Workspace -> the node that owns it now."""
        return {ws: node["id"] for node in self.status()["nodes"] for ws in node["workspaces"]}

    def owner_of(self, ws: str, timeout: float = 20.0) -> int:
        """The index of the node that owns ``ws``, once one does."""
        owners: dict[str, str] = {}

        def owned() -> bool:
            owners.clear()
            owners.update(self.owners())
            return ws in owners

        self.wait_until(owned, timeout, what=f"{ws} to be owned")
        return node_index(owners[ws])

    def wait_until(self, condition: Any, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(0.1)

    def signal(self, index: int, sig: signal.Signals) -> None:
        process = self.nodes[index].process
        assert process is not None
        os.kill(process.pid, sig)

    def kill(self, index: int) -> None:
        """kill -9, and wait until the process is gone."""
        self.signal(index, signal.SIGKILL)
        process = self.nodes[index].process
        assert process is not None
        process.wait()
        self.nodes[index].process = None


class Balancer:
    """Sends each request to the next node, as a load balancer in front would; a node that
    refuses the connection (stopped, restarting) is skipped: the request never reached it."""

    def __init__(self, cluster: Cluster, indexes: list[int]) -> None:
        self.clients = [cluster.client(i) for i in indexes]
        self.turn = itertools.cycle(range(len(self.clients)))
        self.lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.lock:
            start = next(self.turn)
        for attempt in range(len(self.clients) * 20):
            client = self.clients[(start + attempt) % len(self.clients)]
            try:
                return client.request(method, path, **kwargs)
            except httpx.ConnectError:
                time.sleep(0.05)
        raise AssertionError("no node accepted the connection")

    def close(self) -> None:
        for client in self.clients:
            client.close()


class TaskLoad:
    """Tasks created without pause in each workspace, one thread each, through ``balancer``,
    while the block runs: what was acknowledged, and what failed."""

    def __init__(self, balancer: Balancer, workspaces: list[str]) -> None:
        self.balancer = balancer
        self.workspaces = workspaces
        self.acknowledged: list[tuple[str, str]] = []  # (workspace, task)
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(len(workspaces))

    def __enter__(self) -> TaskLoad:
        for ws in self.workspaces:
            self._pool.submit(self._load, ws)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    def _load(self, ws: str) -> None:
        while not self._stop.is_set():
            answer = self.balancer.request("POST", f"/v1/Workspaces/{ws}/Tasks", data={})
            if answer.status_code == 201:
                self.acknowledged.append((ws, answer.json()["sid"]))
            else:
                self.failed.append(f"{answer.status_code} {answer.text}")


def create_workspaces(client: httpx.Client, count: int) -> list[str]:
    sids = []
    for index in range(count):
        answer = client.post("/v1/Workspaces", data={"FriendlyName": f"ws{index}",
                                                      "Template": "FIFO"})
        assert answer.status_code == 201, answer.text
        sids.append(answer.json()["sid"])
    return sids


class TcpBalancer:
    """A TCP load balancer on loopback: each connection goes to the first node in ``order``
    that accepts it, as a balancer with health checks would send it."""

    def __init__(self, cluster: Cluster, order: list[int]) -> None:
        self.cluster = cluster
        self.order = order
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = self._connect()
            if upstream is None:
                downstream.close()
                continue
            for source, target in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    def _connect(self) -> socket.socket | None:
        for index in self.order:
            node = self.cluster.nodes[index]
            if node.process is None:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", node.port), timeout=2)
            except OSError:
                continue
            upstream.settimeout(None)  # connections stay open while idle (WebSockets)
            return upstream
        return None

    def close(self) -> None:
        self.closed = True
        self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
