"""The report as renderers read it: frozen, typed records parsed once from the report JSON.

:meth:`ReportView.from_data` reads a validated report (``Report.data``) once: statuses become the
enums of :mod:`diagnostics.statuses`, the engine's order, root-cause groups, group statuses, counts
and item-to-cause links are taken as the engine wrote them. A report stored before the engine wrote
some of them is read with the engine's own functions here, never in a renderer. Renderers only read
these records: they do not sort, count or decide a status. Words and symbols are
:mod:`diagnostics.render._common`'s, the ticket details in words :mod:`diagnostics.render.details`'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from diagnostics.catalogue import MACRO_MODE_NAMES, MACRO_NAMES, macro_name
from diagnostics.findings import mentions, page_name, people_time
from diagnostics.findings import owner_label as _owner_label
from diagnostics.findings import page_url as _page_url
from diagnostics.render import _common as c
from diagnostics.render import details
from diagnostics.report import Report
from diagnostics.statuses import (
    CheckStatus,
    Coverage,
    FindingStatus,
    FreshnessState,
    Outcome,
    Owner,
    RenderStatus,
    Verdict,
)

Data = Mapping[str, Any]
E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: Any) -> E | None:
    """``value`` as a member of ``kind``; None when absent or not one of its values."""
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _strs(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


@dataclass(frozen=True)
class EnvironmentView:
    id: str | None
    name: str | None
    type: str | None


@dataclass(frozen=True)
class ProbeView:
    probe: str | None
    environment_id: str | None
    method: str | None
    path: str | None
    outcome: Outcome | None
    status: int | None
    attempts: int | None
    elapsed_ms: float | None
    message: str | None


@dataclass(frozen=True)
class ItemLinks:
    """How the findings name an item (dataset, scope, macro), as the engine arranged them."""

    tone: str | None = None  # the worst status of the findings naming it, as a tone
    causes: tuple[int, ...] = ()  # the numbers of the root causes folding those findings

    def mark(self, own_tone: str) -> str:
        """The item's mark: the worst finding naming it, else ✓ for a good own status, else –.

        Never worse than the report's findings say.
        """
        if self.tone:
            return self.tone
        return "good" if own_tone == "good" else "neutral"


@dataclass(frozen=True)
class DatasetView:
    key: str
    name: str | None
    coverage: Coverage | None
    reason: str | None
    impact: str | None
    last_successful_fetch: str | None
    freshness: FreshnessState | None
    stale_fallback: bool
    failed: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, paths) in the report's order
    probes: tuple[ProbeView, ...]
    links: ItemLinks

    @property
    def reason_text(self) -> str:
        """The reason for partial / no data in words; empty when there is none."""
        return c.word(self.reason, c.REASON_WORDS) if self.reason else ""


@dataclass(frozen=True)
class ScopeView:
    key: str
    status: Coverage | None
    missing_in: tuple[str, ...]
    why_needed: str | None
    used_by: tuple[str, ...]
    validated_by: tuple[str, ...]
    impact: str | None
    checked: bool  # False only when the engine says the scope was not needed in this run
    verified: bool | None
    links: ItemLinks
    status_text: str  # an unverified scope *could not be checked*, never missing


@dataclass(frozen=True)
class MacroView:
    index: int  # from 0, as findings name it
    macro: str | None
    mode: str | None
    page_id: str | None
    page_title: str | None
    dataset: str | None
    status: RenderStatus | None
    last_rendered_at: str | None
    error: str | None
    page_url: str | None
    links: ItemLinks

    @property
    def kind(self) -> str:
        """The macro's name as Confluence shows it (its manifest title)."""
        return MACRO_NAMES.get(str(self.macro), str(self.macro))

    @property
    def mode_name(self) -> str | None:
        return MACRO_MODE_NAMES.get(self.mode, self.mode) if self.mode else None

    @property
    def page(self) -> str:
        """The page the macro is on, as people name it (its title when known)."""
        return page_name(self.page_id, self.page_title)

    @property
    def label(self) -> str:
        """``MuleSight API Manager instance macro (security view) on “Payments APIs”``."""
        return f"{macro_name(str(self.macro), self.mode)} on {self.page}"


