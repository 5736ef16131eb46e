"""Shared pieces of Twilio-style JSON: dates and URLs."""

from __future__ import annotations

import functools
import time


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as Twilio's ``YYYY-MM-DDTHH:MM:SSZ`` (no fraction, no offset)."""
    if ms is None:
        return None
    return _iso_second(ms // 1000)


@functools.lru_cache(maxsize=4096)  # an answer's dates are mostly the last few seconds
def _iso_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def workspace_url(base: str, workspace_sid: str, *parts: str) -> str:
    return "/".join((f"{base}/v1/Workspaces/{workspace_sid}", *parts))


def links(base: str, workspace_sid: str, **paths: str) -> dict[str, str]:
    """``links`` entries, each a path below the workspace."""
    return {name: workspace_url(base, workspace_sid, path) for name, path in paths.items()}
