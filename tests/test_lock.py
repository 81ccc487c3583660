"""requirements.lock stays in step with pyproject.toml: every declared dependency (and the
`test` extra's) is pinned, hashed, and the pin satisfies the declared range. CI audits the lock
(.ci/audit.py); regenerate it as docs/security.md ("Dependencies") says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]


def pins() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = Version(match[2].rstrip("\\").strip())
    return found


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_declared_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    version = pins().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not in requirements.lock: regenerate it"
    assert requirement.specifier.contains(version, prereleases=True), (
        f"requirements.lock pins {requirement.name} {version}, outside {requirement.specifier}"
    )


def test_every_pin_is_exact_and_hashed() -> None:
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    requirements = [e for e in entries if not e.startswith("#") and e.strip()]
    assert len(requirements) == len(pins()) > 0
    for entry in requirements:
        assert PIN.match(entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, f"{entry.splitlines()[0]} has no hash"


def test_the_project_itself_is_not_in_the_lock() -> None:
    assert "mulesight-support" not in pins()
