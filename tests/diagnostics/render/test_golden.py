"""Golden renderings of three built-in scenarios in every format, and cause-before-consequence.

The goldens pin what people read: the root cause first with its fix said once, what follows
folded beneath it. Re-create them after an intended change with ``MULESIGHT_UPDATE_GOLDEN=1``
and review the diff like code.
"""

from __future__ import annotations

import copy
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from diagnostics.render import FORMATS, render
from diagnostics.report import Report
from diagnostics.simulator import builtin_scenarios, load_scenario
from tests.diagnostics.test_engine_scenarios import run_scenario

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_SCENARIOS = ("invalid-credentials", "upstream-outage", "api-manager-sandbox-only")
EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html", "ticket": "jira"}
RUN_ID = "00000000-0000-4000-8000-000000000010"
WAITED = re.compile(r"waited \d+ m?s")


@cache
def scenario_report(name: str) -> Report:
    """The scenario's report with what changes from run to run (ids, timings) pinned."""
    data = copy.deepcopy(dict(run_scenario(load_scenario(name)).data))
    data["run_id"] = RUN_ID
    for d in data["datasets"].values():  # the runner records probes in completion order
        d["probes"].sort(key=lambda p: (p["probe"], p["environment_id"] or "", p["path"]))
        for paths in d["failed"].values():
            paths.sort()
    return Report(_pin_timings(data))


def _pin_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: 1.0 if k == "elapsed_ms" else _pin_timings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pin_timings(v) for v in value]
    return value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GOLDEN_SCENARIOS)
def test_golden_rendering(name: str, fmt: str) -> None:
    # How long a timed-out call waited is measured, so it varies a little from run to run.
    text = WAITED.sub("waited (measured)", render(scenario_report(name), fmt)) + "\n"
    path = GOLDEN / f"{name}.{EXTENSIONS[fmt]}"
    if os.environ.get("MULESIGHT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path.name}: run with MULESIGHT_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", GOLDEN_SCENARIOS)
def test_one_root_cause_and_its_fix_said_once(name: str) -> None:
    report = scenario_report(name)
    assert len(report.data["root_causes"]) == 1
    root = next(f for f in report.data["findings"] if f["key"] == report.data["root_causes"][0])
    for fmt in ("text", "markdown", "html", "ticket"):
        shown = _plain(render(report, fmt))
        assert shown.count(_plain(root["remediation"])[:80]) == 1, fmt


@pytest.mark.parametrize("name", GOLDEN_SCENARIOS)
def test_ticket_summary_fits_twenty_lines(name: str) -> None:
    ticket = render(scenario_report(name), "ticket")
    assert len(ticket.splitlines()) <= 20
    assert RUN_ID in ticket


def test_an_outage_checks_no_scope_and_owns_every_consequence() -> None:
    data = scenario_report("upstream-outage").data
    assert data["root_causes"] == ["upstream.outage"]
    assert {f["owner"] for f in data["findings"]} == {"mulesoft"}
    scopes = [f for f in data["findings"] if f["scopes"] and f["id"].startswith("scope.")]
    assert scopes and all("could not be checked" in f["title"] for f in scopes)
    assert not any(s["verified"] for s in data["scopes"].values())
    assert "missing" not in _plain(render(data, "text")).split("What to fix")[1].split("Checks")[0]


def _plain(text: str) -> str:
    """Rendered text without markup or escapes, whitespace collapsed (to compare prose)."""
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("\\", "").replace("`", "").replace("{{", "").replace("}}", "")
    text = text.replace("&#39;", "'").replace("&amp;", "&").replace("&gt;", ">")
    return " ".join(text.split())


@pytest.mark.parametrize("name", [name for name, _ in builtin_scenarios()])
def test_no_rendering_shows_a_consequence_before_its_cause(name: str) -> None:
    report = Report(copy.deepcopy(dict(run_scenario(load_scenario(name)).data)))
    findings = report.data["findings"]
    by_key = {f["key"]: f for f in findings}
    for fmt in ("text", "markdown", "html", "ticket"):
        shown = _plain(render(report, fmt))
        for f in findings:
            if f["cause"] is None:
                continue
            cause = by_key[f["cause"]]
            root = by_key[f["root"]]
            at_cause = shown.find(_plain(cause["title"]))
            at_root = shown.find(_plain(root["title"]))
            at_self = shown.find(_plain(f["title"]))
            assert at_root >= 0, (fmt, root["key"])
            if fmt == "ticket":
                continue  # the ticket names root causes only
            assert 0 <= at_cause < at_self, (fmt, f["key"], cause["key"])
            assert at_root < at_self, (fmt, f["key"])
