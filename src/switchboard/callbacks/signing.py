"""``X-Twilio-Signature``: how Twilio signs the requests it sends, so its validator accepts ours.

Base64 of HMAC-SHA1, keyed with the account's auth token, over the full URL followed by each
POST parameter's name and value, names sorted, values of a repeated name sorted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence


def signature(auth_token: str, url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    parts = [url]
    for name, value in sorted(params.items()):
        if isinstance(value, str):
            parts += (name, value)
        else:
            for item in sorted(set(value)):
                parts += (name, item)
    digest = hmac.digest(auth_token.encode(), "".join(parts).encode(), hashlib.sha1)
    return base64.b64encode(digest).decode()
