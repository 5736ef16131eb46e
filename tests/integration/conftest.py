"""Fixtures the store's integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.store.database import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    store.start()
    yield store
    store.close()
