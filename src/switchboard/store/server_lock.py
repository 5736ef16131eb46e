"""One server per SQLite database.

SQLite is the single-node store: two servers on one data directory would each keep their own
copy of every workspace in memory and overwrite each other's changes. The server holds an
exclusive lock on a file beside the database for its whole life (the operating system drops it
when the process ends, however it ends); a second server fails to take it and refuses to start.
Short-lived commands (``switchboard accounts create`` …) do not take it: they only write a row.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DataDirInUse(Exception):
    """Another server already serves this SQLite database."""


class ServerLock:
    """Held while the object lives (or until ``release``)."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirInUse(
                f"another switchboard server{f' (pid {holder})' if holder else ''} is already "
                f"running on the data dir {database.parent}") from None
        # Who holds it, for the message the next one prints.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return text
    return ""
