"""The in-memory store (``serve --ephemeral``) gets its schema from ``tables`` without running
the migrations: it must be the very schema the migrations build, at the same revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from switchboard.store import database
from switchboard.store.database import Store, memory_url


def schema(store: Store) -> dict[str, Any]:
    """Every table with its columns (name, type, nullability, default, key), keys, indexes,
    and the rows the migrations put in (alembic's revision, the credentials counter)."""
    found: dict[str, Any] = {}
    with store.engine.connect() as conn:
        seen = inspect(conn)
        for name in sorted(seen.get_table_names()):
            found[name] = {
                # By name: a column added by a later migration comes last in the migrated
                # table, in the middle in ``tables`` (statements name their columns).
                "columns": {c["name"]: (str(c["type"]), c["nullable"], c.get("default"),
                                        c.get("primary_key"))
                            for c in seen.get_columns(name)},
                "primary_key": seen.get_pk_constraint(name)["constrained_columns"],
                "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                        tuple(f["referred_columns"]))
                                       for f in seen.get_foreign_keys(name)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in seen.get_indexes(name)),
                "unique": sorted(tuple(u["column_names"])
                                 for u in seen.get_unique_constraints(name)),
            }
        found["rows"] = {
            "alembic_version": conn.execute(text("SELECT * FROM alembic_version")).all(),
            "credentials_version": conn.execute(
                text("SELECT * FROM credentials_version")).all(),
        }
    return found


def test_head_revision_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location",
                           str(Path(database.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == database.HEAD_REVISION


def test_in_memory_schema_is_the_migrated_one(tmp_path: Path) -> None:
    migrated = Store(database.sqlite_url(tmp_path))
    in_memory = Store(memory_url())
    assert in_memory.in_memory and not migrated.in_memory
    try:
        migrated.migrate()
        in_memory.migrate()
        in_memory.migrate()  # twice changes nothing, as the migrations' upgrade to head
        expected = schema(migrated)
        assert len(expected) > 10 and expected["rows"]["alembic_version"] == [
            (database.HEAD_REVISION,)]
        assert schema(in_memory) == expected
    finally:
        migrated.close()
        in_memory.close()
