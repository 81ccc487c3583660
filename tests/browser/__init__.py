"""Browser tests: the real app on 127.0.0.1, driven by Debian's Chromium through Playwright.

No browser is ever downloaded: the tests use ``/usr/bin/chromium`` (``apt-get install chromium``)
and skip with a clear reason when it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# axe-core, one of forge's devDependencies (`npm --prefix forge ci`), never from a CDN.
AXE = Path(__file__).resolve().parents[2] / "forge" / "node_modules" / "axe-core" / "axe.min.js"

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
)
