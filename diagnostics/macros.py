"""Macro render status: the latest render event of each macro on each page that holds one.

A macro on a page with no render event is ``not_rendered``. Render events for macros on pages the
page search did not return are kept too (the page may have moved or be restricted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from diagnostics.catalogue import dataset_for_macro
from diagnostics.model import MacroPage, RenderEvent
from diagnostics.statuses import RenderStatus


@dataclass(frozen=True)
class MacroStatus:
    macro: str
    mode: str | None
    page_id: str
    space_key: str | None
    dataset: str
    status: RenderStatus
    last_rendered_at: str | None
    error: str | None
    page_title: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RenderStatus(self.status))

    def to_report(self) -> dict[str, object]:
        return {
            "macro": self.macro,
            "mode": self.mode,
            "page_id": self.page_id,
            "space_key": self.space_key,
            "dataset": self.dataset,
            "status": self.status.value,
            "last_rendered_at": self.last_rendered_at,
            "error": self.error,
            "page_title": self.page_title,
        }


def macro_statuses(pages: Iterable[MacroPage], renders: Iterable[RenderEvent]) -> list[MacroStatus]:
    latest: dict[tuple[str, str | None, str], RenderEvent] = {}
    for event in renders:
        key = (event.macro, event.mode, event.page_id)
        if key not in latest or event.at > latest[key].at:
            latest[key] = event
    statuses: list[MacroStatus] = []
    seen: set[tuple[str, str | None, str]] = set()
    for page in pages:
        for placement in page.macros:
            key = (placement.macro, placement.mode, page.page_id)
            if key in seen:
                continue
            seen.add(key)
            statuses.append(_status(key, page.space_key, latest.get(key), page.title))
    for key, event in latest.items():
        if key not in seen:
            statuses.append(_status(key, event.space_key, event, None))
    return statuses


def _status(
    key: tuple[str, str | None, str],
    space_key: str | None,
    event: RenderEvent | None,
    title: str | None,
) -> MacroStatus:
    macro, mode, page_id = key
    return MacroStatus(
        macro=macro,
        mode=mode,
        page_id=page_id,
        space_key=space_key if space_key is not None else (event.space_key if event else None),
        dataset=dataset_for_macro(macro, mode),
        status=RenderStatus(event.status) if event else RenderStatus.NOT_RENDERED,
        last_rendered_at=event.at.isoformat() if event else None,
        error=event.error if event else None,
        page_title=title,
    )
