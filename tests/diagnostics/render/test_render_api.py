"""``render(report, fmt)``: every format, purity, and the boundaries of the package."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from types import MappingProxyType
from typing import Any

import pytest

from diagnostics.render import FORMATS, render
from diagnostics.report import Report


def test_formats() -> None:
    assert FORMATS == ("text", "json", "markdown", "html", "ticket")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sample", ["broken", "healthy", "minimal"])
def test_every_format_renders(fmt: str, sample: str, request: pytest.FixtureRequest) -> None:
    report: Report = request.getfixturevalue(sample)
    before = copy.deepcopy(report.data)
    out = render(report, fmt)
    assert isinstance(out, str) and out.strip() == out and out
    assert render(report, fmt) == out  # pure: same report, same text
    assert report.data == before  # and the report is left alone
    assert render(report.data, fmt) == out  # a plain mapping works too


def test_json_is_the_contract_in_its_order(broken: Report) -> None:
    out = render(broken, "json")
    assert json.loads(out) == broken.data
    assert list(json.loads(out)) == list(broken.data)
    assert out.startswith('{\n  "schema_version": 1,\n  "run_id"')
    assert "→" in out and "\\u2192" not in out  # ensure_ascii=False


def test_json_of_read_only_mappings(broken_data: dict[str, Any]) -> None:
    proxied = MappingProxyType({**broken_data, "summary": MappingProxyType(broken_data["summary"])})
    assert json.loads(render(Report(proxied), "json")) == broken_data


@pytest.mark.parametrize("fmt", ["pdf", "", "TEXT", None])
def test_unknown_format(broken: Report, fmt: Any) -> None:
    with pytest.raises(ValueError, match="text, json, markdown, html"):
        render(broken, fmt)


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_color_only_for_text(broken: Report, fmt: str) -> None:
    assert render(broken, fmt, color=True) == render(broken, fmt)
    assert "\x1b" in render(broken, "text", color=True)
    assert "\x1b" not in render(broken, "text")


def test_renderers_read_the_verdict_they_never_decide_it(broken_data: dict[str, Any]) -> None:
    # An inconsistent report (the schema would refuse it): renderers still show what it says.
    broken_data["verdict"] = "degraded"
    broken_data["suggested_severity"] = "Sev 4"
    report = Report(broken_data)
    assert render(report, "text").splitlines()[-1].startswith("degraded: ")
    assert render(report, "text").endswith("suggested Sev 4")
    assert "**Degraded: 3 things to fix" in render(report, "markdown")
    assert render(report, "ticket").startswith("h3. (!) MuleSight diagnostics: Degraded")
    assert "Degraded</span>" in render(report, "html")


def test_no_web_framework_in_the_engine() -> None:
    code = (
        "import sys; sys.modules['flask'] = None; "
        "import diagnostics.render, diagnostics.report_schema; "
        "assert 'flask' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_healthy_report_offers_no_ticket_severity(
    fmt: str, healthy: Report, broken: Report
) -> None:
    assert "Sev 4" not in render(healthy, fmt) and "uggested severity" not in render(healthy, fmt)
    assert str(broken.data["suggested_severity"]) in render(broken, fmt)