@dataclass(frozen=True)
class FindingView:
    id: str | None
    key: str | None
    status: FindingStatus | None
    title: str | None
    detail: str | None
    remediation: str | None
    owner: Owner | None
    datasets: tuple[str, ...]
    scopes: tuple[str, ...]
    macros: tuple[int, ...]
    doc_url: str | None
    cause: str | None

    @property
    def word(self) -> str:
        """``FAIL`` or ``WARN``."""
        return c.FINDING_WORDS.get(str(self.status), str(self.status).upper())

    def owner_label(self, audience: str) -> str:
        """Who must act, in the reader's words (an admin on the self-check page reads "You")."""
        return _owner_label(str(self.owner or ""), audience)


@dataclass(frozen=True)
class Affects:
    """What a root cause affects, as the engine counted it."""

    findings: int
    datasets: int
    macros: int
    scopes: int


@dataclass(frozen=True)
class RootCauseGroupView:
    """A root cause (numbered from 1) and the findings that follow from it, in report order."""

    number: int
    root: FindingView
    consequences: tuple[FindingView, ...]
    status: FindingStatus  # the worst status of the group (the engine's ``group_status``)
    affects: Affects

    @property
    def members(self) -> tuple[FindingView, ...]:
        return (self.root, *self.consequences)

    @property
    def affects_text(self) -> str:
        """``26 findings follow from it (8 datasets, 2 macros, 8 scopes affected)``."""
        a = self.affects
        if not a.findings:
            return ""
        parts = [
            _plural(n, word)
            for n, word in ((a.datasets, "dataset"), (a.macros, "macro"), (a.scopes, "scope"))
            if n
        ]
        head = f"{_plural(a.findings, 'finding')} follow{'s' if a.findings == 1 else ''} from it"
        return head + (f" ({', '.join(parts)} affected)" if parts else "")


@dataclass(frozen=True)
class CheckView:
    id: str | None
    title: str | None
    status: CheckStatus | None
    elapsed_ms: float | None

    @property
    def name(self) -> str:
        return str(self.title or self.id)


@dataclass(frozen=True)
class SummaryView:
    """The engine's counts and the sentences made of them."""

    fail: int
    warn: int
    headline: str  # ``1 thing to fix (26 findings follow from it; 23 failures, 4 warnings)``
    tally: str  # ``3 failures, 2 warnings``


