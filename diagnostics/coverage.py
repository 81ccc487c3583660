"""The coverage rule of report.md, for datasets and for scopes.

- ``full``: at least one probe ran and every probe is ``ok`` or ``empty``;
- ``none``: no probe is ``ok`` or ``empty`` (with a reason);
- ``partial``: otherwise.
Skipped probes count with the outcome of the dependency that stopped them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from diagnostics.probes import OK_OUTCOMES, SKIP_DISABLED, SKIP_NOT_SELECTED, ProbeRecord
from diagnostics.statuses import Coverage

UNREACHABLE_OUTCOMES = frozenset({"timeout", "error", "rate_limited"})
COVERAGE_ORDER = {"full": 0, "partial": 1, "none": 2}


def coverage_of(records: Sequence[ProbeRecord]) -> tuple[Coverage, str | None]:
    """Coverage and reason over a set of probe records."""
    return coverage_of_outcomes(Counter(r.effective_outcome for r in records))


def coverage_of_outcomes(outcomes: Mapping[str, int]) -> tuple[Coverage, str | None]:
    """Coverage and reason over how many records had each effective outcome (a crawl that
    streams its records tallies them instead of keeping them)."""
    counted = {o: n for o, n in outcomes.items() if n > 0}
    if SKIP_NOT_SELECTED in counted:
        return Coverage.NONE, SKIP_NOT_SELECTED
    if counted and set(counted) == {SKIP_DISABLED}:
        return Coverage.NONE, SKIP_DISABLED
    if not counted:
        return Coverage.NONE, "no_environments"
    succeeded = sum(n for o, n in counted.items() if o in OK_OUTCOMES)
    if succeeded == sum(counted.values()):
        return Coverage.FULL, None
    reason = failure_reason(counted)
    return (Coverage.PARTIAL if succeeded else Coverage.NONE), reason


def failure_reason(outcomes: Iterable[str]) -> str:
    failures = [o for o in outcomes if o not in OK_OUTCOMES]
    if "forbidden" in failures:
        return "auth_blocked"
    if failures and all(o in UNREACHABLE_OUTCOMES for o in failures):
        return "unreachable"
    return "failed"


def combine_derived(source_coverages: Sequence[str]) -> Coverage:
    """A derived dataset is full when every source is full, none when every source is none."""
    if all(c == Coverage.FULL for c in source_coverages):
        return Coverage.FULL
    if all(c == Coverage.NONE for c in source_coverages):
        return Coverage.NONE
    return Coverage.PARTIAL
