"""What every renderer shares: words, symbols and small lookups over ``report.data``.

Nothing here decides a status. A *tone* (good / warn / bad / neutral) is only how an enum value the
report already holds is shown; the mapping follows report.md's finding rules (``stale`` and
``never`` are warnings, ``expired`` fails, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from diagnostics.findings import OWNER_LABELS
from diagnostics.report import Report

Data = Mapping[str, Any]

SYMBOLS = {"good": "✓", "warn": "!", "bad": "✗", "neutral": "–"}
TONE_RANK = {"good": 0, "neutral": 0, "warn": 1, "bad": 2}

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
FAILED_CALL_WORDS = {"forbidden": "refused", "timeout": "timed out", "other": "failed"}

TICKET_LABELS = {
    "customer_site_url": "Customer site URL",
    "timestamp": "Timestamp",
    "timezone": "Timezone",
    "affected_module": "Affected module",
    "organization_id": "MuleSoft organization",
    "environments": "Environments",
    "dataset_type": "Dataset type",
    "last_refresh": "Last refresh",
    "cache_freshness": "Cache freshness",
    "diagnostics_coverage": "Diagnostics coverage",
}
# Required by the support policy, but only the reporter can give them.
BY_HAND = {
    "reproduction_steps": "reproduction steps",
    "screenshots_or_logs": "screenshots or log snippets without sensitive data",
}
NOT_KNOWN = "not known"


def data_of(report: Report | Data) -> Data:
    """The contract JSON of a :class:`Report` (a plain mapping is taken as it is)."""
    return report.data if isinstance(report, Report) else report


def word(value: Any) -> str:
    """An enum value as people read it (``not_applicable`` → ``not applicable``)."""
    if value is None:
        return NOT_KNOWN
    return str(value).replace("_", " ")


def tone(table: Mapping[str, str], value: Any) -> str:
    return table.get(str(value), "neutral")


def worst(tones: Iterable[str]) -> str | None:
    ranked = sorted(tones, key=TONE_RANK.__getitem__, reverse=True)
    return ranked[0] if ranked else None


def owner_label(finding: Data) -> str:
    """Who must act, in plain words."""
    owner = str(finding.get("owner", ""))
    return str(finding.get("owner_label") or OWNER_LABELS.get(owner, owner))


def ordered_findings(data: Data) -> list[tuple[int, Data]]:
    """Findings worst first (fail, then warn; the report's order within a status), numbered 1..n."""
    findings = sorted(data.get("findings", []), key=lambda f: f.get("status") != "fail")
    return list(enumerate(findings, start=1))


def finding_refs(numbered: Sequence[tuple[int, Data]], field: str) -> dict[Any, list[int]]:
    """Which findings (by number) name each dataset key / scope / macro index."""
    refs: dict[Any, list[int]] = {}
    for number, finding in numbered:
        for item in finding.get(field) or []:
            refs.setdefault(item, []).append(number)
    return refs


def cause_of(finding: Data, numbered: Sequence[tuple[int, Data]]) -> tuple[int, Data] | None:
    """The finding that ``finding['cause']`` names (by its key, else by its rule id)."""
    cause = finding.get("cause")
    if not cause:
        return None
    for attr in ("key", "id"):
        for number, other in numbered:
            if other is not finding and other.get(attr) == cause:
                return number, other
    return None


def counts(data: Data) -> tuple[int, int]:
    """(failures, warnings): the report's summary when it has one, else its findings."""
    summary = data.get("summary")
    if isinstance(summary, Mapping) and "fail" in summary and "warn" in summary:
        return int(summary["fail"]), int(summary["warn"])
    findings = data.get("findings", [])
    return (
        sum(f.get("status") == "fail" for f in findings),
        sum(f.get("status") == "warn" for f in findings),
    )


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{n} {singular if n == 1 else many or singular + 's'}"


def tally(data: Data) -> str:
    """``3 failures, 2 warnings``."""
    fails, warns = counts(data)
    return f"{plural(fails, 'failure')}, {plural(warns, 'warning')}"


def environment_names(data: Data) -> dict[str, str]:
    return {str(e.get("id")): str(e.get("name")) for e in data.get("environments", [])}


def place(place_id: str, names: Mapping[str, str]) -> str:
    """An entry of ``missing_in``: ``Production (env-prod)`` or ``the organization``."""
    if place_id == "organization":
        return "the organization"
    return f"{names[place_id]} ({place_id})" if place_id in names else place_id


def places(ids: Iterable[str], names: Mapping[str, str]) -> str:
    return ", ".join(place(i, names) for i in ids)


def dataset_name(data: Data, key: str) -> str | None:
    """The human name of a dataset, when the report gives one."""
    dataset = data.get("datasets", {}).get(key) or {}
    return str(dataset["name"]) if dataset.get("name") else None


def macro_label(macro: Data) -> str:
    """``api-manager-instance (security) on page 12345 “Payments APIs”``."""
    mode = f" ({macro['mode']})" if macro.get("mode") else ""
    title = f" “{macro['page_title']}”" if macro.get("page_title") else ""
    return f"{macro.get('macro')}{mode} on page {macro.get('page_id')}{title}"


def safe_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL, else ``None`` (never link anything else)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def value_text(value: Any) -> str:
    """Any ticket-detail value as one line of text."""
    if value is None or value == "" or value == []:
        return NOT_KNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    return str(value)


def ticket_rows(data: Data) -> list[tuple[str, str]]:
    """(label, value) for each ticket detail, contract ones first, extras after."""
    details = data.get("ticket_details") or {}
    keys = [k for k in TICKET_LABELS if k in details] + [
        k for k in details if k not in TICKET_LABELS
    ]
    return [
        (TICKET_LABELS.get(k, k.replace("_", " ").capitalize()), value_text(details[k]))
        for k in keys
    ]


def by_hand(data: Data) -> list[str]:
    """Required ticket details that the reporter still has to add."""
    details = data.get("ticket_details") or {}
    return [text for key, text in BY_HAND.items() if not details.get(key)]


def redaction_text(data: Data) -> str:
    redactions = data.get("redactions") or {}
    count = int(redactions.get("count") or 0)
    if not count:
        return "No secret value needed removing."
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted((redactions.get("kinds") or {}).items()))
    removed = plural(count, "secret value")
    return f"{removed} removed before this report was written" + (f" ({kinds})." if kinds else ".")


