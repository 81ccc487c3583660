"""The renderers' shared vocabulary: the words and symbols for the enum values a report holds, and
small formatting helpers (a place, a duration, a URL that may be linked).

Nothing here decides a status. A *tone* (good / warn / bad / neutral) is only how an enum value the
report already holds is shown; the mapping follows report.md's finding rules (``stale`` and
``never`` are warnings, ``expired`` fails, ...). What a report's data says in sentences is read
once into :class:`diagnostics.render.view.ReportView`; its ticket details are
:mod:`diagnostics.render.details`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from diagnostics.catalogue import DATASETS_BY_KEY
from diagnostics.report import Report

Data = Mapping[str, Any]

SYMBOLS = {"good": "✓", "warn": "!", "bad": "✗", "neutral": "–"}

VERDICT_TONES = {"healthy": "good", "degraded": "warn", "broken": "bad"}
FINDING_TONES = {"fail": "bad", "warn": "warn"}
CHECK_TONES = {"pass": "good", "warn": "warn", "fail": "bad", "error": "bad", "skipped": "neutral"}
COVERAGE_TONES = {"full": "good", "partial": "warn", "none": "bad"}
FRESHNESS_TONES = {
    "fresh": "good",
    "stale": "warn",
    "expired": "bad",
    "never": "warn",
    "not_applicable": "neutral",
}
MACRO_TONES = {
    "ok": "good",
    "error": "bad",
    "timeout": "warn",
    "stale": "warn",
    "not_rendered": "neutral",
}
OUTCOME_TONES = {
    "ok": "good",
    "empty": "good",
    "forbidden": "bad",
    "timeout": "bad",
    "rate_limited": "bad",
    "error": "bad",
    "skipped": "neutral",
}

FINDING_WORDS = {"fail": "FAIL", "warn": "WARN"}
VERDICT_WORDS = {"healthy": "Healthy", "degraded": "Degraded", "broken": "Broken"}
COVERAGE_WORDS = {"full": "full", "partial": "partial", "none": "no data"}
SCOPE_WORDS = {"full": "granted", "partial": "partly granted", "none": "missing"}
REASON_WORDS = {
    "auth_blocked": "refused (401/403)",
    "unreachable": "Anypoint did not answer",
    "disabled": "turned off for the space",
    "no_environments": "no environment to probe",
    "failed": "unexpected answers",
    "source_incomplete": "a source is incomplete",
    "not_selected": "not part of this run",
    "not_needed": "not needed",
}
FRESHNESS_WORDS = {
    "fresh": "fresh",
    "stale": "stale",
    "expired": "expired",
    "never": "never refreshed",
    "not_applicable": "not cached",
}
OUTCOME_WORDS = {"forbidden": "refused", "rate_limited": "rate limited", "empty": "empty list"}
CHECK_WORDS = {"pass": "passed", "warn": "warning", "fail": "failed", "error": "crashed"}
MACRO_WORDS = {"not_rendered": "not rendered yet"}
FAILED_CALL_WORDS = {"forbidden": "refused", "timeout": "timed out", "other": "failed"}

NOT_KNOWN = "not known"


def data_of(report: Report | Data) -> Data:
    """The contract JSON of a :class:`Report` (a plain mapping is taken as it is)."""
    return report.data if isinstance(report, Report) else report


def word(value: Any, words: Mapping[str, str] | None = None) -> str:
    """An enum value as people read it (``not_applicable`` → ``not applicable``)."""
    if value is None:
        return NOT_KNOWN
    if words and str(value) in words:
        return words[str(value)]
    return str(value).replace("_", " ")


def tone(table: Mapping[str, str], value: Any) -> str:
    return table.get(str(value), "neutral")


def place(place_id: str, names: Mapping[str, str]) -> str:
    """An entry of ``missing_in``: ``Production (env-prod)`` or ``the organization``."""
    if place_id == "organization":
        return "the organization"
    return f"{names[place_id]} ({place_id})" if place_id in names else place_id


def places(ids: Iterable[str], names: Mapping[str, str]) -> str:
    return ", ".join(place(i, names) for i in ids)


def dataset_impact(key: str) -> str | None:
    """What a dataset's partial data means, from the catalogue (older reports do not say)."""
    dataset = DATASETS_BY_KEY.get(key)
    return dataset.impact if dataset else None


def safe_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL, else ``None`` (never link anything else)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def duration(ms: Any) -> str:
    """``840 ms`` or ``2.4 s``; empty when unknown."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return ""
    if ms < 1:
        return "<1 ms"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
