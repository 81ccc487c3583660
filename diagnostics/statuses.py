"""Every status of the report model, as enums (report.md names their values).

They are ``StrEnum``s: a value compares equal to its string and serialises as it, so the JSON
contract is unchanged while the engine's model is typed end to end. The report schema takes its
allowed values from here.
"""

from __future__ import annotations

from enum import StrEnum


class Coverage(StrEnum):
    """A dataset's or a scope's coverage (report.md, "Coverage rule")."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


class FreshnessState(StrEnum):
    """A dataset cache's freshness (report.md, "Freshness rule")."""

    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"
    NEVER = "never"
    NOT_APPLICABLE = "not_applicable"


class Outcome(StrEnum):
    """How one probe ended (report.md, "Probe outcomes")."""

    OK = "ok"
    EMPTY = "empty"
    FORBIDDEN = "forbidden"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    SKIPPED = "skipped"


class RenderStatus(StrEnum):
    """A macro's latest render; ``not_rendered`` when no render was reported."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    STALE = "stale"
    NOT_RENDERED = "not_rendered"


class FindingStatus(StrEnum):
    FAIL = "fail"
    WARN = "warn"


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    BROKEN = "broken"


class Owner(StrEnum):
    CUSTOMER_ADMIN = "customer_admin"
    MULESIGHT_SUPPORT = "mulesight_support"
    MULESIGHT_ENGINEERING = "mulesight_engineering"
    MULESOFT = "mulesoft"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The enum's values, in declaration order (for schemas and validators)."""
    return tuple(member.value for member in enum)
