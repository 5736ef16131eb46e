"""Shared pieces of Twilio-style JSON: dates and URLs."""

from __future__ import annotations

import time


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as Twilio's ``YYYY-MM-DDTHH:MM:SSZ`` (no fraction, no offset)."""
    if ms is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def workspace_url(base: str, workspace_sid: str, *parts: str) -> str:
    return "/".join((f"{base}/v1/Workspaces/{workspace_sid}", *parts))


def links(base: str, workspace_sid: str, **paths: str) -> dict[str, str]:
    """``links`` entries, each a path below the workspace."""
    return {name: workspace_url(base, workspace_sid, path) for name, path in paths.items()}
