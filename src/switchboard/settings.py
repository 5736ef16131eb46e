"""Server settings, from command-line options with ``SWITCHBOARD_*`` environment fallbacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from switchboard.store.database import sqlite_url


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    database_url: str | None = None
    public_url: str | None = None
    clock: str = "system"

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_url(self.data_dir)
