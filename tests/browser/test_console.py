"""The support console in a real browser: sign in with a token, find a site, run, attach, SLA."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.cli import token
from tests.browser import requires_chromium
from tests.browser.test_selfcheck import switch_scenario

pytestmark = [pytest.mark.browser, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

MELBOURNE = re.compile(r"\d{2} \w{3} \d{4} \d{2}:\d{2} AE[DS]T")


def mint(live_server: Any, name: str, role: str) -> str:
    """A support token, minted the way an operator does it (``mulesight token create``)."""
    result = live_server.app.test_cli_runner().invoke(
        token, ["create", "--name", name, "--role", role]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def sign_in(page: Any, value: str) -> None:
    page.goto("/console")
    page.get_by_label("Support token").fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def session_cookie(context: Any, live_server: Any) -> dict[str, Any]:
    """The signed session cookie, decoded with the app's own serializer."""
    app = live_server.app
    value = next(
        c["value"] for c in context.cookies() if c["name"] == app.config["SESSION_COOKIE_NAME"]
    )
    serializer = app.session_interface.get_signing_serializer(app)
    return {"raw": value, "data": serializer.loads(value)}


def test_support_signs_in_runs_attaches_and_reads_due_times(
    context: Any, page: Any, live_server: Any, shot: Any
) -> None:
    secret = mint(live_server, "ada@support", "support")
    switch_scenario(page, "api-manager-sandbox-only")  # a report with something to attach

    page.goto("/console")
    page.get_by_label("Support token").fill("mst_00000000_" + "x" * 43)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.error")).to_contain_text("not valid")

    sign_in(page, secret)
    expect(page.locator(".topbar")).to_contain_text("Signed in as ada@support (support)")
    cookie = session_cookie(context, live_server)
    assert secret not in cookie["raw"] and secret not in str(cookie["data"])
    assert cookie["data"]["support"] == {"name": "ada@support", "role": "support"}

    page.get_by_label("Find a site or space").fill("sparrow")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    results = page.locator("main")
    expect(results).to_contain_text("https://sparrow.atlassian.net")
    shot(page, "search", full_page=False)
    with page.expect_navigation():
        page.get_by_role("link", name="OPS", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Space OPS on https://sparrow")

    runs_before = page.locator("#history tbody tr").count()
    with page.expect_navigation():
        page.get_by_role("button", name="Run diagnostics").click()
    assert page.locator("#history tbody tr").count() == runs_before + 1
    expect(page.locator("#history tbody")).to_contain_text("support:ada@support")
    expect(page.locator("#datasets")).to_contain_text("API Manager")

    page.get_by_label("Create a new local ticket").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Attach to a ticket").click()
    confirmation = page.locator("#ticket .flash.success")
    expect(confirmation).to_contain_text(re.compile(r"Report attached to ticket MSUP-\d+"))
    shot(page, "attached", full_page=False)

    with page.expect_navigation():
        confirmation.get_by_role("link", name="See its due times").click()
    due = page.locator("#sla")
    for label in ("Initial response due", "Next update due", "Resolution due"):
        row = due.locator("tr", has_text=label)
        expect(row).to_contain_text(MELBOURNE)
        expect(row).to_contain_text("UTC")
    shot(page, "sla")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Support token")).to_be_visible()
    page.goto("/console/sites/local-demo/spaces/OPS")
    expect(page.get_by_role("heading", level=1)).to_have_text("Please sign in")


def test_a_viewer_reads_but_cannot_act(page: Any, live_server: Any, shot: Any) -> None:
    sign_in(page, mint(live_server, "viv@support", "viewer"))
    page.goto("/console/sites/local-demo/spaces/OPS")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Space OPS")
    expect(page.get_by_role("button", name="Run diagnostics")).to_have_count(0)
    expect(page.get_by_role("button", name="Attach to a ticket")).to_have_count(0)
    expect(page.get_by_role("link", name="Download JSON")).to_have_count(
        1 if page.locator("#history tbody tr").count() else 0
    )
    shot(page, "viewer", full_page=False)


def test_console_fits_a_narrow_window(browser: Any, live_server: Any, shot: Any) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_server.url("/console"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.get_by_label("Support token").fill(mint(live_server, "nia@support", "viewer"))
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        page.goto(live_server.url("/console/sites/local-demo/spaces/OPS"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        shot(page, "375")
    finally:
        context.close()


def test_organization_id_finds_the_site_and_a_ticket_links_its_report(
    page: Any, live_server: Any
) -> None:
    switch_scenario(page, "api-manager-sandbox-only")  # a report with something to attach
    sign_in(page, mint(live_server, "oli@support", "support"))
    page.goto("/console/sites/local-demo/spaces/OPS")
    with page.expect_navigation():
        page.get_by_role("button", name="Run diagnostics").click()
    expect(page.locator("#verdict")).to_be_focused()
    link = page.get_by_role("link", name="Download JSON")
    org = page.evaluate("href => fetch(href).then(r => r.json())", link.get_attribute("href"))
    page.goto(f"/console?q={org['organization_id']}")
    expect(page.locator("main")).to_contain_text("https://sparrow.atlassian.net")

    page.goto("/console/sites/local-demo/spaces/OPS")
    page.get_by_label("Create a new local ticket").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Attach to a ticket").click()
    with page.expect_navigation():
        page.get_by_role("link", name="See its due times").click()
    report = page.locator("#reports").get_by_role("link", name=re.compile("Report for space OPS"))
    with page.expect_navigation():
        report.click()
    expect(page.locator("#verdict")).to_be_focused()
    assert org["run_id"] in page.url
