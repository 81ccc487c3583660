"""The one record shape every rule returns, the one shape of a check, and how findings fold.

Every finding says what is wrong (title), why (detail), who must act (owner) and exactly what to
do (remediation), with a doc link. ``key`` is unique within a report (rule id plus its subject) so
two runs can be compared finding by finding; ``id`` is the stable rule id of report.md.

``cause`` names the finding this one follows from (report.md, "Root causes"). The rules set it;
:func:`arrange_findings` then makes the chain hold (every cause exists, no loop), gives each
consequence the owner of its root cause, orders the findings root cause first, worst first, with
each root's consequences right after it (level by level down the cause chain, worst first among
the consequences of one finding), and counts once what each root cause affects and the worst status
of its group. Renderers read that order and those counts; they never re-sort or recount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from diagnostics.catalogue import MULESIGHT_DOCS, MULESOFT_CONNECTED_APPS_DOC, MULESOFT_SCOPES_DOC
from diagnostics.model import Environment
from diagnostics.statuses import CheckStatus, FindingStatus, Owner, Verdict


class Audience(StrEnum):
    """Who reads a rendering: it decides how the customer's admin is named."""

    ADMIN = "admin"  # the Confluence / Anypoint admin, on the self-check page
    SUPPORT = "support"  # a support engineer: console, ticket comments, CLI, attachments


OWNERS = tuple(o.value for o in Owner)
OWNER_LABELS = {
    "customer_admin": "The customer's Anypoint / Confluence admin",
    "mulesight_support": "MuleSight support",
    "mulesight_engineering": "MuleSight engineering",
    "mulesoft": "MuleSoft (upstream platform)",
}
ADMIN_OWNER_LABELS = {**OWNER_LABELS, "customer_admin": "You (Anypoint / Confluence admin)"}
STATUS_ORDER = {FindingStatus.FAIL: 0, FindingStatus.WARN: 1}

CONNECTION_SETTINGS = "Confluence → Space settings → Integrations → MuleSight → Connection"
CONNECTED_APP_SCOPES = (
    "Anypoint Platform → Access Management → Connected Apps → (MuleSight's app) → Manage Scopes"
)
DOC_CACHE = f"{MULESIGHT_DOCS}/caches-and-refresh"
DOC_MACROS = f"{MULESIGHT_DOCS}/macros"
DOC_DIAGNOSTICS = f"{MULESIGHT_DOCS}/diagnostics"
DOC_SCOPES = MULESOFT_SCOPES_DOC
DOC_CONNECTED_APPS = MULESOFT_CONNECTED_APPS_DOC


def owner_label(owner: str, audience: str = Audience.SUPPORT) -> str:
    """Who must act, in the words of the reader (an admin reads "You")."""
    labels = ADMIN_OWNER_LABELS if audience == Audience.ADMIN else OWNER_LABELS
    return labels.get(owner, owner)


