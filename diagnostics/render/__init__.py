"""Renderers: pure functions from a :class:`~diagnostics.report.Report` to text.

``json`` is the machine contract; ``markdown`` is for ticket comments and attachments; ``html`` is a
self-contained page; ``text`` is terminal output in the style of doctor tools. Renderers only read
the statuses the report holds; they never decide one. Each parses the report once into its typed
view (:class:`~diagnostics.render.view.ReportView`) and reads only that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from diagnostics.render import html, json, markdown, text, ticket
from diagnostics.report import Report

FORMATS: tuple[str, ...] = ("text", "json", "markdown", "html", "ticket")
AUDIENCES: tuple[str, ...] = ("support", "admin")

_RENDERERS: dict[str, Callable[..., str]] = {
    "markdown": markdown.render,
    "html": html.render,
    "ticket": ticket.render,
}

__all__ = ["FORMATS", "render"]


def render(
    report: Report | Mapping[str, Any],
    fmt: str,
    *,
    color: bool = False,
    audience: str = "support",
) -> str:
    """``report`` as ``fmt`` (one of :data:`FORMATS`). ``color`` adds ANSI colours to ``text`` only.

    ``audience`` decides how the customer's admin is named (``admin`` reads "You"); the JSON
    contract is the same for everyone. Raises :class:`ValueError` for an unknown format.
    """
    if fmt == "json":
        return json.render(report)
    if fmt == "text":
        return text.render(report, color=color, audience=audience)
    try:
        renderer = _RENDERERS[fmt]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}"
        ) from None
    return renderer(report, audience=audience)
