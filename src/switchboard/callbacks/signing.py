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
    text = url
    for name in sorted(params):
        value = params[name]
        values = [value] if isinstance(value, str) else sorted(set(value))
        for item in values:
            text += name + item
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
