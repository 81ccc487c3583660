"""The engine stays free of Flask, and its public API is deliberate."""

from __future__ import annotations

import subprocess
import sys

import diagnostics

PUBLIC_API = [
    "AppState",
    "Connection",
    "Report",
    "RunInput",
    "RunOptions",
    "load_scenario",
    "render",
    "run_diagnostics",
    "simulated_session",
]


def test_diagnostics_imports_with_flask_blocked() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'flask' or name.startswith(('flask.', 'app.')) or name == 'app':\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import diagnostics, diagnostics.engine, diagnostics.commands\n"
        "from diagnostics.commands import register_engine_commands\n"
        "register_engine_commands()\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_public_api_is_pinned() -> None:
    assert diagnostics.__all__ == PUBLIC_API
    assert sorted(diagnostics.__all__) == diagnostics.__all__
