"""The report's ticket details (``ticket_details``) in words: the ticket section of every rendering
(read through :class:`~diagnostics.render.view.ReportView`) and the pages' ticket preview.

Times are for people in the report's zone, datasets by name, cache and coverage states in the
renderers' words (:mod:`diagnostics.render._common`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostics.findings import people_time
from diagnostics.render._common import COVERAGE_WORDS, FRESHNESS_WORDS, NOT_KNOWN, Data, word
from diagnostics.ticket_details import SUPPORT_TIMEZONE

LABELS = {
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
PEOPLE_TIMES = frozenset({"timestamp", "last_refresh"})  # ticket details that are times


def zone_of(data: Data) -> str:
    """The site's time zone (the report's ticket details say which; the support zone if not)."""
    details = data.get("ticket_details") or {}
    return str(details.get("timezone") or SUPPORT_TIMEZONE)


def rows(data: Data) -> list[tuple[str, str]]:
    """(label, value) for each ticket detail, contract ones first, extras after."""
    details = data.get("ticket_details") or {}
    keys = [k for k in LABELS if k in details] + [k for k in details if k not in LABELS]
    return [
        (LABELS.get(k, k.replace("_", " ").capitalize()), detail_text(data, k, details[k]))
        for k in keys
    ]


def by_hand(data: Data) -> list[str]:
    """Required ticket details that the reporter still has to add."""
    details = data.get("ticket_details") or {}
    return [text for key, text in BY_HAND.items() if not details.get(key)]


def detail_text(data: Data, key: str, value: Any) -> str:
    """A ticket detail in words: times for people, dataset names, cache and coverage words."""
    if value in (None, "", []):
        return NOT_KNOWN
    if key in PEOPLE_TIMES:
        return (people_time(value, zone_of(data)) if value else None) or NOT_KNOWN
    if key == "dataset_type":
        return _dataset_name(data, str(value)) or str(value)
    if key == "cache_freshness":
        return word(value, FRESHNESS_WORDS)
    if key == "diagnostics_coverage":
        return word(value, COVERAGE_WORDS)
    return value_text(value)


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


def _dataset_name(data: Data, key: str) -> str | None:
    """The human name of a dataset, when the report gives one."""
    dataset = data.get("datasets", {}).get(key) or {}
    return str(dataset["name"]) if dataset.get("name") else None
