"""MuleSight support diagnostics: the engine (no web framework in it).

Plan → probe → evaluate → redact → report. The service in ``app/`` and the ``mulesight`` command
line are thin layers over :func:`run_diagnostics`.

The public names are loaded on first use, so importing one engine module (``diagnostics.policy``,
say) does not import the whole engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AppState": "diagnostics.model",
    "Connection": "diagnostics.model",
    "Report": "diagnostics.report",
    "RunInput": "diagnostics.engine",
    "RunOptions": "diagnostics.engine",
    "load_scenario": "diagnostics.simulator",
    "render": "diagnostics.render",
    "run_diagnostics": "diagnostics.engine",
    "simulated_session": "diagnostics.simulator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'diagnostics' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
