"""Fail CI on a known vulnerability in the locked dependencies (pip-audit, PyPI's advisories).

Runs ``pip-audit`` over ``requirements.lock`` (every pin hashed; nothing is resolved or
installed) against PyPI's vulnerability service (``-s pypi``) and exits 1 when any locked
dependency has a known vulnerability, naming each with its advisory and the versions that fix it.

PyPI answers advisories per release (``/pypi/NAME/VERSION/json``) and, for the newest release,
in the project's own page (``/pypi/NAME/json``). Where the per-release answer is missing (pip-audit
then *skips* the dependency and still prints "no known vulnerabilities"), the project page is
asked: when the locked version is the newest release, its advisories are that version's.

When PyPI's advisories cannot be reached (pip-audit fails, or a project page does not answer),
the build fails, loudly: nothing unaudited passes silently. ``MULESIGHT_AUDIT_OFFLINE=1`` turns
that one case into a warning, for a developer's machine without network. A dependency held below
its newest release (by a cap in pyproject.toml or in a dependency's own requirements) cannot be
checked where only the project page answers: it is named in a warning, every run. A known
vulnerability always fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
OFFLINE_SETTING = "MULESIGHT_AUDIT_OFFLINE"
PROJECT_PAGE = "https://pypi.org/pypi/{name}/json"
REGENERATE = "regenerate requirements.lock as docs/security.md (Dependencies) says"

Dependency = dict[str, Any]
FetchProject = Callable[[str], Mapping[str, Any] | None]


def fetch_project(name: str) -> Mapping[str, Any] | None:
    """PyPI's JSON page of a project (``None`` when it cannot be had)."""
    import requests  # the venv's; imported here so the module loads without it

    try:
        response = requests.get(PROJECT_PAGE.format(name=name), timeout=30)
        return response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def same_release(a: str, b: str) -> bool:
    """``6.0`` and ``6.0.0`` are one release (PEP 440); text that is no version compares as text."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def from_project_page(dep: Dependency, fetch: FetchProject) -> Dependency:
    """Audit a dependency pip-audit skipped from its project page, when it pins the newest release."""
    page = fetch(dep["name"])
    version = str(dep.get("version") or _skipped_version(dep))
    if page is None:
        return {**dep, "version": version, "skip_reason": "PyPI's project page did not answer"}
    newest = str(page.get("info", {}).get("version"))
    if not same_release(newest, version):
        return {
            **dep,
            "version": version,
            "newest": newest,
            "skip_reason": f"PyPI gives advisories only for the newest release ({newest})",
        }
    vulns = [
        {"id": v["id"], "fix_versions": list(v.get("fixed_in") or []), "aliases": v.get("aliases")}
        for v in page.get("vulnerabilities") or []
        if not v.get("withdrawn")
    ]
    return {"name": dep["name"], "version": version, "vulns": vulns}


def _skipped_version(dep: Mapping[str, Any]) -> str:
    """pip-audit names a skipped dependency's version only in its reason: ``… flask (3.1.3)``."""
    reason = str(dep.get("skip_reason", ""))
    return reason.rsplit("(", 1)[-1].rstrip(")") if reason.endswith(")") else "?"


def complete(report: Mapping[str, Any], fetch: FetchProject) -> dict[str, Any]:
    """The report with every skipped dependency retried from its project page."""
    deps = [
        from_project_page(d, fetch) if d.get("skip_reason") else d
        for d in report.get("dependencies", [])
    ]
    return {**report, "dependencies": deps}


def verdict(report: Mapping[str, Any], *, offline: bool = False) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a (completed) ``pip-audit -f json`` report."""
    deps: Sequence[Mapping[str, Any]] = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    older = [d for d in deps if d.get("skip_reason") and d.get("newest")]
    unreached = [d for d in deps if d.get("skip_reason") and not d.get("newest")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"VULNERABLE {dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixes})"
            )
    if vulnerable:
        lines.append(
            f"pip-audit: {len(vulnerable)} locked dependency(ies) with a known vulnerability: "
            f"raise their lower bound in pyproject.toml to a fixed version, then {REGENERATE}."
        )
    if not deps:
        lines.append("DEPENDENCY AUDIT FAILED: pip-audit listed no dependency at all.")
        return 1, lines
    if unreached:
        lines.append(
            f"DEPENDENCY AUDIT FAILED: PyPI's advisories could not be reached for {len(unreached)} "
            f"of {len(deps)} locked dependencies, so they were not checked: "
            + ", ".join(f"{d['name']} {d.get('version', '?')}" for d in unreached)
            + f". Retry when PyPI answers; only on a machine without network, {OFFLINE_SETTING}=1 "
            "lets this pass."
        )
    if older:
        lines.append(
            f"WARNING {len(older)} locked dependencies are held below their newest release, for "
            "which alone PyPI gives advisories here; they were NOT checked for known "
            "vulnerabilities (lift the cap that holds each when its newest release fits):"
        )
        lines += [
            f"  not audited: {d['name']} {d.get('version', '?')} (newest {d['newest']})"
            for d in older
        ]
    audited = len(deps) - len(older) - len(unreached)
    if not vulnerable:
        lines.append(f"pip-audit: {audited} locked dependencies audited, no known vulnerabilities.")
    if vulnerable or (unreached and not offline):
        return 1, lines
    return 0, lines


def pip_audit(lock: Path = LOCK) -> Mapping[str, Any] | str:
    """pip-audit's JSON report over the lock file, or why there is none."""
    command = [
        *(sys.executable, "-m", "pip_audit", "--requirement", str(lock)),
        *("--require-hashes", "--disable-pip", "--vulnerability-service", "pypi"),
        *("--format", "json", "--progress-spinner", "off"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(completed.stdout)
    except ValueError:
        return completed.stderr.strip() or "pip-audit produced no report"


def main() -> int:
    offline = os.environ.get(OFFLINE_SETTING) == "1"
    report = pip_audit()
    if isinstance(report, str):
        print(f"DEPENDENCY AUDIT FAILED: pip-audit could not run:\n{report}", file=sys.stderr)
        return 0 if offline else 1
    code, lines = verdict(complete(report, fetch_project), offline=offline)
    print("\n".join(lines), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
