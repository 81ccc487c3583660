"""axe-core on the self-check page and the support console: no accessibility violation.

axe-core comes from npm (never a CDN): it is one of forge's devDependencies, which ``.ci/run``
installs with ``npm --prefix forge ci``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import AXE, requires_chromium
from tests.browser.test_console import mint, sign_in
from tests.browser.test_selfcheck import switch_scenario

pytestmark = [pytest.mark.browser, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")

SCENARIOS = ("api-manager-sandbox-only", "healthy")


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE}: run `npm --prefix forge ci`")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def axe_page(browser: Any, live_server: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=live_server.base_url, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def violations(page: Any, source: str) -> list[str]:
    """axe's violations on the current page (WCAG 2.1 A/AA and best practices), one line each."""
    page.add_script_tag(content=source)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_self_check_page_has_no_violation(axe_page: Any, axe_source: str, scenario: str) -> None:
    switch_scenario(axe_page, scenario)
    assert violations(axe_page, axe_source) == []


def test_console_pages_have_no_violation(axe_page: Any, axe_source: str, live_server: Any) -> None:
    switch_scenario(axe_page, "api-manager-sandbox-only")  # a report with something to attach
    sign_in(axe_page, mint(live_server, "axe@support", "support"))
    assert violations(axe_page, axe_source) == []
    axe_page.goto("/console?q=sparrow")
    assert violations(axe_page, axe_source) == []
    axe_page.goto("/console/sites/local-demo/spaces/OPS")
    with axe_page.expect_navigation():
        axe_page.get_by_role("button", name="Run diagnostics").click()
    assert violations(axe_page, axe_source) == []
    axe_page.get_by_label("Create a new local ticket").check()
    with axe_page.expect_navigation():
        axe_page.get_by_role("button", name="Attach to a ticket").click()
    with axe_page.expect_navigation():
        axe_page.get_by_role("link", name="See its due times").click()
    assert violations(axe_page, axe_source) == []
