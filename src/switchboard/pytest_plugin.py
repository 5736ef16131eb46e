"""The testing kit's pytest plugin (entry point ``pytest11``): fixtures ``taskrouter`` and
``switchboard_server``.

One server per test session (per pytest-xdist worker), started the first time a test asks for
it; an account of its own per test, whose workspaces are deleted after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.testing import Server, TaskRouter


@pytest.fixture(scope="session")
def switchboard_server() -> Iterator[Server]:
    """The session's ``switchboard serve --ephemeral --clock manual`` (a ``Server``)."""
    with Server() as running:
        yield running


@pytest.fixture
def taskrouter(switchboard_server: Server, request: pytest.FixtureRequest
               ) -> Iterator[TaskRouter]:
    """An isolated TaskRouter for this test: ``client``, ``url``, ``account_sid``,
    ``auth_token``, ``advance(seconds)``, ``worker_token(workspace_sid, worker_sid)``,
    ``eb_server``, ``ws_server``. ``advance`` moves the server's clock, which every test of
    this session (of this xdist worker) shares."""
    taskrouter = switchboard_server.taskrouter(request.node.name)
    try:
        yield taskrouter
        taskrouter.delete_workspaces()
    finally:
        taskrouter.close()
