"""No rendering shows internal words in its prose: enum values, keys, probe ids, ISO times.

Identifiers people may copy stay, as code (a scope name, a path, a dataset key in a code span,
link targets); everything a person reads as a sentence or a table cell uses plain words. Pages
are named by their title and linked where the report knows the site.
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from typing import Any

import pytest

from diagnostics.catalogue import DATASET_KEYS, MACRO_DATASETS, PROBES_BY_KEY
from diagnostics.findings import OWNERS
from diagnostics.render import render
from diagnostics.report import Report
from diagnostics.simulator import builtin_scenarios, load_scenario
from tests.diagnostics.test_engine_scenarios import run_scenario

# The benchmark organization is healthy and large: its renderings add nothing here.
SCENARIOS = [name for name, _ in builtin_scenarios() if name != "large-organization"]
PROSE_FORMATS = ("text", "markdown", "html", "ticket")
ENUM_WORDS = (
    "auth_blocked",
    "not_applicable",
    "stale_fallback",
    "rate_limited",
    "not_rendered",
    "source_incomplete",
    "no_environments",
    "not_selected",
    "not_needed",
    "none coverage",
    "partial coverage",
)
RULE_IDS = (
    "credentials.invalid",
    "anypoint.destination_refused",
    "upstream.outage",
    "anypoint.unreachable",
    "scope.missing",
    "scope.partial",
    "scope.unverified",
    "dataset.none",
    "dataset.partial",
    "dataset.disabled",
    "cache.expired",
    "cache.stale",
    "cache.never",
    "macro.error",
    "macro.timeout",
    "macro.stale",
    "run.deadline",
)
FORBIDDEN = (
    *ENUM_WORDS,
    *OWNERS,
    *(k for k in DATASET_KEYS if "_" in k),
    *{macro for macro, _mode in MACRO_DATASETS},
    *PROBES_BY_KEY,
    *RULE_IDS,
)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
BARE_PAGE = re.compile(r"\bpage \d+\b")


class _Prose(HTMLParser):
    """The visible text of a page, without code, styles or attribute values."""

    SKIP = frozenset({"code", "style", "script", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skipping += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self._skipping -= tag in self.SKIP and self._skipping > 0

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def prose(text: str, fmt: str) -> str:
    """What a person reads as words in ``text``: code spans, URLs and markup taken out."""
    if fmt == "html":
        parser = _Prose()
        parser.feed(text)
        text = " ".join(parser.chunks)
    elif fmt == "markdown":
        text = re.sub(r"`[^`]*`", " ", text)
        text = re.sub(r"\]\(<[^>]*>\)", "]", text)
        text = re.sub(r"<https?://[^>]*>", " ", text)
    elif fmt == "ticket":
        text = re.sub(r"\{\{.*?\}\}", " ", text)
        text = re.sub(r"\[([^|\]]*)\|[^\]]*\]", r"\1", text)
        text = re.sub(r"\[https?://[^\]]*\]", " ", text)
    else:
        text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    return text.replace("\\_", "_")


@cache
def scenario_report(name: str) -> Report:
    return run_scenario(load_scenario(name))


def offenders(text: str) -> list[str]:
    found = [word for word in FORBIDDEN if re.search(rf"(?<![\w./:-]){re.escape(word)}\b", text)]
    found += ISO_TIME.findall(text) + BARE_PAGE.findall(text)
    return found


@pytest.mark.parametrize("audience", ["support", "admin"])
@pytest.mark.parametrize("fmt", PROSE_FORMATS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_no_raw_token_in_prose(name: str, fmt: str, audience: str) -> None:
    shown = prose(render(scenario_report(name), fmt, audience=audience), fmt)
    assert offenders(shown) == []


def test_the_scan_finds_raw_tokens() -> None:
    sample: dict[str, Any] = {"text": "Coverage: auth_blocked at 2026-11-23T10:00 on page 98304"}
    assert offenders(sample["text"]) == ["auth_blocked", "2026-11-23T10:00", "page 98304"]
    assert offenders(prose("see `api_manager` and <https://x.test/api_manager>", "markdown")) == []