@dataclass(frozen=True)
class ReportView:
    schema_version: Any
    run_id: str | None
    generated_at: str | None
    site_url: str | None
    space_key: str | None
    organization: str  # ``Acme Corp (org-id)``, the id alone, or ``not known``
    control_plane: str | None
    environments: tuple[EnvironmentView, ...]
    verdict: Verdict | None
    datasets: tuple[DatasetView, ...]
    scopes: tuple[ScopeView, ...]
    macros: tuple[MacroView, ...]
    groups: tuple[RootCauseGroupView, ...]  # root causes worst first, consequences folded
    checks: tuple[CheckView, ...]
    summary: SummaryView
    suggested_severity: str | None
    severity_reason: str | None
    escalation_stage: str | None
    run_timing: str  # ``took 2.4 s (deadline 20 s)``; empty when not known
    zone: str
    ticket_rows: tuple[tuple[str, str], ...]
    by_hand: tuple[str, ...]
    redaction_text: str

    @classmethod
    def of(cls, report: Report | Data | ReportView) -> ReportView:
        """The view of ``report`` (a view is taken as it is)."""
        return report if isinstance(report, ReportView) else cls.from_data(c.data_of(report))

    @classmethod
    def from_data(cls, data: Data) -> ReportView:
        """Parse a validated report's JSON once."""
        found = _groups(data)
        site = c.safe_url(data.get("site_url"))

        def links(field_name: str) -> dict[Any, ItemLinks]:
            refs = _group_refs(data, found, field_name)
            tones = _item_tones(data, found, field_name)
            return {k: ItemLinks(tones.get(k), tuple(refs.get(k, []))) for k in {*refs, *tones}}

        dataset_links, scope_links, macro_links = (
            links("datasets"),
            links("scopes"),
            links("macros"),
        )
        return cls(
            schema_version=data.get("schema_version"),
            run_id=_opt(data.get("run_id")),
            generated_at=_opt(data.get("generated_at")),
            site_url=_opt(data.get("site_url")),
            space_key=_opt(data.get("space_key")),
            organization=_organization_text(data),
            control_plane=_opt(data.get("control_plane")),
            environments=tuple(
                EnvironmentView(_opt(e.get("id")), _opt(e.get("name")), _opt(e.get("type")))
                for e in data.get("environments", [])
            ),
            verdict=_enum(Verdict, data.get("verdict")),
            datasets=tuple(
                _dataset(key, d, dataset_links.get(key, ItemLinks()))
                for key, d in data.get("datasets", {}).items()
            ),
            scopes=tuple(
                _scope(key, s, scope_links.get(key, ItemLinks()))
                for key, s in data.get("scopes", {}).items()
            ),
            macros=tuple(
                _macro(i, m, site, macro_links.get(i, ItemLinks()))
                for i, m in enumerate(data.get("macros", []))
            ),
            groups=tuple(_group(g) for g in found),
            checks=tuple(
                CheckView(
                    _opt(k.get("id")),
                    _opt(k.get("title")),
                    _enum(CheckStatus, k.get("status")),
                    _number(k.get("elapsed_ms")),
                )
                for k in data.get("checks", [])
            ),
            summary=SummaryView(*_counts(data), _headline(data), _tally(data)),
            suggested_severity=_opt(data.get("suggested_severity")),
            severity_reason=_opt(data.get("severity_reason")),
            escalation_stage=_opt(data.get("escalation_stage")),
            run_timing=_run_timing(data),
            zone=details.zone_of(data),
            ticket_rows=tuple(details.rows(data)),
            by_hand=tuple(details.by_hand(data)),
            redaction_text=_redaction_text(data),
        )

    @property
    def suggests_severity(self) -> bool:
        """Whether a rendering offers a ticket severity: not for a healthy run."""
        return self.verdict != Verdict.HEALTHY

    @property
    def verdict_word(self) -> str:
        return c.VERDICT_WORDS.get(str(self.verdict), str(self.verdict))

    @property
    def environment_names(self) -> dict[str, str]:
        return {str(e.id): str(e.name) for e in self.environments}

    def when(self, iso: str | None) -> str | None:
        """An ISO time of the report for people: ``23 Nov 2026 09:55 AEDT``; None when unknown."""
        return people_time(iso, self.zone) if iso else None

    def places(self, ids: tuple[str, ...]) -> str:
        """``missing_in`` in words: ``Production (env-prod), the organization``."""
        return c.places(ids, self.environment_names)

    def dataset_name(self, key: str) -> str | None:
        """The human name of a dataset, when the report gives one."""
        return next((d.name for d in self.datasets if d.key == key), None)

    def macro(self, index: int) -> MacroView | None:
        """The macro a finding names by index; None when the report has no such macro."""
        return self.macros[index] if 0 <= index < len(self.macros) else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dataset(key: str, d: Data, links: ItemLinks) -> DatasetView:
    failed = d.get("failed") or {}
    return DatasetView(
        key=str(key),
        name=str(d["name"]) if d.get("name") else None,
        coverage=_enum(Coverage, d.get("coverage")),
        reason=_opt(d.get("reason")),
        impact=_opt(d.get("impact")),
        last_successful_fetch=_opt(d.get("last_successful_fetch")),
        freshness=_enum(FreshnessState, d.get("freshness")),
        stale_fallback=bool(d.get("stale_fallback")),
        failed=tuple((str(kind), _strs(paths)) for kind, paths in failed.items()),
        probes=tuple(_probe(p) for p in d.get("probes") or []),
        links=links,
    )


def _probe(p: Data) -> ProbeView:
    status, attempts = p.get("status"), p.get("attempts")
    return ProbeView(
        probe=_opt(p.get("probe")),
        environment_id=_opt(p.get("environment_id")),
        method=_opt(p.get("method")),
        path=_opt(p.get("path")),
        outcome=_enum(Outcome, p.get("outcome")),
        status=status if isinstance(status, int) else None,
        attempts=attempts if isinstance(attempts, int) else None,
        elapsed_ms=_number(p.get("elapsed_ms")),
        message=_opt(p.get("message")),
    )


