"""Renderers: pure functions from a :class:`~diagnostics.report.Report` to text.

``json`` is the machine contract; ``markdown`` is for ticket comments and attachments; ``html`` is a
self-contained page; ``text`` is terminal output in the style of doctor tools. Renderers only read
the statuses the report holds; they never decide one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from diagnostics.render import html, json, markdown, text
from diagnostics.report import Report

FORMATS: tuple[str, ...] = ("text", "json", "markdown", "html")

_RENDERERS: dict[str, Callable[[Report | Mapping[str, Any]], str]] = {
    "json": json.render,
    "markdown": markdown.render,
    "html": html.render,
}

__all__ = ["FORMATS", "render"]


def render(report: Report | Mapping[str, Any], fmt: str, *, color: bool = False) -> str:
    """``report`` as ``fmt`` (one of :data:`FORMATS`). ``color`` adds ANSI colours to ``text`` only.

    Raises :class:`ValueError` for an unknown format.
    """
    if fmt == "text":
        return text.render(report, color=color)
    try:
        renderer = _RENDERERS[fmt]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}"
        ) from None
    return renderer(report)
