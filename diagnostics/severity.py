"""The suggested severity of policy.md, with the reason a person can check.

Every dataset ``none`` on a production environment → Sev 1; a dataset ``none`` on production →
Sev 2; anything else failing, partial or warned → Sev 3; healthy → Sev 4. A person decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diagnostics.coverage import coverage_of
from diagnostics.evaluation import DatasetResult
from diagnostics.findings import Finding
from diagnostics.model import Environment


@dataclass(frozen=True)
class SeveritySuggestion:
    severity: str
    reason: str


def suggest_severity(
    datasets: Mapping[str, DatasetResult],
    environments: Sequence[Environment],
    findings: Sequence[Finding],
) -> SeveritySuggestion:
    # "Every dataset" means the data people see: the shared platform context is not one of them.
    checked = [
        d
        for d in datasets.values()
        if d.checked and not d.dataset.derived and d.dataset.key != "diagnostics"
    ]
    production = [e for e in environments if e.type == "production"]
    # With no environment listed at all (token or environments refused), judge the organization.
    places: list[Environment | None] = [*production] if environments else [None]
    for env in places:
        none = [d.dataset.name for d in checked if _coverage_in(d, env) == "none"]
        place = f"production environment {env.name} ({env.id})" if env else "the organization"
        if checked and len(none) == len(checked):
            return SeveritySuggestion(
                "Sev 1", f"Complete outage: every dataset has no coverage on {place}."
            )
        if none:
            verb = "has" if len(none) == 1 else "have"
            return SeveritySuggestion(
                "Sev 2", f"Major degradation: {', '.join(none)} {verb} no coverage on {place}."
            )
    if findings:
        worst = findings[0]
        return SeveritySuggestion(
            "Sev 3",
            f"Partial feature issue: {worst.title}. Production data is still available.",
        )
    return SeveritySuggestion("Sev 4", "Diagnostics found no problem: informational or minor.")


def _coverage_in(d: DatasetResult, env: Environment | None) -> str:
    if env is None:
        return d.coverage
    records = [r for r in d.records if r.environment_id in (env.id, None)]
    return coverage_of(records)[0] if records else d.coverage
