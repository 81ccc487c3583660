"""The report as JSON: the machine contract, in the engine's (the contract's) key order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from diagnostics.render._common import data_of
from diagnostics.report import Report


def render(report: Report | Mapping[str, Any]) -> str:
    """Indented, non-ASCII kept as is, keys in contract order (not sorted)."""
    return json.dumps(data_of(report), indent=2, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    """Read-only mappings (``MappingProxyType``, say) as plain JSON objects."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
