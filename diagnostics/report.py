"""The diagnostics report: the contract JSON (report.md) wrapped in a small immutable object.

A :class:`Report` is only ever built from data that has passed the redaction stage and the report
schema, so renderers and stores can use it without thinking about secrets. Renderers read
``report.data``; they never decide a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diagnostics.statuses import FindingStatus, Verdict

SCHEMA_VERSION = 1

VERDICT_EXIT_CODES = {Verdict.HEALTHY: 0, Verdict.DEGRADED: 4, Verdict.BROKEN: 3}


@dataclass(frozen=True)
class Report:
    """One run's report. ``data`` is the contract JSON (schema_version 1), already redacted."""

    data: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.data["verdict"])

    @property
    def exit_code(self) -> int:
        """The CLI exit code of cli.md, decided by the verdict alone."""
        return VERDICT_EXIT_CODES[self.verdict]

    def findings(self, status: FindingStatus | str | None = None) -> list[Mapping[str, Any]]:
        return [f for f in self.data["findings"] if status is None or f["status"] == status]
