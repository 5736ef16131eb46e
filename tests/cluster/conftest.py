"""A fresh PostgreSQL database for each cluster test, dropped afterwards, and three node
processes on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cluster.nodes import Cluster
from tests.conftest import POSTGRES_ADMIN_URL


@pytest.fixture
def cluster_db() -> Iterator[str]:
    name = f"switchboard_cluster_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :name"), {"name": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def cluster(cluster_db: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(cluster_db, tmp_path)
    made.start()
    yield made
    made.stop()