def _scope(key: str, s: Data, links: ItemLinks) -> ScopeView:
    verified = s.get("verified")
    return ScopeView(
        key=str(key),
        status=_enum(Coverage, s.get("status")),
        missing_in=_strs(s.get("missing_in")),
        why_needed=_opt(s.get("why_needed")),
        used_by=_strs(s.get("used_by")),
        validated_by=_strs(s.get("validated_by")),
        impact=_opt(s.get("impact")),
        checked=_scope_checked(s),
        verified=verified if isinstance(verified, bool) else None,
        links=links,
        status_text=_scope_status_text(s),
    )


def _macro(index: int, m: Data, site: str | None, links: ItemLinks) -> MacroView:
    page_id = str(m["page_id"]) if m.get("page_id") else None
    return MacroView(
        index=index,
        macro=_opt(m.get("macro")),
        mode=_opt(m.get("mode")) if m.get("mode") else None,
        page_id=page_id,
        page_title=_opt(m.get("page_title")),
        dataset=_opt(m.get("dataset")),
        status=_enum(RenderStatus, m.get("status")),
        last_rendered_at=_opt(m.get("last_rendered_at")),
        error=_opt(m.get("error")),
        page_url=_page_url(site, page_id),
        links=links,
    )


def _finding(f: Data) -> FindingView:
    return FindingView(
        id=_opt(f.get("id")),
        key=_opt(f.get("key")),
        status=_enum(FindingStatus, f.get("status")),
        title=_opt(f.get("title")),
        detail=_opt(f.get("detail")),
        remediation=_opt(f.get("remediation")),
        owner=_enum(Owner, f.get("owner")),
        datasets=_strs(f.get("datasets")),
        scopes=_strs(f.get("scopes")),
        macros=tuple(int(i) for i in f.get("macros") or ()),
        doc_url=_opt(f.get("doc_url")),
        cause=_opt(f.get("cause")),
    )


def _group(g: _Group) -> RootCauseGroupView:
    a = g.affects
    return RootCauseGroupView(
        number=g.number,
        root=_finding(g.root),
        consequences=tuple(_finding(x) for x in g.consequences),
        status=_enum(FindingStatus, _group_status(g)) or FindingStatus.WARN,
        affects=Affects(
            findings=int(a.get("findings", len(g.consequences))),
            datasets=int(a.get("datasets") or 0),
            macros=int(a.get("macros") or 0),
            scopes=int(a.get("scopes") or 0),
        ),
    )


# -- the engine's arrangement, read back (root-cause groups, what names each item) -----------------


@dataclass(frozen=True)
class _Group:
    """A root cause (numbered from 1) and the findings that follow from it, in report order."""

    number: int
    root: Data
    consequences: list[Data] = field(default_factory=list)

    @property
    def affects(self) -> Mapping[str, int]:
        return self.root.get("affects") or {}


def _groups(data: Data) -> list[_Group]:
    """The report's findings folded under their root causes, in the engine's order.

    The engine lists each root cause followed by what it causes, roots worst first
    (``root_causes``); a finding names its root in ``root``. Nothing is re-sorted here.
    """
    findings = list(data.get("findings", []))
    by_key = {f.get("key"): f for f in findings}
    roots = [by_key[k] for k in data.get("root_causes", []) if k in by_key] or [
        f for f in findings if not f.get("cause")
    ]
    out = {r.get("key"): _Group(i, r) for i, r in enumerate(roots, start=1)}
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


def _group_refs(data: Data, found: Sequence[_Group], field_name: str) -> dict[Any, list[int]]:
    """Which root causes (by number) fold the findings that name each dataset key / scope /
    macro index, as the engine listed them (``root_causes`` of each item)."""
    numbers = {g.root.get("key"): g.number for g in found}
    named = _named(data, found, field_name)
    return {
        item: [numbers[k] for k in mention["root_causes"] if k in numbers]
        for item, mention in named.items()
    }


