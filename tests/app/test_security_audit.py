"""The CI dependency audit (.ci/audit.py) fails on a known vulnerability in the locked
dependencies and, loudly, when PyPI's advisories cannot be reached. See docs/security.md
("Dependencies")."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import responses

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def not_found(name: str, version: str) -> dict[str, str]:
    """How pip-audit reports a dependency PyPI's per-release page did not answer for."""
    return {
        "name": name,
        "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})",
    }


def page(version: str, vulns: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    return {"info": {"version": version}, "vulnerabilities": vulns or []}


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
    assert code == 0 and "1 locked dependencies audited, no known vulnerabilities" in lines[-1]


def test_a_skipped_newest_release_is_audited_from_its_project_page() -> None:
    module = load()
    advisory = {"id": "GHSA-xxxx", "fixed_in": ["3.1.4"], "aliases": ["CVE-1"], "withdrawn": None}
    withdrawn = {"id": "GHSA-old", "fixed_in": [], "withdrawn": "2026-01-01T00:00:00"}
    pages = {"flask": page("3.1.3", [advisory, withdrawn]), "click": page("8.5")}
    report = module.complete(
        {"dependencies": [not_found("flask", "3.1.3"), not_found("click", "8.5.0")]}, pages.get
    )
    code, lines = module.verdict(report)
    assert code == 1
    assert lines[0] == "VULNERABLE flask 3.1.3: GHSA-xxxx (fixed in 3.1.4)"
    assert not any("GHSA-old" in line for line in lines)
    assert not any("not audited" in line for line in lines)  # click 8.5.0 is the newest, 8.5


def test_a_pin_below_the_newest_release_is_named_as_not_audited() -> None:
    module = load()
    report = module.complete(
        {"dependencies": [not_found("redis", "6.4.0")]}, {"redis": page("8.1.0")}.get
    )
    code, lines = module.verdict(report)
    assert code == 0
    assert "  not audited: redis 6.4.0 (newest 8.1.0)" in lines
    assert lines[0].startswith("WARNING 1 locked dependencies are held below their newest release")


def test_unreachable_advisories_fail_loudly_unless_offline() -> None:
    module = load()
    report = module.complete({"dependencies": [not_found("flask", "3.1.3")]}, lambda _name: None)
    code, lines = module.verdict(report)
    assert code == 1
    assert lines[0].startswith("DEPENDENCY AUDIT FAILED: PyPI's advisories could not be reached")
    assert "flask 3.1.3" in lines[0]
    assert module.verdict(report, offline=True)[0] == 0


@responses.activate
def test_the_project_page_is_fetched_from_pypi() -> None:
    module = load()
    responses.get("https://pypi.org/pypi/flask/json", json=page("3.1.3"))
    responses.get("https://pypi.org/pypi/gone/json", status=404)
    responses.get("https://pypi.org/pypi/garbled/json", body="<html>")
    assert module.fetch_project("flask") == page("3.1.3")
    assert module.fetch_project("gone") is None
    assert module.fetch_project("garbled") is None
    assert module.fetch_project("unregistered") is None  # connection refused by responses


def test_pip_audit_runs_over_the_hashed_lock_with_pypis_advisories(monkeypatch) -> None:
    module = load()
    seen: list[list[str]] = []

    class Completed:
        stdout = '{"dependencies": []}'
        stderr = ""

    def run(command: list[str], **_kwargs: Any) -> Completed:
        seen.append(command)
        return Completed()

    monkeypatch.setattr(module.subprocess, "run", run)
    assert module.pip_audit() == {"dependencies": []}
    command = seen[0]
    assert command[command.index("--requirement") + 1] == str(module.LOCK)
    assert command[command.index("--vulnerability-service") + 1] == "pypi"
    assert "--require-hashes" in command and "--disable-pip" in command
