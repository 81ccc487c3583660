"""The report as one self-contained HTML page (``templates/report.html``, Jinja2, autoescaped).

Inline CSS only: no external stylesheet, font, script or image, so the page works as a ticket
attachment and offline. Every badge carries a symbol and a word, never colour alone. This module
only prepares the rows the template shows; it never decides a status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


def render(report: Report | Data) -> str:
    """The report as a complete HTML document."""
    data = c.data_of(report)
    return _environment().get_template(TEMPLATE).render(**context(data)).strip()


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["prose"] = prose
    return env


def prose(value: Any) -> Markup:
    """Report text, escaped, with its `backtick` spans shown as code."""
    escaped = str(escape("" if value is None else value))
    return Markup(_CODE.sub(r"<code>\1</code>", escaped))


def badge(table: Mapping[str, str], value: Any, text: str | None = None) -> dict[str, str]:
    """What the template's badge shows: a tone (for colour), a symbol and a word."""
    tone = c.tone(table, value)
    return {"tone": tone, "symbol": c.SYMBOLS[tone], "word": text or c.word(value)}


def context(data: Data) -> dict[str, Any]:
    """Everything the template reads, prepared from ``data`` (which it never changes)."""
    numbered = c.ordered_findings(data)
    up = c.upstream(data)
    return {
        "data": data,
        "title": f"MuleSight diagnostics: {data.get('verdict')} ({data.get('run_id')})",
        "verdict": badge(
            c.VERDICT_TONES, data.get("verdict"), str(data.get("verdict")).capitalize()
        ),
        "tally": c.tally(data),
        "facts": _facts(data),
        "upstream": _upstream(up) if up is not None else None,
        "findings": [_finding(data, n, f, numbered) for n, f in numbered],
        "datasets": _datasets(data),
        "scopes": _scopes(data),
        "macros": _macros(data),
        "checks": _checks(data),
        "ticket": c.ticket_rows(data),
        "by_hand": c.by_hand(data),
        "severity": data.get("suggested_severity"),
        "severity_reason": data.get("severity_reason"),
        "redactions": c.redaction_text(data),
    }


def _facts(data: Data) -> list[dict[str, Any]]:
    envs = ", ".join(
        f"{e.get('name')} ({e.get('type')}, {e.get('id')})" for e in data.get("environments", [])
    )
    facts = [
        {
            "label": "Site",
            "text": data.get("site_url") or c.NOT_KNOWN,
            "url": c.safe_url(data.get("site_url")),
        },
        {"label": "Space", "text": data.get("space_key") or c.NOT_KNOWN},
        {"label": "Anypoint organization", "text": c.organization_text(data)},
        {"label": "Control plane", "text": data.get("control_plane")},
        {"label": "Environments", "text": envs or "none listed", "wide": True},
        {"label": "Generated", "text": data.get("generated_at")},
        {"label": "Run", "text": data.get("run_id")},
    ]
    timing = c.run_timing(data)
    if timing:
        facts.append({"label": "Duration", "text": timing})
    if data.get("escalation_stage"):
        facts.append({"label": "Escalation stage", "text": data["escalation_stage"]})
    return [{"url": None, "wide": False, **f} for f in facts]


def _upstream(up: Data) -> dict[str, Any]:
    return {"text": c.upstream_text(up), "url": c.safe_url(up.get("status_page"))}


def _finding(
    data: Data, number: int, f: Data, numbered: Sequence[tuple[int, Data]]
) -> dict[str, Any]:
    macros = data.get("macros", [])
    cause = c.cause_of(f, numbered)
    return {
        "number": number,
        "badge": badge(c.FINDING_TONES, f.get("status"), c.FINDING_WORDS.get(str(f.get("status")))),
        "title": f.get("title"),
        "detail": f.get("detail"),
        "owner": c.owner_label(f),
        "remediation": f.get("remediation"),
        "datasets": [
            f"{name} ({k})" if (name := c.dataset_name(data, k)) else k
            for k in f.get("datasets") or []
        ],
        "scopes": list(f.get("scopes") or []),
        "macros": [
            f"#{i + 1} {c.macro_label(macros[i])}" if i < len(macros) else f"#{i + 1}"
            for i in f.get("macros") or []
        ],
        "cause": (
            {"number": cause[0], "title": cause[1].get("title")}
            if cause is not None
            else ({"number": None, "title": f["cause"]} if f.get("cause") else None)
        ),
        "doc_url": c.safe_url(f.get("doc_url")),
        "doc_text": f.get("doc_url"),
    }


def _datasets(data: Data) -> list[dict[str, Any]]:
    rows = []
    for key, d in data.get("datasets", {}).items():
        probes = [
            {
                **p,
                "badge": badge(c.OUTCOME_TONES, p.get("outcome")),
                "elapsed": c.duration(p.get("elapsed_ms")),
            }
            for p in d.get("probes") or []
        ]
        rows.append(
            {
                "key": key,
                "name": d.get("name"),
                "coverage": badge(c.COVERAGE_TONES, d.get("coverage")),
                "reason": c.dataset_reason(d),
                "freshness": badge(c.FRESHNESS_TONES, d.get("freshness")),
                "stale_fallback": bool(d.get("stale_fallback")),
                "last": d.get("last_successful_fetch"),
                "impact": d.get("impact"),
                "probes": probes,
            }
        )
    return rows


def _scopes(data: Data) -> list[dict[str, Any]]:
    names = c.environment_names(data)
    rows = []
    for key, s in data.get("scopes", {}).items():
        checked = c.scope_checked(s)
        rows.append(
            {
                "key": key,
                "status": badge(c.COVERAGE_TONES, s.get("status"))
                if checked
                else badge({}, None, "not checked"),
                "missing_in": c.places(s.get("missing_in") or [], names),
                "used_by": ", ".join(s.get("used_by") or []),
                "why_needed": s.get("why_needed"),
                "impact": s.get("impact"),
            }
        )
    return rows


def _macros(data: Data) -> list[dict[str, Any]]:
    return [
        {
            "number": i,
            "macro": m.get("macro"),
            "mode": m.get("mode"),
            "page": m.get("page_id"),
            "page_title": m.get("page_title"),
            "dataset": m.get("dataset"),
            "status": badge(c.MACRO_TONES, m.get("status")),
            "last": m.get("last_rendered_at"),
            "error": m.get("error"),
        }
        for i, m in enumerate(data.get("macros", []), start=1)
    ]


def _checks(data: Data) -> list[dict[str, Any]]:
    return [
        {
            "title": k.get("title") or k.get("id"),
            "status": badge(c.CHECK_TONES, k.get("status")),
            "elapsed": c.duration(k.get("elapsed_ms")),
        }
        for k in data.get("checks", [])
    ]
