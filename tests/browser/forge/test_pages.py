"""The space page, the self-check and the space settings in Chromium, against the real backend."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser import requires_chromium
from tests.browser.forge.conftest import Forge, assert_small_live_regions, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.node, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RUN_TIME = re.compile(r"^\d{1,2} [A-Z][a-z]{2,3} \d{4} \d\d:\d\d AE[DS]T$")


def space_context(space_key: str, module_key: str) -> dict[str, Any]:
    return {"moduleKey": module_key, "extension": {"space": {"key": space_key}}}


def open_dashboard(page: Any, forge: Forge, space_key: str) -> None:
    forge.open(page, "space-page", space_context(space_key, "mulesight-dashboard"))
    expect(page.locator("#runs")).not_to_contain_text("Loading")


# -- the space page ------------------------------------------------------------------------------


def test_the_space_page_leads_with_the_root_cause_and_compares_with_the_previous_run(
    page: Any, forge: Forge, shot: Any
) -> None:
    forge.connect("OPS", "api-manager-sandbox-only")
    open_dashboard(page, forge, "OPS")
    expect(page.locator("#current-run")).to_contain_text("Run diagnostics to check")
    run = page.get_by_role("button", name="Run diagnostics")
    run.click()
    expect(page.locator("#run-progress")).to_have_text("Diagnostics finished.")
    report = page.locator("#current-run")
    expect(report).to_contain_text("there is nothing to compare it with yet")
    # The one thing to fix comes first: the first cause, before any detail table.
    first = report.locator("li.cause").first
    expect(first).to_contain_text("read:api_configuration")
    expect(first).to_contain_text("Must fix")
    order = page.evaluate(
        """() => { const r = document.getElementById('current-run');
                   const cause = r.querySelector('li.cause'), details = r.querySelector('details:not(li details)');
                   return cause.compareDocumentPosition(details) & Node.DOCUMENT_POSITION_FOLLOWING; }"""
    )
    assert order, "the root cause is not above the details"
    box = first.bounding_box()
    assert box is not None and box["y"] < 400, f"the root cause starts {box} px down"

    run.click()
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    expect(report).to_contain_text("Compared with the run of")
    expect(report).to_contain_text("still broken")
    runs_text = page.locator("#runs").inner_text()
    assert not UUID.search(runs_text), "runs are named by UUID"
    when = page.locator("#runs tbody tr td:first-child").all_inner_texts()
    assert all(RUN_TIME.match(w) for w in when), when
    expect(page.locator("#runs tbody tr").first).to_contain_text("Broken")
    # Opening the older run shows its report (it is the first run: nothing to compare).
    page.locator("#runs tbody tr").nth(1).get_by_role("button").click()
    expect(report).to_contain_text("nothing to compare")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shot(page, "space-page")
    assert_small_live_regions(page)
    assert axe_violations(page) == []


def test_the_refresh_picker_refreshes_every_entry(page: Any, forge: Forge) -> None:
    forge.connect("REF", "healthy")
    open_dashboard(page, forge, "REF")
    picker = page.get_by_label("Dataset")
    status = page.locator("#refresh-status")
    for value, expected in [
        ("rovo", "Runtime Manager: Refreshed"),
        ("api_manager", "API Manager: Refreshed"),
    ]:
        picker.select_option(value)
        page.get_by_role("button", name="Refresh", exact=True).click()
        expect(status).to_contain_text(expected)
    picker.select_option("endpoints")
    refresh = page.get_by_role("button", name="Refresh", exact=True)
    refresh.click()  # nothing cached yet and no asset named: the page asks, without a 422
    expect(status).to_contain_text("name one")
    page.get_by_label("Exchange asset (for Endpoints)").fill(
        "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11/orders-system-api"
    )
    refresh.click()
    expect(status).to_contain_text("Endpoints: Refreshed")
    page.get_by_label("Exchange asset (for Endpoints)").fill("")
    refresh.click()  # now the cached asset is refreshed again
    expect(status).to_contain_text("Endpoints: Refreshed")
    statuses = [c["status"] for c in forge.remote_calls if c["path"] == "/forge/v1/refresh"]
    assert statuses and all(s == 200 for s in statuses), statuses


def test_a_run_that_is_still_running_is_polled_until_done(page: Any, forge: Forge) -> None:
    """The asynchronous run API: 202 {id, state} from POST and from GET until the run is done."""
    forge.connect("ASYNC", "healthy")
    open_dashboard(page, forge, "ASYNC")
    forge.pending = {("POST", "/forge/v1/runs"): 1, ("GET", "/forge/v1/runs/"): 1}
    page.get_by_role("button", name="Run diagnostics").click()
    expect(page.locator("#run-progress")).to_contain_text(
        re.compile("Diagnostics (queued|running)")
    )
    expect(page.locator("#run-progress")).to_have_text("Diagnostics finished.", timeout=20_000)
    expect(page.locator("#current-run .verdict")).to_contain_text(
        "Degraded"
    )  # endpoints never seeded
    gets = [
        c
        for c in forge.remote_calls
        if c["method"] == "GET" and UUID.fullmatch(c["path"].rsplit("/", 1)[-1])
    ]
    assert len(gets) >= 2  # polled while running, then read the finished report


def test_the_reports_root_causes_come_first_in_their_order(page: Any, forge: Forge) -> None:
    """With ``root_causes`` (report.md, "Root causes") the page follows it, worst first."""
    forge.connect("ROOTS", "api-manager-sandbox-only")
    chosen: list[str] = []

    def with_root_causes(method: str, path: str, body: Any) -> Any:
        if method == "GET" and isinstance(body, dict) and "findings" in body:
            roots = [f["key"] for f in body["findings"] if f["status"] == "warn"][:2]
            chosen[:] = roots
            return {**body, "root_causes": roots}
        return body

    forge.rewrite = with_root_causes
    forge.api("POST", "/forge/v1/runs", {"space_key": "ROOTS"})
    open_dashboard(page, forge, "ROOTS")
    causes = page.locator("#current-run li.cause .cause-title strong")
    expect(causes).to_have_count(2)
    titles = causes.all_inner_texts()
    report = forge.api(
        "GET", f"/forge/v1/runs/{forge.api('GET', '/forge/v1/runs?space_key=ROOTS')[0]['id']}"
    )
    by_key = {f["key"]: f["title"] for f in report["findings"]}
    assert len(chosen) == 2
    assert sorted(titles) == sorted(by_key[k] for k in chosen)


# -- the self-check ------------------------------------------------------------------------------


def test_the_self_check_runs_for_the_site_and_lists_its_own_runs(
    page: Any, forge: Forge, shot: Any
) -> None:
    forge.connect("SELFA", "healthy")
    forge.connect("SELFB", "api-manager-sandbox-only")
    forge.api("POST", "/forge/v1/runs", {"space_key": "SELFA"})  # a space page run: not listed
    forge.open(page, "global-settings", {"moduleKey": "mulesight-self-check", "extension": {}})
    runs = page.locator("#self-check-runs")
    expect(runs).not_to_contain_text("Loading")
    before = runs.locator("tbody tr").count()

    page.get_by_role("button", name="Run the self-check").click()
    expect(page.locator("#check-progress")).to_contain_text("spaces checked")
    result = page.locator("#check-result")
    expect(result).to_contain_text("Space SELFA")
    expect(result).to_contain_text("Space SELFB")
    expect(result.locator(".space-result", has_text="Space SELFB")).to_contain_text(
        "read:api_configuration"
    )
    checked = len(result.locator(".space-result").all())
    expect(runs.locator("tbody tr")).to_have_count(before + checked)
    assert all(c["status"] == 201 for c in forge.remote_calls if c["method"] == "POST")

    page.get_by_label("Spaces to check").select_option("SELFB")
    page.get_by_role("button", name="Run the self-check").click()
    expect(page.locator("#check-progress")).to_have_text("Self-check finished: one space checked.")
    expect(result.locator(".space-result")).to_have_count(1)
    expect(runs.locator("tbody tr")).to_have_count(before + checked + 1)
    assert not UUID.search(runs.inner_text())
    shot(page, "self-check")
    assert_small_live_regions(page)
    assert axe_violations(page) == []

    options = page.get_by_label("Spaces to check").locator("option").all_inner_texts()
    assert options[0] == "Every configured space" and "Space SELFA" in options


# -- the space settings ----------------------------------------------------------------------------


def test_space_settings_save_show_field_messages_and_the_scopes_table(
    page: Any, forge: Forge, shot: Any
) -> None:
    forge.open(page, "space-settings", space_context("NEWSP", "mulesight-space-settings"))
    state = page.locator("#connection-state")
    expect(state).to_contain_text("Not connected yet")
    expect(page.locator("#scopes")).to_contain_text("once the connection is saved")

    page.get_by_label("Connected app client ID").fill("mulesight-connected-app")
    page.get_by_label("Client secret").fill("browser-secret-4Kx9")
    page.get_by_label("Control plane").select_option("custom")
    page.get_by_label("Custom base URL").fill("http://10.0.0.5")
    page.get_by_role("button", name="Save connection").click()
    message = page.locator("#base_url-error")
    expect(message).to_be_visible()
    assert (
        "https" in message.inner_text()
        or "public" in message.inner_text()
        or "private" in message.inner_text()
    )
    expect(page.get_by_label("Custom base URL")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#save-status")).to_contain_text("Check the highlighted field")
    assert "Invalid fields" not in page.locator("#root").inner_text()

    page.get_by_label("Control plane").select_option("us")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator("#save-status")).to_have_text("Connection saved.")
    expect(state).to_contain_text(
        "Connected with client ID mulesight-connected-app and a stored secret"
    )
    expect(page.locator("#base_url-error")).to_be_hidden()
    scopes = page.locator("#scopes table")
    expect(scopes).to_be_visible()
    expect(scopes.locator("thead")).to_contain_text("Why MuleSight needs it")
    expect(scopes).to_contain_text("read:orgenvironments")
    scope_calls = [c for c in forge.remote_calls if c["path"].startswith("/forge/v1/scopes")]
    assert scope_calls and all("format=json" in c["path"] for c in scope_calls)

    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-status")).to_contain_text("The connection works")
    shot(page, "space-settings")
    assert_small_live_regions(page)
    assert axe_violations(page) == []


def test_settings_of_a_connected_space_load_its_state(page: Any, forge: Forge) -> None:
    forge.connect("KNOWN", "healthy")
    forge.open(page, "space-settings", space_context("KNOWN", "mulesight-space-settings"))
    expect(page.locator("#connection-state")).to_contain_text(
        "Connected with client ID mulesight-browser-test"
    )
    expect(page.get_by_label("Connected app client ID")).to_have_value("mulesight-browser-test")
    expect(page.locator("#scopes table tbody tr").first).to_be_visible()
    page.get_by_label("Sync interval (hours)").fill("12")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator("#save-status")).to_have_text("Connection saved.")
    saved = forge.api("GET", "/forge/v1/connection?space_key=KNOWN")
    assert saved["sync_interval_hours"] == 12
    assert saved["scenario"] == "healthy" and saved["client_secret_set"] is True  # both kept


def test_the_macro_configuration_saves_the_config(page: Any, forge: Forge) -> None:
    forge.open(
        page,
        "macro-config",
        {"moduleKey": "api-manager-instance", "extension": {"config": {"mode": "security"}}},
    )
    expect(page.get_by_label("Mode")).to_have_value("security")
    page.get_by_label("API instance ID").fill("19909723")
    page.get_by_label("Environment (name or ID; empty for the default)").fill("Production")
    page.get_by_role("button", name="Save").click()
    submitted = page.evaluate("window.__forge.calls.filter(c => c.cmd === 'submit')")
    assert submitted[0]["payload"] == {
        "config": {"environment": "Production", "mode": "security", "target": "19909723"}
    }
    assert axe_violations(page) == []
