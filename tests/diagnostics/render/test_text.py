"""Terminal output in the style of doctor tools: the verdict, then each root cause once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from diagnostics.render import text
from diagnostics.report import Report

ANSI = re.compile(r"\x1b\[[0-9;]*m")
FINDING_LINE = re.compile(r"^\[(✗|!)\] (\d+)\. (FAIL|WARN) (.+)$")


def test_one_line_per_check_dataset_scope_and_macro(broken: Report) -> None:
    out = text.render(broken)
    lines = out.splitlines()
    for check in broken.data["checks"]:
        assert any(line.startswith("[") and check["title"] in line for line in lines)
    for dataset in broken.data["datasets"].values():
        assert sum(line[4:].startswith(dataset["name"] + " ") for line in lines) == 1
    for scope in broken.data["scopes"]:
        assert sum(line[4:].startswith(scope + " ") for line in lines) == 1
    macro_lines = [line for line in lines if " macro" in line and line.startswith("[")]
    assert len(macro_lines) == 3


def test_symbols_follow_the_report(broken: Report) -> None:
    lines = text.render(broken).splitlines()

    def line_of(name: str) -> str:
        return next(line for line in lines if line[4:].startswith(name + " "))

    assert line_of("Shared platform context").startswith("[✓]")
    assert line_of("API Manager").startswith("[✗]")  # the failing macro finding names it
    assert line_of("Runtime Manager").startswith("[!]")  # stale cache
    assert line_of("read:api_configuration").startswith("[✗]")
    assert line_of("read:organization").startswith("[✓]")
    assert line_of("Required scopes").startswith("[✗]")
    assert line_of("Cache freshness").startswith("[!]")
    assert line_of("API Manager").endswith("→ see 2")
    assert next(line for line in lines if "98320" in line).startswith("[–]")  # not rendered


def test_fix_is_indented_under_each_root_cause(broken: Report) -> None:
    lines = text.render(broken).splitlines()
    starts = [i for i, line in enumerate(lines) if FINDING_LINE.match(line)]
    assert len(starts) == len(broken.data["root_causes"])
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        block = lines[start + 1 : end]
        fix = next(line for line in block if line.lstrip().startswith("fix: "))
        assert fix.startswith(" " * 8 + "fix: ")
        assert any(line.lstrip().startswith("who: ") for line in block)
    first = lines[starts[0] + 1 : starts[1]]
    assert " ".join(" ".join(first).split()).count("Check https://status.mulesoft.com") == 1


def test_consequences_are_folded_as_titles(broken: Report) -> None:
    out = text.render(broken)
    block = out.split("1. FAIL Anypoint Platform")[1].split("2. WARN")[0]
    assert "4 findings follow from it (2 datasets, 1 scope affected):" in block
    assert "          [✗] Exchange: none coverage" in block
    assert "Scope read:exchange: could not be checked" in block
    assert "Wait for Anypoint" not in out  # a consequence's own fix is not repeated


def test_verdict_line_comes_before_the_causes(broken: Report) -> None:
    lines = text.render(broken).splitlines()
    verdict = lines.index(
        "Broken: 3 things to fix (7 findings follow from them; 5 failures, 5 warnings)"
    )
    assert verdict < lines.index("What to fix (root causes, worst first)")


def test_summary_line_is_last(broken: Report, healthy: Report) -> None:
    assert (
        text.render(broken).splitlines()[-1] == "broken: 5 failures, 5 warnings — suggested Sev 2"
    )
    assert text.render(healthy).splitlines()[-1] == "healthy: 0 failures, 0 warnings"


def test_healthy_has_only_checkmarks(healthy: Report) -> None:
    out = text.render(healthy)
    assert "[✗]" not in out and "[!]" not in out
    assert "[✓] Nothing: no check failed or warned." in out


@pytest.mark.parametrize("kwargs", [{}, {"color": False}])
def test_no_ansi_without_color(broken: Report, kwargs: dict[str, Any]) -> None:
    assert "\x1b" not in text.render(broken, **kwargs)


def test_color_only_adds_ansi(broken: Report) -> None:
    colored = text.render(broken, color=True)
    assert "\x1b[31m[✗]\x1b[0m" in colored and "\x1b[32m[✓]\x1b[0m" in colored
    assert ANSI.sub("", colored) == text.render(broken)


def test_control_characters_from_the_report_are_made_visible(broken_data: dict[str, Any]) -> None:
    broken_data["findings"][0]["title"] = "evil\x1b[2J title"
    broken_data["macros"][0]["error"] = "line one\nline two\x07"
    out = text.render(Report(broken_data))
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2J title" in out
    assert "error: line one line two\\x07" in out


def test_redactions_and_people_times(broken: Report) -> None:
    out = text.render(broken)
    assert "2 secret values removed before this report was written" in out
    assert "· 23 Nov 2026 10:15 AEDT ·" in out.splitlines()[0]
    assert "+11:00" not in out
