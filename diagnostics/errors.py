"""The engine's one small exception tree.

::

    DiagnosticsError                 anything the engine raises on purpose
    ├── ConfigurationError           bad settings (unknown control plane, custom without a URL)
    ├── ScenarioError                a scenario file is invalid (names the key and line)
    │                                — diagnostics.simulator.errors
    ├── RedactionError               the redaction stage failed: nothing may be shown or sent
    │                                — diagnostics.redaction
    ├── ReportValidationError        a report does not match the contract — diagnostics.report_schema
    ├── TicketError                  a ticket could not be read (diagnostics.tickets), or a ticket
    │                                system call failed (the service's connectors, app.tickets)
    ├── DestinationRefused           a transport's outbound policy refused a destination (raised
    │                                inside the HTTP session, e.g. app.net's SSRF guard)
    └── AnypointError                an Anypoint call failed (status, attempts, elapsed_ms, path)
        ├── AuthenticationError      401 on the token call (bad client credentials), or 401 again
        │                            after one re-authentication
        ├── ForbiddenError           403 (and 401 on the hierarchy call, which is how Anypoint
        │                            answers a missing ``read:organization`` there)
        ├── NotFoundError            404
        ├── RateLimitedError         429, or 503 "at capacity", still failing after retries
        ├── UpstreamError            other 5xx still failing after retries
        ├── AnypointTimeout          connect/read timeout after retries, or the time budget ran out
        ├── InvalidResponseError     2xx that is not JSON, or JSON of an unexpected shape
        ├── ClientRequestError       any other 4xx
        └── AnypointConnectionError  DNS failure, connection refused, TLS error
            └── DestinationRefusedError  the session refused to connect to the Anypoint host
                                         (from DestinationRefused): nothing was sent

The subclasses outside this module live next to the code that raises them; keep this drawing
current when one is added.

``requests`` exceptions never leave the HTTP boundary (``diagnostics.anypoint.client``): they are
mapped to this tree there with ``raise ... from exc``. Messages are short and safe to show: they
never carry a client secret, an access token or an Authorization header.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DiagnosticsError(Exception):
    """Base class of every exception the engine raises on purpose."""


class ConfigurationError(DiagnosticsError):
    """The settings cannot work (unknown control plane, missing base URL, ...)."""


def is_retryable_status(status: int) -> bool:
    """429, 408 and 5xx may succeed later; any other 4xx will fail the same way again."""
    return status in (408, 429) or 500 <= status <= 599


class TicketError(DiagnosticsError):
    """A ticket could not be read or written; ``message`` is safe to store and show.

    The engine raises it for a ticket it cannot read (no content, invalid JSON, not an object):
    that never gets better, so not ``retryable``. The service's ticket connectors raise it for a
    failed call (``status``, when one came back); the outbox tries again when ``retryable``.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        # The request may have reached the system (no answer came back: a read timeout, a
        # connection dropped mid-call): a write may have been made, so look before sending again.
        self.outcome_unknown = outcome_unknown

    @classmethod
    def for_status(cls, message: str, status: int) -> TicketError:
        return cls(message, retryable=is_retryable_status(status), status=status)

    def __repr__(self) -> str:
        return (
            f"TicketError({self.message!r}, retryable={self.retryable!r}, status={self.status!r})"
        )


class DestinationRefused(DiagnosticsError):
    """A session refused to connect to a host its outbound policy forbids.

    The engine holds no policy of its own: a transport mounted on the session (the service's
    guarded session, ``app.net``) raises a subclass, and the Anypoint client maps it to
    :class:`DestinationRefusedError`. ``reason`` says why in plain words
    (``127.0.0.1 is a loopback address``); neither carries a credential.
    """

    def __init__(self, host: str, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"Refused to connect to {host}: {reason}")
        self.host = host
        self.reason = reason


class AnypointError(DiagnosticsError):
    """An Anypoint call failed.

    ``attempts`` counts the HTTP attempts made on ``path`` (0 when none was sent, e.g. the budget
    had already run out); ``elapsed_ms`` is the wall time of the whole call, retries included.
    ``outcome`` is the probe outcome of report.md this failure maps to by default; a probe may
    read it differently (an Exchange detail 404 means a missing grant, for instance).
    """

    outcome: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 0,
        elapsed_ms: float = 0.0,
        path: str = "",
        method: str = "GET",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.attempts = attempts
        self.elapsed_ms = elapsed_ms
        self.path = path
        self.method = method

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword attributes when the error crosses a process boundary (pickle).
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "attempts": self.attempts,
            "elapsed_ms": self.elapsed_ms,
            "path": self.path,
            "method": self.method,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"attempts={self.attempts}, path={self.path!r})"
        )


def _rebuild(cls: type[AnypointError], message: str, fields: dict[str, Any]) -> AnypointError:
    return cls(message, **fields)


class AuthenticationError(AnypointError):
    """The connected app's credentials were refused."""

    outcome = "forbidden"


class ForbiddenError(AnypointError):
    """The token is valid but lacks a grant for this organization or environment."""

    outcome = "forbidden"


class NotFoundError(AnypointError):
    """404."""


class RateLimitedError(AnypointError):
    """429 or 503 "at capacity" after every retry the budget allowed."""

    outcome = "rate_limited"


class UpstreamError(AnypointError):
    """5xx after every retry the budget allowed."""


class AnypointTimeout(AnypointError):
    """No answer in time: connect/read timeouts after retries, or the time budget ran out."""

    outcome = "timeout"


class InvalidResponseError(AnypointError):
    """A 2xx answer that is not JSON or not of the expected shape."""


class ClientRequestError(AnypointError):
    """A 4xx other than 401, 403, 404 and 429."""


class AnypointConnectionError(AnypointError):
    """The host could not be reached at all (DNS, refused connection, TLS)."""


class DestinationRefusedError(AnypointConnectionError):
    """The session's outbound policy refused the Anypoint host: no request was sent."""

    def __init__(self, message: str, *, host: str = "", reason: str = "", **fields: Any) -> None:
        super().__init__(message, **fields)
        self.host = host
        self.reason = reason

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "host": self.host, "reason": self.reason}


__all__ = [
    "AnypointConnectionError",
    "AnypointError",
    "AnypointTimeout",
    "AuthenticationError",
    "ClientRequestError",
    "ConfigurationError",
    "DestinationRefused",
    "DestinationRefusedError",
    "DiagnosticsError",
    "ForbiddenError",
    "InvalidResponseError",
    "NotFoundError",
    "RateLimitedError",
    "TicketError",
    "UpstreamError",
    "is_retryable_status",
]
