"""The CI dependency audit (.ci/audit.py) fails on a known vulnerability and says so plainly when
the advisory data could not be reached. See docs/security.md ("Dependencies")."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_known_vulnerability_fails_the_build() -> None:
    report = {
        "dependencies": [
            {"name": "flask", "version": "3.1.3", "vulns": []},
            {
                "name": "requests",
                "version": "2.19.0",
                "vulns": [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": []}],
            },
        ]
    }
    code, lines = load().verdict(report)
    assert code == 1
    assert "VULNERABLE requests 2.19.0: PYSEC-2018-28 (fixed in 2.20.0)" in lines


def test_a_clean_report_passes() -> None:
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}
    code, lines = load().verdict(report)
    assert code == 0 and "1 dependencies audited, no known vulnerabilities" in lines[-1]


def test_unreachable_advisories_are_named_and_fail_when_strict() -> None:
    report = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI"}]}
    module = load()
    code, lines = module.verdict(report)
    assert code == 0 and "none of the 1 dependencies was audited" in lines[0]
    assert module.verdict(report, strict=True)[0] == 1
