"""``switchboard backup --out FILE``: a consistent copy of the SQLite store, taken while the
server runs.

SQLite's online backup API copies the database page by page inside one read transaction, so the
copy is the database as of one moment: every change committed (and so acknowledged) before the
backup began is in it, none half-written. The server goes on reading and writing meanwhile (WAL
mode: a reader never blocks the writer). The copy is written beside ``FILE`` and renamed onto it
once complete and checked, so ``FILE`` is never a partial copy.

PostgreSQL is backed up with its own tools (``pg_dump``), as the README says.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    pass


def backup_sqlite(source: Path, out: Path) -> int:
    """Copy the database at ``source`` to ``out``; returns the copy's size in bytes."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    out = out.resolve()
    if out == source.resolve():
        raise BackupError("the backup cannot overwrite the database it copies")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        # Read-only: the backup never writes to the live database.
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # all pages in one step: one read transaction, one moment
                dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
                (check,) = dst.execute("PRAGMA quick_check").fetchone()
                if check != "ok":
                    raise BackupError(f"the copy failed its integrity check: {check}")
                dst.commit()
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, out)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return out.stat().st_size
