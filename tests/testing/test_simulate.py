"""``switchboard simulate`` on a manual clock: the same seed, the same run."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from switchboard.cli import main
from switchboard.simulate import Clock, Plan, simulate
from switchboard.testing import Server, TaskRouter

PLAN = Plan(workers=3, tasks=12, rate_per_minute=4, think_seconds=4, handle_seconds=45,
            reject_probability=0.2, timeout_probability=0.15, seed=7)


def run_once(tr: TaskRouter, plan: Plan = PLAN) -> dict[str, Any]:
    v1 = tr.client.taskrouter.v1
    workspace = v1.workspaces.create(friendly_name="Simulated", template="FIFO")
    return simulate(tr.client, Clock(tr.url, (tr.account_sid, tr.auth_token)), workspace.sid,
                    plan)


def test_a_seeded_simulation_gives_the_same_result_twice(taskrouter: TaskRouter,
                                                         switchboard_server: Server) -> None:
    first = run_once(taskrouter)
    other = switchboard_server.taskrouter("again")
    try:
        second = run_once(other)
    finally:
        other.delete_workspaces()
        other.close()

    assert first == second
    assert first["tasks"] == 12
    assert first["completed"] == first["accepted"] == 12  # every task was handled in the end
    assert first["rejected"] > 0 and first["timed_out"] > 0
    assert first["wait_seconds"]["avg"] > 0
    assert sum(w["completed"] for w in first["workers"].values()) == 12


def test_another_seed_gives_another_run(taskrouter: TaskRouter) -> None:
    first = run_once(taskrouter)
    taskrouter.delete_workspaces()
    assert run_once(taskrouter, Plan(**{**vars(PLAN), "seed": 8})) != first


def test_the_command_prints_the_report(taskrouter: TaskRouter) -> None:
    workspace = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Cli",
                                                                   template="FIFO")
    result = CliRunner().invoke(main, [
        "simulate", workspace.sid, "--workers", "2", "--tasks", "3", "--seed", "1",
        "--url", taskrouter.url, "--account-sid", taskrouter.account_sid,
        "--auth-token", taskrouter.auth_token])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tasks"] == 3 and set(report["workers"]) == {"sim-001", "sim-002"}
