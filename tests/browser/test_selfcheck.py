"""The self-check page in a real browser: run, read, copy, attach, compare, keyboard, narrow window."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "selfcheck.png"
SCOPE_FINDING = "Scope read:api_configuration: not granted for Production (env-prod)"


def switch_scenario(page: Any, name: str) -> None:
    """Pick a simulated scenario on the self-check page; the switch runs diagnostics."""
    page.goto("/selfcheck")
    page.get_by_label("Simulated Anypoint scenario").select_option(name)
    with page.expect_navigation():
        page.get_by_role("button", name="Switch and run").click()
    expect(page.get_by_label("Simulated Anypoint scenario")).to_have_value(name)


def history_rows(page: Any) -> int:
    return page.locator("#history tbody tr").count()


def test_run_shows_the_failing_dataset_and_its_fix(page: Any, shot: Any) -> None:
    switch_scenario(page, "api-manager-sandbox-only")
    runs_before = history_rows(page)

    # With JS the button says what is happening and cannot be pressed twice. (Watched with the
    # submission cancelled: a page that is navigating away cannot be inspected reliably.)
    page.evaluate(
        "document.getElementById('run-button').form"
        ".addEventListener('submit', event => event.preventDefault())"
    )
    run_button = page.get_by_role("button", name="Run diagnostics")
    run_button.click()
    expect(page.locator("#run-progress")).to_have_text("Probing Anypoint… (up to 20 s)")
    expect(run_button).to_be_disabled()
    bar = page.locator("#run-progress-bar")
    expect(bar).to_be_visible()
    expect(page.locator(".progress-count")).to_contain_text(re.compile(r"[1-9]\d* s of up to 20 s"))
    shot(page, "progress", full_page=False)

    page.reload()
    with page.expect_navigation():
        page.get_by_role("button", name="Run diagnostics").click()
    assert history_rows(page) == runs_before + 1
    # The page opens at the verdict, focused so that a screen reader reads it out.
    assert page.url.endswith("#verdict")
    expect(page.locator("#verdict")).to_be_focused()
    expect(page.locator("#verdict .badge")).to_contain_text("Broken")
    expect(page.locator("#verdict")).to_contain_text("1 thing to fix")
    api_manager = page.locator("#dataset-api_manager")
    expect(api_manager).to_contain_text("API Manager")
    expect(api_manager).to_contain_text("partial")
    expect(api_manager).to_contain_text("refused")
    # One root cause, its fix said once; what follows is folded beneath it.
    causes = page.locator("#findings .finding")
    expect(causes).to_have_count(1)
    expect(causes.locator("h3")).to_contain_text(SCOPE_FINDING)
    fix = causes.locator("dd.fix")
    expect(fix).to_contain_text("read:api_configuration")
    expect(fix).to_contain_text("Production")
    expect(causes.locator("dd", has_text="You (Anypoint / Confluence admin)")).to_have_count(1)
    folded = causes.locator("details.consequences")
    expect(folded.locator("li").first).to_be_hidden()
    folded.locator("summary").click()
    expect(folded.locator('li[data-key="dataset.partial:api_manager"]')).to_be_visible()
    assert page.locator("main").inner_text().count("add the scope read:api_configuration") == 1
    # A dataset's "root cause" link jumps to it.
    link = api_manager.get_by_role("link", name="Root cause 1")
    link.click()
    assert page.url.endswith("#cause-1")

    page.goto("/selfcheck")
    shot(page, "1280", full_page=False)
    shot(page, "full")
    if os.environ.get("MULESIGHT_UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOT))
        assert DOCS_SCREENSHOT.stat().st_size < 400_000


def test_copy_for_jira(context: Any, page: Any, live_server: Any, shot: Any) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    switch_scenario(page, "api-manager-sandbox-only")
    page.get_by_role("button", name="Copy for Jira").click()
    expect(page.locator("#copy-status")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("h3. (x) MuleSight diagnostics: Broken — 1 thing to fix")
    assert "[https://sparrow.atlassian.net]" in copied
    assert "* Dataset type: API Manager" in copied
    assert "* Reproduction steps: (still to add)" in copied
    preview = page.locator("#ticket")
    expect(preview).to_contain_text("still missing")
    expect(preview).to_contain_text("filled in")
    shot(page, "ticket", full_page=False)


def test_attach_to_a_new_local_ticket(page: Any, shot: Any) -> None:
    switch_scenario(page, "api-manager-sandbox-only")
    page.get_by_label("Create a new local ticket").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Attach to a ticket").click()
    confirmation = page.locator(".flash.success")
    expect(confirmation).to_contain_text(re.compile(r"Report attached to ticket MSUP-\d+"))
    shot(page, "attached", full_page=False)


def test_switch_to_healthy_shows_what_was_fixed(page: Any, shot: Any) -> None:
    switch_scenario(page, "api-manager-sandbox-only")
    switch_scenario(page, "healthy")
    expect(page.locator("#verdict .badge")).to_contain_text("Healthy")
    # Nothing to fix: no severity, no Attach, but a next step for errors still seen.
    expect(page.locator("#verdict")).not_to_contain_text("Sev 4")
    expect(page.get_by_role("button", name="Attach to a ticket")).to_have_count(0)
    expect(page.locator("#next-step")).to_contain_text("Still seeing errors?")
    fixed = page.locator("#diff-fixed")
    expect(fixed).to_contain_text("Fixed since last run")
    expect(fixed).to_contain_text(SCOPE_FINDING)
    expect(page.locator("#diff-new")).to_contain_text("New since last run")
    page.locator("#history").scroll_into_view_if_needed()
    shot(page, "fixed", full_page=False)


def test_keyboard_reaches_run_and_enter_starts_a_run(page: Any, shot: Any) -> None:
    page.goto("/selfcheck")
    before = page.locator("#history tbody tr a").first.get_attribute("href")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    for _ in range(30):
        if page.evaluate("document.activeElement.id") == "run-button":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("Tab never reached the Run diagnostics button")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    shot(page, "focus", full_page=False)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#history tbody tr a").first.get_attribute("href") != before


@pytest.mark.parametrize("width", [375, 1280])
def test_no_horizontal_page_scroll(browser: Any, live_server: Any, width: int, shot: Any) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_server.url("/selfcheck"))
        if history_rows(page) == 0:
            with page.expect_navigation():
                page.get_by_role("button", name="Run diagnostics").click()
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # Wide tables scroll inside their own container; at 1280 px none needs to.
        wraps = page.locator(".table-wrap")
        assert wraps.count() >= 4
        if width == 1280:
            overflowing = page.evaluate(
                "[...document.querySelectorAll('.table-wrap')]"
                ".filter(w => w.scrollWidth > w.clientWidth + 1).map(w => w.getAttribute('aria-label'))"
            )
            assert overflowing == []
        else:  # every column can be reached: the wrapper scrolls to its last column
            for i in range(wraps.count()):
                wrap = wraps.nth(i)
                wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
                last = wrap.locator("thead th").last
                box, frame = last.bounding_box(), wrap.bounding_box()
                assert box and frame and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        shot(page, f"{width}")
    finally:
        context.close()


def test_pages_load_nothing_from_elsewhere(page: Any, live_server: Any) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/selfcheck")
    page.goto("/console")
    assert requested and all(u.startswith(live_server.base_url) for u in requested), requested
    sources = page.evaluate(
        "[...document.querySelectorAll('script[src], link[href], img[src]')]"
        ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
    )
    assert not [s for s in sources if re.match(r"https?://", s)]
