"""Twilio's connection overrides, given in a callback URL's fragment: ``#ct=…&rt=…&tt=…&rc=…``.

``ct`` connect timeout, ``rt`` read timeout, ``tt`` total time including retries (all in
milliseconds), ``rc`` retry count. The fragment is never sent: it only tunes the request.
Values out of Twilio's ranges are clamped to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urldefrag


@dataclass(frozen=True)
class Overrides:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_time: float = 15.0
    retries: int | None = None  # None: the server's configured number


_RANGES = {"ct": (100, 10_000), "rt": (100, 15_000), "tt": (100, 15_000), "rc": (0, 5)}


@lru_cache(maxsize=4096)
def split_url(url: str, *, read_timeout: float = 15.0) -> tuple[str, Overrides]:
    """The URL to request (no fragment) and the overrides its fragment asks for."""
    target, fragment = urldefrag(url)
    values: dict[str, int] = {}
    for key, raw in parse_qsl(fragment):
        if key in _RANGES and raw.isascii() and raw.isdigit() and len(raw.lstrip("0")) < 10:
            low, high = _RANGES[key]
            values[key] = min(max(int(raw), low), high)
    read = values["rt"] / 1000 if "rt" in values else read_timeout
    return target, Overrides(
        connect_timeout=values["ct"] / 1000 if "ct" in values else 5.0,
        read_timeout=read,
        total_time=values["tt"] / 1000 if "tt" in values else max(15.0, read),
        retries=values.get("rc"),
    )
