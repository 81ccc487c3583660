"""The renderers' typed view: parsed once, frozen, statuses as enums, the engine's order kept."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from diagnostics.render import html, markdown, ticket
from diagnostics.render.view import ReportView
from diagnostics.report import Report
from diagnostics.statuses import (
    CheckStatus,
    Coverage,
    FindingStatus,
    FreshnessState,
    RenderStatus,
    Verdict,
)

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> ReportView:
    return ReportView.from_data(json.loads((GOLDEN / f"{name}.json").read_text()))


def test_statuses_are_enums(broken: Report) -> None:
    view = ReportView.of(broken)
    assert view.verdict is Verdict.BROKEN
    assert all(isinstance(d.coverage, Coverage) for d in view.datasets)
    assert all(isinstance(d.freshness, FreshnessState) for d in view.datasets)
    assert all(isinstance(s.status, Coverage) for s in view.scopes)
    assert all(isinstance(m.status, RenderStatus) for m in view.macros)
    assert all(isinstance(k.status, CheckStatus) for k in view.checks)
    findings = [f for g in view.groups for f in g.members]
    assert findings and all(isinstance(f.status, FindingStatus) for f in findings)


def test_records_are_frozen(broken: Report) -> None:
    view = ReportView.of(broken)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.verdict = Verdict.HEALTHY  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.groups[0].root.title = "changed"  # type: ignore[misc]  # the point of the test


def test_groups_follow_the_engine() -> None:
    """Root causes in ``root_causes`` order, each finding once, consequences under their root."""
    data = json.loads((GOLDEN / "api-manager-sandbox-only.json").read_text())
    view = ReportView.from_data(data)
    assert [g.root.key for g in view.groups] == data["root_causes"]
    listed = [f.key for g in view.groups for f in g.members]
    assert listed == [f["key"] for f in data["findings"]]
    assert view.summary.fail == data["summary"]["fail"]
    assert view.summary.warn == data["summary"]["warn"]
    roots = {f["key"]: f["root"] for f in data["findings"]}
    assert all(roots[x.key] == g.root.key for g in view.groups for x in g.consequences)


def test_macro_links_name_root_causes_by_number() -> None:
    view = golden("api-manager-sandbox-only")
    failing = [m for m in view.macros if m.status is RenderStatus.ERROR]
    assert failing and all(m.links.causes == (1,) and m.links.tone == "bad" for m in failing)


def test_an_older_report_reads_the_same(broken: Report, minimal: Report) -> None:
    """A report without the engine's extra keys is read with the engine's functions, once."""
    new, old = ReportView.of(broken), ReportView.of(minimal)
    assert [[f.key for f in g.members] for g in old.groups] == [
        [f.key for f in g.members] for g in new.groups
    ]
    assert [g.status for g in old.groups] == [g.status for g in new.groups]


@pytest.mark.parametrize("name", ["invalid-credentials", "upstream-outage"])
def test_renderers_take_a_parsed_view(name: str) -> None:
    data = json.loads((GOLDEN / f"{name}.json").read_text())
    view = ReportView.from_data(data)
    assert markdown.render(view) == markdown.render(data)
    assert ticket.render(view) == ticket.render(data)
    assert html.render(view) == html.render(data)