def duration(ms: Any) -> str:
    """``840 ms`` or ``2.4 s``; empty when unknown."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return ""
    if ms < 1:
        return "<1 ms"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def run_timing(data: Data) -> str:
    """``took 2.4 s (deadline 20 s)``; empty when the report does not say."""
    took = duration(data.get("elapsed_ms"))
    deadline = data.get("deadline_s")
    limit = f"deadline {deadline:g} s" if isinstance(deadline, int | float) else ""
    if took and limit:
        return f"took {took} ({limit})"
    return f"took {took}" if took else limit


def organization_text(data: Data) -> str:
    """``Acme Corp (org-id)``, the id alone, or ``not known``."""
    org_id, name = data.get("organization_id"), data.get("organization_name")
    if name and org_id:
        return f"{name} ({org_id})"
    return str(name or org_id or NOT_KNOWN)


def upstream(data: Data) -> Data | None:
    """The upstream block when it suspects MuleSoft or flags maintenance, else ``None``."""
    up = data.get("upstream")
    if isinstance(up, Mapping) and (up.get("suspected") or up.get("in_maintenance_window")):
        return up
    return None


def upstream_text(up: Data) -> str:
    plane = up.get("control_plane") or "the"
    page = safe_url(up.get("status_page"))
    text = f"Upstream outage suspected on the {plane} control plane"
    text += f": check {page} for an incident." if page else "."
    if up.get("in_maintenance_window"):
        text += " The failure falls inside MuleSoft's scheduled maintenance window."
    return text


def dataset_reason(dataset: Data) -> str:
    reason = dataset.get("reason")
    return str(reason).replace("_", " ") if reason else ""


def scope_checked(scope: Data) -> bool:
    """False only when the engine says the scope was not checked in this run."""
    return scope.get("checked") is not False


def item_tone(
    own: str, finding_numbers: Sequence[int], numbered: Sequence[tuple[int, Data]]
) -> str:
    """How to mark an item: the worst finding that names it, else ✓ for a good own status, else –.

    The renderer never makes an item look worse than the report's findings say.
    """
    status = {n: f.get("status") for n, f in numbered}
    from_findings = worst(tone(FINDING_TONES, status.get(n)) for n in finding_numbers)
    if from_findings:
        return from_findings
    return "good" if own == "good" else "neutral"
