"""Twilio list pages: ``{<key>: [...], "meta": {...}}`` with absolute page URLs.

Page tokens name the resource a page starts after (``PA``) or ends before (``PB``) and where it
stood (``PA<index>.<sid>``): pages stay stable while resources are added or removed, and a
token whose resource has gone falls back to the position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from switchboard.routing.errors import InvalidParameter

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50


def page(
    items: Sequence[T],
    *,
    key: str,
    url: str,
    query: dict[str, Any],
    args: dict[str, Any],
    render: Callable[[T], dict[str, Any]],
    sid_of: Callable[[T], str] = lambda item: item.sid,  # type: ignore[attr-defined]
) -> dict[str, Any]:
    """One page of ``items`` (already filtered and in list order)."""
    size = args.get("page_size") or DEFAULT_PAGE_SIZE
    number = args.get("page") or 0
    token = args.get("page_token")
    start = _resolve(items, token, size, sid_of) if token else number * size
    chunk = items[start:start + size]
    filters = {k: v for k, v in query.items() if k not in ("PageSize", "Page", "PageToken")}

    def link(page_number: int, page_token: str | None) -> str:
        params = dict(filters, PageSize=size, Page=page_number)
        if page_token:
            params["PageToken"] = page_token
        return f"{url}?{urlencode(params, doseq=True)}"

    has_next = start + size < len(items)
    end = start + len(chunk) - 1
    next_url = link(number + 1, f"PA{end}.{sid_of(chunk[-1])}") if has_next and chunk else None
    previous_url = (
        link(max(number - 1, 0), f"PB{start}.{sid_of(chunk[0])}") if start > 0 and chunk
        else None
    )
    return {
        key: [render(item) for item in chunk],
        "meta": {
            "first_page_url": link(0, None),
            "key": key,
            "next_page_url": next_url,
            "page": number,
            "page_size": size,
            "previous_page_url": previous_url,
            "url": link(number, token),
        },
    }


def _resolve(items: Sequence[T], token: str, size: int, sid_of: Callable[[T], str]) -> int:
    direction = token[:2]
    index_text, _, sid = token[2:].partition(".")
    if (direction not in ("PA", "PB") or not (index_text.isascii() and index_text.isdigit())
            or len(index_text) > 18 or not sid):
        raise InvalidParameter(f"Invalid PageToken '{token}'")
    anchor = int(index_text)
    if not (anchor < len(items) and sid_of(items[anchor]) == sid):
        found = next((i for i, item in enumerate(items) if sid_of(item) == sid), None)
        if found is None:  # the anchor has gone: its position is where the page starts
            return min(anchor, len(items)) if direction == "PA" else max(anchor - size, 0)
        anchor = found
    return anchor + 1 if direction == "PA" else max(anchor - size, 0)
