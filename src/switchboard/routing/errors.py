"""Domain errors with their Twilio error codes.

The routing core raises these; the HTTP adapter renders them as Twilio error bodies
(``{"code", "message", "more_info", "status"}``). Codes are Twilio's own.
"""

from __future__ import annotations


class RoutingError(Exception):
    """A request the engine refuses. Raised before any state is changed."""

    code = 20001
    status = 400

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidParameter(RoutingError):
    """Twilio 20001: a parameter is missing, malformed or not allowed in this state."""

    code = 20001
    status = 400


class NotFound(RoutingError):
    """Twilio 20404: the resource does not exist (or belongs to another account)."""

    code = 20404
    status = 404


class PreconditionFailed(RoutingError):
    """If-Match did not match the resource's current ETag."""

    code = 20412
    status = 412


class Gone(RoutingError):
    """The reservation can no longer be acted upon (rescinded, canceled, timed out)."""

    code = 20001
    status = 410
