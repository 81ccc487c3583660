"""What one probe run records, and how its outcome feeds the coverage rule (report.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diagnostics.catalogue import Probe
from diagnostics.statuses import Outcome, values

OK_OUTCOMES = frozenset({Outcome.OK, Outcome.EMPTY})
OUTCOMES = values(Outcome)
# Why a probe was skipped when it was not because a dependency failed.
SKIP_DISABLED = "disabled"
SKIP_NOT_SELECTED = "not_selected"


@dataclass
class ProbeRecord:
    """One probe against one environment (or the organization), as it ran or why it did not.

    ``cause`` is set on skipped probes: the effective outcome of the dependency that failed
    (``forbidden`` after a 401 on the token call, say), or ``disabled`` / ``not_selected``.
    ``items`` holds what the probe listed (the sampled first page of a diagnosis, every item of a
    crawl) for the probes that fan out over it; it never enters a report. ``parent_item`` is the
    listed item this probe ran for (an API instance), when it fanned out over one.
    """

    probe: Probe
    environment_id: str | None
    path: str
    outcome: Outcome
    status: int | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    message: str | None = None
    cause: str | None = None
    blocked_by: str | None = None  # the probe whose failure stopped this one
    refused: tuple[str, str] | None = None  # (host, why) when the outbound policy refused it
    data: Any = field(default=None, repr=False)
    items: list[Any] | None = field(default=None, repr=False)
    parent_item: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)

    @property
    def effective_outcome(self) -> str:
        """The outcome the coverage rule counts: a skipped probe carries its cause's outcome."""
        if self.outcome == "skipped" and self.cause is not None:
            return self.cause
        return self.outcome

    @property
    def succeeded(self) -> bool:
        return self.outcome in OK_OUTCOMES

    def to_report(self) -> dict[str, Any]:
        return {
            "probe": self.probe.key,
            "environment_id": self.environment_id,
            "method": self.probe.method,
            "path": self.path,
            "outcome": Outcome(self.outcome).value,
            "status": self.status,
            "attempts": self.attempts,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "message": self.message,
        }
