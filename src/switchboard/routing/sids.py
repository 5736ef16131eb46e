"""Twilio-style SIDs: a two-letter prefix and 32 hex digits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

SidFactory = Callable[[str], str]

_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def looks_like_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and _SID.match(value) is not None


def counter_sids(seed: int = 0) -> SidFactory:
    """Deterministic SIDs for tests: the same sequence of calls gives the same SIDs."""
    state = {"n": seed}

    def make(prefix: str) -> str:
        state["n"] += 1
        return f"{prefix}{state['n']:032x}"

    return make
