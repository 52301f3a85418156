"""One exception hierarchy for everything a call can fail with.

The server's error shape is ``{"error": {"code", "message", "request_id"}}``; ``code`` is one of the
stable codes of ``crates/sealbox-types/src/codes.rs``. Messages come from the server (which never
puts a value in them) or from this package (which never puts a token or a value in them).
"""

from __future__ import annotations

from typing import Dict, Optional, Type


class SealboxError(Exception):
    """A failed call. ``code`` is the server's stable code (or a ``client.*`` code for failures on
    the way there or back), ``status`` the HTTP status (``None`` when no answer came)."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: Optional[str] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status

    def __str__(self) -> str:
        where = f", request id {self.request_id}" if self.request_id else ""
        return f"{self.message} ({self.code}{where})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"request_id={self.request_id!r}, status={self.status!r})"
        )


class Invalid(SealboxError):
    """400, 413 or 422: the request was refused as it is; the message says what to change."""


class Unauthorized(SealboxError):
    """401: no token, or one that is invalid, expired or revoked."""


class Forbidden(SealboxError):
    """403: the caller may not do this (role, policy, or an identity token on a member route)."""


class NotFound(SealboxError):
    """404: no such secret, identity, policy, action ... in the caller's workspace."""


class Conflict(SealboxError):
    """409: a name is taken or in the trash, or ``expected_version`` did not match."""


class DestinationFailed(SealboxError):
    """424: an action's destination failed (connect, TLS, timeout, SMTP or SQS refusal)."""


class RateLimited(SealboxError):
    """429: too many failed sign-ins; wait and retry."""


class ServerError(SealboxError):
    """5xx: the server could not do it (e.g. ``audit.unavailable``); nothing was changed."""


class TransportError(SealboxError):
    """The request did not reach the server or no answer came back (``client.connection``,
    ``client.timeout``), or the answer could not be read (``client.decode``)."""


class ClientArgumentError(SealboxError):
    """An argument this package cannot send (``client.invalid_argument``), caught before sending."""


_BY_STATUS: Dict[int, Type[SealboxError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: Invalid,
    409: Conflict,
    413: Invalid,
    422: Invalid,
    424: DestinationFailed,
    429: RateLimited,
}


def error_class(status: int) -> Type[SealboxError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return SealboxError
