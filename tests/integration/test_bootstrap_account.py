"""Nodes starting at the same moment both create the account the environment names: one
does, the other reads it back, and neither logs an error."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import make_runtime

SID = "AC" + "b" * 32


def test_an_account_created_meanwhile_by_another_node_is_read_back(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SWITCHBOARD_ACCOUNT_SID", SID)
    monkeypatch.setenv("SWITCHBOARD_AUTH_TOKEN", "the-token")
    late, early = make_runtime(database_url), make_runtime(database_url)
    try:
        assert SID not in late.accounts.accounts  # loaded before the other node created it
        account, created = early.bootstrap_account()
        assert created and account.auth_token == "the-token"
        with caplog.at_level(logging.INFO):
            again, created = late.bootstrap_account()
        assert not created
        assert again == account
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert late.accounts.accounts[SID] == account
        # Started again on the same store, a node finds it and creates nothing.
        assert late.bootstrap_account() == (account, False)
    finally:
        late.stop()
        early.stop()
