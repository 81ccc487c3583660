"""The report as one self-contained HTML page (``templates/report.html``, Jinja2, autoescaped).

Inline CSS only: no external stylesheet, font, script or image, so the page works as a ticket
attachment and offline. Every badge carries a symbol and a word, never colour alone. This module
only prepares the rows the template shows; it never decides a status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from diagnostics.render import _common as c
from diagnostics.report import Report

Data = Mapping[str, Any]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "report.html"
_CODE = re.compile(r"`([^`]+)`")


def render(report: Report | Data, *, audience: str = "support") -> str:
    """The report as a complete HTML document."""
    data = c.data_of(report)
    return environment().get_template(TEMPLATE).render(view=context(data, audience)).strip()


def configure(env: Environment) -> None:
    """Add the filters the report templates use to a Jinja environment (the service's too)."""
    env.filters["prose"] = prose
    env.filters["path_breaks"] = path_breaks


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    configure(env)
    return env


def prose(value: Any) -> Markup:
    """Report text, escaped, with its `backtick` spans shown as code."""
    escaped = str(escape("" if value is None else value))
    return Markup(_CODE.sub(r"<code>\1</code>", escaped))


def path_breaks(value: Any) -> Markup:
    """An API path, escaped, that may wrap after each ``/`` (and nowhere else)."""
    return Markup("/<wbr>").join(escape(part) for part in str(value).split("/"))


def badge(table: Mapping[str, str], value: Any, text: str | None = None) -> dict[str, str]:
    """What the template's badge shows: a tone (for colour), a symbol and a word."""
    tone = c.tone(table, value)
    return {"tone": tone, "symbol": c.SYMBOLS[tone], "word": text or c.word(value)}


NEXT_STEP = (
    "Still seeing errors in a macro? Reload the page; if it still fails, send this report and a "
    "screenshot to MuleSight support."
)


def context(data: Data, audience: str = "support") -> dict[str, Any]:
    """Everything the report templates read (as ``view``), prepared from ``data``."""
    found = c.groups(data)
    return {
        "data": data,
        "title": f"MuleSight diagnostics: {data.get('verdict')} ({data.get('run_id')})",
        "verdict": badge(
            c.VERDICT_TONES,
            data.get("verdict"),
            c.VERDICT_WORDS.get(str(data.get("verdict"))),
        ),
        "tally": c.tally(data),
        "headline": c.headline(data),
        "healthy": not c.suggests_severity(data),
        "facts": _facts(data),
        "causes": [_cause(data, g, audience) for g in found],
        "next_step": NEXT_STEP,
        "datasets": _datasets(data, found),
        "scopes": _scopes(data, found),
        "macros": _macros(data, found),
        "checks": _checks(data),
        "ticket_rows": c.ticket_rows(data),
        "by_hand": c.by_hand(data),
        "severity": data.get("suggested_severity") if c.suggests_severity(data) else None,
        "severity_reason": data.get("severity_reason"),
        "redactions": c.redaction_text(data),
    }


def _facts(data: Data) -> list[dict[str, Any]]:
    envs = ", ".join(
        f"{e.get('name')} ({e.get('type')}, {e.get('id')})" for e in data.get("environments", [])
    )
    facts: list[dict[str, Any]] = [
        {
            "label": "Site",
            "text": data.get("site_url") or c.NOT_KNOWN,
            "url": c.safe_url(data.get("site_url")),
        },
        {"label": "Space", "text": data.get("space_key") or c.NOT_KNOWN},
        {"label": "Anypoint organization", "text": c.organization_text(data)},
        {"label": "Control plane", "text": data.get("control_plane")},
        {"label": "Environments", "text": envs or "none listed", "wide": True},
        {"label": "Generated", "text": c.when(data, data.get("generated_at"))},
        {"label": "Run", "text": data.get("run_id")},
    ]
    timing = c.run_timing(data)
    if timing:
        facts.append({"label": "Duration", "text": timing})
    if data.get("escalation_stage"):
        facts.append({"label": "Escalation stage", "text": data["escalation_stage"]})
    return [{"url": None, "wide": False, **f} for f in facts]


def _cause(data: Data, g: c.Group, audience: str) -> dict[str, Any]:
    """A root cause with its fix, and what follows from it (folded in the page)."""
    return {
        **_finding(data, g.root, audience),
        "number": g.number,
        "group_badge": badge(c.FINDING_TONES, c.group_status(g)),
        "affects_text": c.affects_text(g),
        "consequences": [_finding(data, x, audience) for x in g.consequences],
    }


def _finding(data: Data, f: Data, audience: str) -> dict[str, Any]:
    return {
        "key": f.get("key"),
        "badge": badge(c.FINDING_TONES, f.get("status"), c.FINDING_WORDS.get(str(f.get("status")))),
        "title": f.get("title"),
        "detail": f.get("detail"),
        "owner": c.owner_label(f, audience),
        "remediation": f.get("remediation"),
        "pages": _pages(data, f),
        "doc_url": c.safe_url(f.get("doc_url")),
        "doc_text": f.get("doc_url"),
    }


def _pages(data: Data, f: Data) -> list[dict[str, Any]]:
    """The Confluence pages of the finding's macros, once each, linked when the site is known."""
    macros = data.get("macros", [])
    pages: dict[Any, dict[str, Any]] = {}
    for i in f.get("macros") or []:
        if i < len(macros) and macros[i].get("page_id") not in pages:
            m = macros[i]
            pages[m.get("page_id")] = {
                "text": c.macro_page(m),
                "url": c.page_url(data, m.get("page_id")),
            }
    return list(pages.values())


def _datasets(data: Data, found: list[c.Group]) -> list[dict[str, Any]]:
    names = c.environment_names(data)
    refs = c.group_refs(data, found, "datasets")
    rows = []
    for key, d in data.get("datasets", {}).items():
        probes = [
            {
                **p,
                "environment": c.place(str(p["environment_id"]), names)
                if p.get("environment_id")
                else None,
                "badge": badge(
                    c.OUTCOME_TONES, p.get("outcome"), c.word(p.get("outcome"), c.OUTCOME_WORDS)
                ),
                "elapsed": c.duration(p.get("elapsed_ms")),
            }
            for p in d.get("probes") or []
        ]
        failed = d.get("failed") or {}
        rows.append(
            {
                "key": key,
                "name": d.get("name"),
                "coverage": badge(
                    c.COVERAGE_TONES, d.get("coverage"), c.word(d.get("coverage"), c.COVERAGE_WORDS)
                ),
                "reason": c.dataset_reason(d),
                "cause_links": refs.get(key, []),
                "freshness": badge(
                    c.FRESHNESS_TONES,
                    d.get("freshness"),
                    c.word(d.get("freshness"), c.FRESHNESS_WORDS),
                ),
                "stale_fallback": bool(d.get("stale_fallback")),
                "last": c.when(data, d.get("last_successful_fetch")),
                "impact": d.get("impact") or c.dataset_impact(key),
                "failed": [
                    {"label": c.FAILED_CALL_WORDS[kind], "paths": list(failed.get(kind) or [])}
                    for kind in ("forbidden", "timeout", "other")
                    if failed.get(kind)
                ],
                "probes": probes,
            }
        )
    return rows


def _scopes(data: Data, found: list[c.Group]) -> list[dict[str, Any]]:
    names = c.environment_names(data)
    refs = c.group_refs(data, found, "scopes")
    rows = []
    for key, s in data.get("scopes", {}).items():
        checked = c.scope_checked(s) and s.get("verified") is not False
        troubled = c.scope_checked(s) and s.get("status") in ("partial", "none")
        rows.append(
            {
                "key": key,
                "status": badge(c.COVERAGE_TONES, s.get("status"), c.scope_status_text(s))
                if checked
                else badge({}, None, c.scope_status_text(s)),
                "cause_links": refs.get(key, []),
                "missing_in": c.places(s.get("missing_in") or [], names),
                "used_by": ", ".join(c.dataset_name(data, k) or k for k in s.get("used_by") or []),
                "validated_by": list(s.get("validated_by") or []),
                "why_needed": s.get("why_needed"),
                "impact": s.get("impact") if troubled else None,
            }
        )
    return rows


def _macros(data: Data, found: list[c.Group]) -> list[dict[str, Any]]:
    refs = c.group_refs(data, found, "macros")
    titles = {g.number: g.root.get("title") for g in found}
    return [
        {
            "macro": c.macro_kind(m),
            "mode": c.macro_mode(m),
            "page": c.macro_page(m),
            "page_url": c.page_url(data, m.get("page_id")),
            "dataset": c.dataset_name(data, str(m.get("dataset"))) or m.get("dataset"),
            "status": badge(c.MACRO_TONES, m.get("status"), c.word(m.get("status"), c.MACRO_WORDS)),
            "last": c.when(data, m.get("last_rendered_at")),
            "error": m.get("error"),
            "causes": [{"number": n, "title": titles[n]} for n in refs.get(i, [])],
        }
        for i, m in enumerate(data.get("macros", []))
    ]


def _checks(data: Data) -> list[dict[str, Any]]:
    return [
        {
            "title": k.get("title") or k.get("id"),
            "status": badge(c.CHECK_TONES, k.get("status"), c.word(k.get("status"), c.CHECK_WORDS)),
            "elapsed": c.duration(k.get("elapsed_ms")),
        }
        for k in data.get("checks", [])
    ]
