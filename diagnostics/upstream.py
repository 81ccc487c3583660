"""Upstream-outage detection: when Anypoint itself, not MuleSight or the grant, is failing.

A dataset that is ``none`` because every probe is unreachable (timeouts, 5xx, rate limiting —
no 401/403) points at MuleSoft. The status page of the control plane is named, and a failure
inside MuleSoft's scheduled maintenance window is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diagnostics.anypoint.controlplanes import status_page_url
from diagnostics.policy import in_maintenance_window


@dataclass(frozen=True)
class UpstreamState:
    control_plane: str
    status_page: str | None  # None for a custom control plane
    suspected: bool = False
    in_maintenance_window: bool = False
    datasets: Sequence[str] = field(default_factory=tuple)

    def to_report(self) -> dict[str, Any]:
        return {
            "control_plane": self.control_plane,
            "status_page": self.status_page,
            "suspected": self.suspected,
            "in_maintenance_window": self.in_maintenance_window,
            "datasets": list(self.datasets),
        }


def detect_upstream(
    dataset_coverage: Mapping[str, tuple[str, str | None]],
    control_plane: str,
    now: datetime,
    *,
    destination_refused: bool = False,
) -> UpstreamState:
    """``dataset_coverage`` maps each non-derived dataset key to (coverage, reason).

    When MuleSight itself refused to connect to the Anypoint host (``destination_refused``),
    nothing reached Anypoint: no outage is suspected.
    """
    unreachable = tuple(
        key
        for key, (coverage, reason) in dataset_coverage.items()
        if coverage == "none" and reason == "unreachable" and not destination_refused
    )
    return UpstreamState(
        control_plane=control_plane,
        status_page=status_page_url(control_plane),
        suspected=bool(unreachable),
        in_maintenance_window=bool(unreachable) and in_maintenance_window(now, control_plane),
        datasets=unreachable,
    )
