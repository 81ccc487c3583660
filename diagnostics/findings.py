"""The one record shape every rule returns, and the words people read in it.

Every finding says what is wrong (title), why (detail), who must act (owner) and exactly what to
do (remediation), with a doc link. ``key`` is unique within a report (rule id plus its subject) so
two runs can be compared finding by finding; ``id`` is the stable rule id of report.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from diagnostics.catalogue import MULESIGHT_DOCS, MULESOFT_CONNECTED_APPS_DOC, MULESOFT_SCOPES_DOC
from diagnostics.model import Environment

OWNERS = ("customer_admin", "mulesight_support", "mulesight_engineering", "mulesoft")
OWNER_LABELS = {
    "customer_admin": "Your Anypoint / Confluence administrator",
    "mulesight_support": "MuleSight support",
    "mulesight_engineering": "MuleSight engineering",
    "mulesoft": "MuleSoft (upstream platform)",
}
STATUS_ORDER = {"fail": 0, "warn": 1}

CONNECTION_SETTINGS = "Confluence → Space settings → Integrations → MuleSight → Connection"
CONNECTED_APP_SCOPES = (
    "Anypoint Platform → Access Management → Connected Apps → (MuleSight's app) → Manage Scopes"
)
DOC_CACHE = f"{MULESIGHT_DOCS}/caches-and-refresh"
DOC_MACROS = f"{MULESIGHT_DOCS}/macros"
DOC_DIAGNOSTICS = f"{MULESIGHT_DOCS}/diagnostics"
DOC_SCOPES = MULESOFT_SCOPES_DOC
DOC_CONNECTED_APPS = MULESOFT_CONNECTED_APPS_DOC


@dataclass
class Finding:
    id: str
    subject: str
    status: str
    title: str
    detail: str
    remediation: str
    owner: str
    datasets: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    macros: list[int] = field(default_factory=list)
    doc_url: str | None = None
    cause: str | None = None  # the key of the finding that causes this one

    @property
    def key(self) -> str:
        return f"{self.id}:{self.subject}" if self.subject else self.id

    def to_report(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "remediation": self.remediation,
            "owner": self.owner,
            "owner_label": OWNER_LABELS[self.owner],
            "datasets": list(self.datasets),
            "scopes": list(self.scopes),
            "macros": list(self.macros),
            "doc_url": self.doc_url,
            "cause": self.cause,
        }


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Worst first; within a status, root causes before the findings they cause."""
    return sorted(findings, key=lambda f: (STATUS_ORDER[f.status], f.cause is not None))


def describe_places(places: Sequence[str], environments: Sequence[Environment]) -> str:
    """'Production (env-prod), Sandbox (env-sbx)' or 'the organization'."""
    names = {e.id: e.name for e in environments}
    words = [
        "the organization" if p == "organization" else f"{names[p]} ({p})" if p in names else p
        for p in places
    ]
    return ", ".join(words) if words else "every environment"


def grant_scope_remediation(scope: str, where: str) -> str:
    return (
        f"In {CONNECTED_APP_SCOPES}, add the scope `{scope}` for {where}, save, then open "
        f"{CONNECTION_SETTINGS} and run diagnostics again. Scopes apply to new tokens only: "
        "MuleSight picks them up within an hour, or at once after Test connection."
    )
