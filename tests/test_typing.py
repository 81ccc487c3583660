"""The type checker passes: strict on the engine (``diagnostics/``) and on the service (``app/``).

``mypy`` runs with the settings in pyproject.toml (``[tool.mypy]``), so this test and
``.venv/bin/mypy`` at the repository root agree. Every ``type: ignore`` left in the code names
its error code (mypy enforces it) and says why on the same line (checked here).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("app", "diagnostics")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"^\[[a-z-]+(,\s*[a-z-]+)*\]\s+#\s*\S")


def test_mypy_finds_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # where pyproject.toml names the packages and the cache lives
    report, errors, status = api.run([])
    assert status == 0, f"mypy found errors:\n{report}{errors}"
    assert "Success: no issues found" in report


def explained(line: str) -> bool:
    """True unless ``line`` has a ``type: ignore`` without an error code and a reason."""
    match = IGNORE.search(line)
    return match is None or EXPLAINED.match(match["rest"].strip()) is not None


def unexplained_ignores() -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in CHECKED
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if not explained(line)
    ]


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    assert unexplained_ignores() == [], "write `# type: ignore[code]  # why` on one line"


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("x = f()  # type: ignore", False),
        ("x = f()  # type: ignore[arg-type]", False),
        ("x = f()  # type: ignore  # the stub is wrong", False),
        ("x = f()  # type: ignore[arg-type]  # the stub is narrower than the library", True),
        ("x = f()  # type: ignore[arg-type, assignment]  # see above", True),
        ("x = f()", True),
    ],
)
def test_the_ignore_check_tells_explained_from_unexplained(line: str, ok: bool) -> None:
    assert explained(line) is ok
