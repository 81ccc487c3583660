"""What every renderer shares: words and symbols, and the look-ups over ``report.data`` that
:meth:`diagnostics.render.view.ReportView.from_data` makes once (renderers read the view).

Nothing here decides a status. A *tone* (good / warn / bad / neutral) is only how an enum value the
report already holds is shown; the mapping follows report.md's finding rules (``stale`` and
``never`` are warnings, ``expired`` fails, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from diagnostics.catalogue import DATASETS_BY_KEY
from diagnostics.findings import mentions, people_time
from diagnostics.findings import page_url as _page_url
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
DEFAULT_ZONE = "Australia/Melbourne"
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
PEOPLE_TIMES = frozenset({"timestamp", "last_refresh"})  # ticket details that are times


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


def zone_of(data: Data) -> str:
    """The site's time zone (the report's ticket details say which)."""
    details = data.get("ticket_details") or {}
    return str(details.get("timezone") or DEFAULT_ZONE)


def when(data: Data, iso: Any) -> str | None:
    """An ISO time of the report for people: ``23 Nov 2026 09:55 AEDT``; None when unknown."""
    return people_time(iso, zone_of(data)) if iso else None


def page_url(data: Data, page_id: Any) -> str | None:
    """The Confluence page with ``page_id`` on the report's site (site URL + page id)."""
    return _page_url(safe_url(data.get("site_url")), str(page_id) if page_id else None)


@dataclass(frozen=True)
class Group:
    """A root cause (numbered from 1) and the findings that follow from it, in report order."""

    number: int
    root: Data
    consequences: list[Data] = field(default_factory=list)

    @property
    def affects(self) -> Mapping[str, int]:
        return self.root.get("affects") or {}


def groups(data: Data) -> list[Group]:
    """The report's findings folded under their root causes, in the engine's order.

    The engine lists each root cause followed by what it causes, roots worst first
    (``root_causes``); a finding names its root in ``root``. Nothing is re-sorted here.
    """
    findings = list(data.get("findings", []))
    by_key = {f.get("key"): f for f in findings}
    roots = [by_key[k] for k in data.get("root_causes", []) if k in by_key] or [
        f for f in findings if not f.get("cause")
    ]
    out = {r.get("key"): Group(i, r) for i, r in enumerate(roots, start=1)}
    for f in findings:
        if f.get("cause") and _root_key(f, by_key) in out:
            out[_root_key(f, by_key)].consequences.append(f)
    return list(out.values())


def _root_key(finding: Data, by_key: Mapping[Any, Data]) -> Any:
    if finding.get("root"):
        return finding["root"]
    seen, current = set(), finding
    while current.get("cause") in by_key and current.get("key") not in seen:
        seen.add(current.get("key"))
        current = by_key[current["cause"]]
    return current.get("key")


def group_refs(data: Data, found: Sequence[Group], field_name: str) -> dict[Any, list[int]]:
    """Which root causes (by number) fold the findings that name each dataset key / scope /
    macro index, as the engine listed them (``root_causes`` of each item)."""
    numbers = {g.root.get("key"): g.number for g in found}
    named = _named(data, found, field_name)
    return {
        item: [numbers[k] for k in mention["root_causes"] if k in numbers]
        for item, mention in named.items()
    }


def _named(data: Data, found: Sequence[Group], field_name: str) -> dict[Any, Data]:
    """The engine's ``finding_status`` and ``root_causes`` of each item.

    A report stored before the engine set them is read with the engine's own function.
    """
    items = data.get(field_name) or {}
    entries = list(items.items()) if isinstance(items, Mapping) else list(enumerate(items))
    if entries and all("root_causes" in item for _key, item in entries):
        return {key: item for key, item in entries if item.get("root_causes")}
    ordered = [{**f, "root": g.root.get("key")} for g in found for f in (g.root, *g.consequences)]
    return dict(mentions(ordered, field_name))


def group_status(g: Group) -> str:
    """The worst status of a root cause's group, as the engine put it on the root.

    A report stored before the engine said so is read from its findings' own statuses.
    """
    if g.root.get("group_status"):
        return str(g.root["group_status"])
    statuses = {f.get("status") for f in (g.root, *g.consequences)}
    return "fail" if "fail" in statuses else "warn"


def tone(table: Mapping[str, str], value: Any) -> str:
    return table.get(str(value), "neutral")


def counts(data: Data) -> tuple[int, int]:
    """(failures, warnings) as the engine counted them (``summary``)."""
    summary = data.get("summary") or {}
    return int(summary.get("fail") or 0), int(summary.get("warn") or 0)


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{n} {singular if n == 1 else many or singular + 's'}"


def tally(data: Data) -> str:
    """``3 failures, 2 warnings``."""
    fails, warns = counts(data)
    return f"{plural(fails, 'failure')}, {plural(warns, 'warning')}"


def headline(data: Data) -> str:
    """``1 thing to fix (26 findings follow from it; 23 failures, 4 warnings)``."""
    summary = data.get("summary") or {}
    roots = int(summary.get("root_causes") or len(data.get("root_causes") or []))
    if not roots:
        return "nothing to fix (every check passed)"
    follow = int(summary.get("consequences") or 0)
    text = plural(roots, "thing") + " to fix"
    if follow:
        text += f" ({plural(follow, 'finding')} follow{'s' if follow == 1 else ''} from "
        text += "it" if roots == 1 else "them"
        text += f"; {tally(data)})"
    else:
        text += f" ({tally(data)})"
    return text


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


def dataset_name(data: Data, key: str) -> str | None:
    """The human name of a dataset, when the report gives one."""
    dataset = data.get("datasets", {}).get(key) or {}
    return str(dataset["name"]) if dataset.get("name") else None


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
        (TICKET_LABELS.get(k, k.replace("_", " ").capitalize()), detail_text(data, k, details[k]))
        for k in keys
    ]


def detail_text(data: Data, key: str, value: Any) -> str:
    """A ticket detail in words: times for people, dataset names, cache and coverage words."""
    if value in (None, "", []):
        return NOT_KNOWN
    if key in PEOPLE_TIMES:
        return when(data, value) or NOT_KNOWN
    if key == "dataset_type":
        return dataset_name(data, str(value)) or str(value)
    if key == "cache_freshness":
        return word(value, FRESHNESS_WORDS)
    if key == "diagnostics_coverage":
        return word(value, COVERAGE_WORDS)
    return value_text(value)


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


def scope_checked(scope: Data) -> bool:
    """False only when the engine says the scope was not checked in this run."""
    return scope.get("checked") is not False


def scope_status_text(scope: Data) -> str:
    """A scope's status in words: an unverified scope *could not be checked*, never missing."""
    if not scope_checked(scope):
        return "not needed in this run"
    if scope.get("status") != "full" and (
        scope.get("verified") is False or not scope.get("missing_in")
    ):
        return (
            "could not be checked"
            if scope.get("verified") is False
            else "could not be checked everywhere"
        )
    return word(scope.get("status"), SCOPE_WORDS)


def item_tones(data: Data, found: Sequence[Group], field_name: str) -> dict[Any, str]:
    """The worst status of the findings that name each item (the engine's), as a tone."""
    return {
        item: tone(FINDING_TONES, mention.get("finding_status"))
        for item, mention in _named(data, found, field_name).items()
    }


def item_tone(own: str, from_findings: str | None) -> str:
    """How to mark an item: the worst finding that names it, else ✓ for a good own status, else –.

    The renderer never makes an item look worse than the report's findings say.
    """
    if from_findings:
        return from_findings
    return "good" if own == "good" else "neutral"