def _named(data: Data, found: Sequence[_Group], field_name: str) -> dict[Any, Data]:
    """The engine's ``finding_status`` and ``root_causes`` of each item.

    A report stored before the engine set them is read with the engine's own function.
    """
    items = data.get(field_name) or {}
    entries = list(items.items()) if isinstance(items, Mapping) else list(enumerate(items))
    if entries and all("root_causes" in item for _key, item in entries):
        return {key: item for key, item in entries if item.get("root_causes")}
    ordered = [{**f, "root": g.root.get("key")} for g in found for f in (g.root, *g.consequences)]
    return dict(mentions(ordered, field_name))


def _group_status(g: _Group) -> str:
    """The worst status of a root cause's group, as the engine put it on the root.

    A report stored before the engine said so is read from its findings' own statuses.
    """
    if g.root.get("group_status"):
        return str(g.root["group_status"])
    statuses = {f.get("status") for f in (g.root, *g.consequences)}
    return "fail" if "fail" in statuses else "warn"


def _item_tones(data: Data, found: Sequence[_Group], field_name: str) -> dict[Any, str]:
    """The worst status of the findings that name each item (the engine's), as a tone."""
    return {
        item: c.tone(c.FINDING_TONES, mention.get("finding_status"))
        for item, mention in _named(data, found, field_name).items()
    }


# -- sentences made of the report's numbers and states ---------------------------------------------


def _counts(data: Data) -> tuple[int, int]:
    """(failures, warnings) as the engine counted them (``summary``)."""
    summary = data.get("summary") or {}
    return int(summary.get("fail") or 0), int(summary.get("warn") or 0)


def _plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{n} {singular if n == 1 else many or singular + 's'}"


def _tally(data: Data) -> str:
    """``3 failures, 2 warnings``."""
    fails, warns = _counts(data)
    return f"{_plural(fails, 'failure')}, {_plural(warns, 'warning')}"


def _headline(data: Data) -> str:
    """``1 thing to fix (26 findings follow from it; 23 failures, 4 warnings)``."""
    summary = data.get("summary") or {}
    roots = int(summary.get("root_causes") or len(data.get("root_causes") or []))
    if not roots:
        return "nothing to fix (every check passed)"
    follow = int(summary.get("consequences") or 0)
    text = _plural(roots, "thing") + " to fix"
    if follow:
        text += f" ({_plural(follow, 'finding')} follow{'s' if follow == 1 else ''} from "
        text += "it" if roots == 1 else "them"
        text += f"; {_tally(data)})"
    else:
        text += f" ({_tally(data)})"
    return text


def _redaction_text(data: Data) -> str:
    redactions = data.get("redactions") or {}
    count = int(redactions.get("count") or 0)
    if not count:
        return "No secret value needed removing."
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted((redactions.get("kinds") or {}).items()))
    removed = _plural(count, "secret value")
    return f"{removed} removed before this report was written" + (f" ({kinds})." if kinds else ".")


def _run_timing(data: Data) -> str:
    """``took 2.4 s (deadline 20 s)``; empty when the report does not say."""
    took = c.duration(data.get("elapsed_ms"))
    deadline = data.get("deadline_s")
    limit = f"deadline {deadline:g} s" if isinstance(deadline, int | float) else ""
    if took and limit:
        return f"took {took} ({limit})"
    return f"took {took}" if took else limit


def _organization_text(data: Data) -> str:
    """``Acme Corp (org-id)``, the id alone, or ``not known``."""
    org_id, name = data.get("organization_id"), data.get("organization_name")
    if name and org_id:
        return f"{name} ({org_id})"
    return str(name or org_id or c.NOT_KNOWN)


def _scope_checked(scope: Data) -> bool:
    """False only when the engine says the scope was not checked in this run."""
    return scope.get("checked") is not False


def _scope_status_text(scope: Data) -> str:
    """A scope's status in words: an unverified scope *could not be checked*, never missing."""
    if not _scope_checked(scope):
        return "not needed in this run"
    if scope.get("status") != "full" and (
        scope.get("verified") is False or not scope.get("missing_in")
    ):
        return (
            "could not be checked"
            if scope.get("verified") is False
            else "could not be checked everywhere"
        )
    return c.word(scope.get("status"), c.SCOPE_WORDS)
