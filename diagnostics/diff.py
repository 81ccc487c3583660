"""Compare two reports: "did my fix work?".

Findings are matched by their ``key`` (rule id plus subject), so the same problem in two runs is
one finding, and a finding present before but not now is "fixed since last run".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Report = Mapping[str, Any]


def _changes(
    before: Mapping[str, Any], after: Mapping[str, Any], field: str
) -> list[dict[str, Any]]:
    return [
        {"key": key, "before": before[key][field], "after": after[key][field]}
        for key in after
        if key in before and before[key][field] != after[key][field]
    ]


def _finding_key(finding: Mapping[str, Any]) -> str:
    return str(finding.get("key") or finding["id"])


def diff_reports(before: Report, after: Report) -> dict[str, Any]:
    """What changed from ``before`` (the older run) to ``after``."""
    old = {_finding_key(f): f for f in before["findings"]}
    new = {_finding_key(f): f for f in after["findings"]}
    return {
        "before": {"run_id": before["run_id"], "generated_at": before["generated_at"]},
        "after": {"run_id": after["run_id"], "generated_at": after["generated_at"]},
        "verdict": {"before": before["verdict"], "after": after["verdict"]},
        "coverage": _changes(before["datasets"], after["datasets"], "coverage"),
        "freshness": _changes(before["datasets"], after["datasets"], "freshness"),
        "scopes": _changes(before["scopes"], after["scopes"], "status"),
        "fixed": [_brief(old[k]) for k in old if k not in new],
        "new": [_brief(new[k]) for k in new if k not in old],
        "still_open": [_brief(new[k]) for k in new if k in old],
    }


def _brief(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": _finding_key(finding),
        "id": finding["id"],
        "status": finding["status"],
        "title": finding["title"],
    }