def people_time(moment: datetime | str | None, zone: str) -> str | None:
    """A time for people: ``23 Nov 2026 09:55 AEDT`` (the site's zone, to the minute)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment.tzinfo is None:
        return moment.strftime("%d %b %Y %H:%M")
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%d %b %Y %H:%M} {local.tzname()}"


@dataclass
class Finding:
    """One finding. ``after_fix`` is the step left once its cause is fixed (reload the page)."""

    id: str
    subject: str
    status: FindingStatus
    title: str
    detail: str
    remediation: str
    owner: Owner
    datasets: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    macros: list[int] = field(default_factory=list)
    doc_url: str | None = None
    cause: str | None = None  # the key of the finding that causes this one
    after_fix: str | None = None
    root: str | None = None  # set by arrange_findings: the root cause the chain ends at
    affects: dict[str, int] | None = None  # set by arrange_findings on root causes
    group_status: FindingStatus | None = None  # root causes: the worst status of the group

    def __post_init__(self) -> None:
        self.status = FindingStatus(self.status)
        self.owner = Owner(self.owner)

    @property
    def key(self) -> str:
        return f"{self.id}:{self.subject}" if self.subject else self.id

    def to_report(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "status": self.status.value,
            "title": self.title,
            "detail": self.detail,
            "remediation": self.remediation,
            "owner": self.owner.value,
            "owner_label": OWNER_LABELS[self.owner],
            "datasets": list(self.datasets),
            "scopes": list(self.scopes),
            "macros": list(self.macros),
            "doc_url": self.doc_url,
            "cause": self.cause,
            "root": self.root or self.key,
        }
        if self.affects is not None:
            data["affects"] = dict(self.affects)
        if self.group_status is not None:
            data["group_status"] = FindingStatus(self.group_status).value
        return data


@dataclass(frozen=True)
class Check:
    """One check (a rule run): its status and, when the rule crashed, the error it raised."""

    id: str
    title: str
    status: CheckStatus
    elapsed_ms: float | None
    error: str | None = None

    def to_report(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": CheckStatus(self.status).value,
            "elapsed_ms": self.elapsed_ms,
        }
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class Arranged:
    """Findings in reading order, the root causes worst first, and the counts of the run."""

    findings: list[Finding]
    root_causes: list[str]
    verdict: Verdict
    summary: dict[str, int]


def arrange_findings(findings: Sequence[Finding], checks: Iterable[Check] = ()) -> Arranged:
    """Make the cause chain hold, fold consequences under their roots and count once."""
    by_key = {f.key: f for f in findings}
    for f in findings:
        if f.cause is not None and (f.cause not in by_key or f.cause == f.key):
            f.cause = None
    for f in findings:
        _break_loop(f, by_key)
    groups: dict[str, list[Finding]] = {f.key: [] for f in findings if f.cause is None}
    for f in findings:
        root = _root_of(f, by_key)
        f.root = root.key
        if f is not root:
            f.owner = root.owner
            f.remediation = _follow_up(f, root)
            groups[root.key].append(f)
    roots = sorted(
        (by_key[k] for k in groups),
        key=lambda r: (
            min(STATUS_ORDER[x.status] for x in (r, *groups[r.key])),
            -len(groups[r.key]),
            STATUS_ORDER[r.status],
        ),
    )
    ordered: list[Finding] = []
    for root in roots:
        members = groups[root.key]
        root.affects = _affects(root, members)
        root.group_status = min((root, *members), key=lambda x: STATUS_ORDER[x.status]).status
        ordered.append(root)
        ordered += _by_depth(root, members)
    fails = sum(f.status == FindingStatus.FAIL for f in ordered)
    warns = len(ordered) - fails
    verdict = Verdict.BROKEN if fails else Verdict.DEGRADED if warns else Verdict.HEALTHY
    summary = {
        "fail": fails,
        "warn": warns,
        "pass": sum(c.status == CheckStatus.PASS for c in checks),
        "root_causes": len(roots),
        "consequences": len(ordered) - len(roots),
    }
    return Arranged(ordered, [r.key for r in roots], verdict, summary)


def mentions(findings: Sequence[Mapping[str, Any]], field_name: str) -> dict[Any, dict[str, Any]]:
    """For each dataset key, scope or macro index the findings name: the worst status among them
    (``finding_status``) and the root causes they fold under, in report order (``root_causes``).

    Read over the arranged report's findings, so that renderers look these up instead of working
    them out.
    """
    out: dict[Any, dict[str, Any]] = {}
    for f in findings:
        for item in f.get(field_name) or []:
            mention = out.setdefault(item, {"finding_status": f["status"], "root_causes": []})
            if f["status"] == FindingStatus.FAIL:
                mention["finding_status"] = FindingStatus.FAIL.value
            root = f.get("root") or f["key"]
            if root not in mention["root_causes"]:
                mention["root_causes"].append(root)
    return out


def _break_loop(finding: Finding, by_key: dict[str, Finding]) -> None:
    seen = {finding.key}
    current = finding
    while current.cause is not None:
        if current.cause in seen:
            current.cause = None
            return
        seen.add(current.cause)
        current = by_key[current.cause]


def _root_of(finding: Finding, by_key: dict[str, Finding]) -> Finding:
    current = finding
    while current.cause is not None:
        current = by_key[current.cause]
    return current


def _by_depth(root: Finding, members: Sequence[Finding]) -> list[Finding]:
    """A root's consequences level by level down the cause chain: its direct consequences
    first, then theirs (in their causes' order), worst first among the consequences of one
    finding (rule order breaks ties)."""
    children: dict[str | None, list[Finding]] = {}
    for f in members:
        children.setdefault(f.cause, []).append(f)
    ordered: list[Finding] = []
    level = [root]
    while level:
        level = [
            child
            for parent in level
            for child in sorted(children.get(parent.key, []), key=lambda x: STATUS_ORDER[x.status])
        ]
        ordered += level
    return ordered


def _follow_up(finding: Finding, root: Finding) -> str:
    """A consequence's remediation: it follows from the root cause, whose fix is said once."""
    if finding.after_fix:
        return f"Follows from “{root.title}”: fix that first, then {finding.after_fix}"
    return f"Follows from “{root.title}”: fixing that fixes this too."


def _affects(root: Finding, members: Sequence[Finding]) -> dict[str, int]:
    group = (root, *members)
    return {
        "findings": len(members),
        "datasets": len({d for f in group for d in f.datasets}),
        "scopes": len({s for f in group for s in f.scopes}),
        "macros": len({m for f in group for m in f.macros}),
    }


def page_name(page_id: str | None, title: str | None) -> str:
    """A Confluence page as people name it: its title, or its id when the title is unknown."""
    if title:
        return f"“{title}”"
    return f"the page with id {page_id}" if page_id else "an unknown page"


def page_url(site_url: str | None, page_id: str | None) -> str | None:
    """The Confluence page with ``page_id`` on the site (site URL + page id), when both are known."""
    if not site_url or not page_id:
        return None
    base = site_url.strip().rstrip("/")
    base = base if base.endswith("/wiki") else f"{base}/wiki"
    return f"{base}/pages/viewpage.action?pageId={page_id}"


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
