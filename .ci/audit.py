"""Fail CI on a known vulnerability in the installed dependencies (pip-audit).

Runs ``pip-audit`` over the project's virtual environment (the project itself, installed
editable, is skipped) and exits 1 when any dependency has a known vulnerability, naming each with
its advisory and the versions that fix it. When the advisory data cannot be reached (pip-audit
then skips the dependencies instead of failing), it says loudly that nothing was audited; set
``MULESIGHT_AUDIT_STRICT=1`` to make that a failure too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def verdict(report: Mapping[str, Any], *, strict: bool = False) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a ``pip-audit -f json`` report."""
    deps: Sequence[Mapping[str, Any]] = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"VULNERABLE {dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixes})"
            )
    if vulnerable:
        return 1, [
            *lines,
            f"pip-audit: {len(vulnerable)} vulnerable dependency(ies); upgrade them.",
        ]
    if deps and audited == 0:
        lines.append(
            f"WARNING pip-audit could not reach the advisory data: none of the {len(deps)} "
            "dependencies was audited (first reason: " + str(skipped[0]["skip_reason"]) + ")."
        )
        return (1 if strict else 0), lines
    lines.append(f"pip-audit: {audited} dependencies audited, no known vulnerabilities.")
    if skipped:
        lines.append("Not audited: " + ", ".join(str(d["name"]) for d in skipped))
    return 0, lines


def main() -> int:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--skip-editable",
        "--progress-spinner",
        "off",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        print(completed.stderr.strip() or "pip-audit produced no report", file=sys.stderr)
        return 1
    code, lines = verdict(report, strict=os.environ.get("MULESIGHT_AUDIT_STRICT") == "1")
    print("\n".join(lines), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
