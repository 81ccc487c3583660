"""The coverage rule of report.md, as a table."""

from __future__ import annotations

from collections import Counter

import pytest

from diagnostics.coverage import combine_derived, coverage_of, coverage_of_outcomes

P = "api_manager.instances"


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([("ok", None), ("empty", None)], ("full", None)),
        ([("ok", None), ("forbidden", None)], ("partial", "auth_blocked")),
        ([("ok", None), ("timeout", None)], ("partial", "unreachable")),
        ([("forbidden", None), ("forbidden", None)], ("none", "auth_blocked")),
        ([("timeout", None), ("error", None), ("rate_limited", None)], ("none", "unreachable")),
        ([("timeout", None), ("forbidden", None)], ("none", "auth_blocked")),
        ([("skipped", "forbidden")], ("none", "auth_blocked")),  # skipped after a 401 token call
        ([("skipped", "timeout")], ("none", "unreachable")),
        ([("skipped", "disabled")], ("none", "disabled")),
        ([("skipped", "empty")], ("full", None)),  # nothing to sample counts as its parent did
        ([], ("none", "no_environments")),
    ],
)
def test_coverage_rule(record, outcomes, expected) -> None:
    records = [
        record(P, outcome, f"env-{i}", cause=cause) for i, (outcome, cause) in enumerate(outcomes)
    ]
    assert coverage_of(records) == expected
    # the same rule over a tally of outcomes (a streamed crawl keeps no records)
    assert coverage_of_outcomes(Counter(r.effective_outcome for r in records)) == expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["full", "full"], "full"),
        (["none", "none", "none"], "none"),
        (["full", "none"], "partial"),
        (["partial", "full"], "partial"),
    ],
)
def test_derived_datasets(sources, expected) -> None:
    assert combine_derived(sources) == expected
