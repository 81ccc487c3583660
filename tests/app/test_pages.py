"""The self-check and support-console pages through Flask's test client (no browser)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import storage
from app.audit import audit_entries
from app.cli import token
from app.crypto import secret_box
from app.db import get_session
from app.models import Installation, Space
from app.services import demo
from app.tickets import store as ticket_store
from tests.app.conftest import make_app
from tests.diagnostics.render.test_prose import offenders, prose

SITE = "https://sparrow.atlassian.net"
SCOPE_FINDING = "Scope read:api_configuration: not granted for Production (env-prod)"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MULESIGHT_JOB_QUEUE": "sync"}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def plain(html: str) -> str:
    """Visible text, roughly: tags dropped (``<wbr>`` without a space), spaces squeezed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html.replace("<wbr>", ""), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def text_of(response: Any) -> str:
    return plain(response.get_data(as_text=True))


def page(client: FlaskClient, url: str = "/selfcheck") -> tuple[str, str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    return html, csrf(html)


def run(client: FlaskClient, space: str = "OPS") -> str:
    """Run diagnostics from the page; the page shown afterwards."""
    _html, token_ = page(client, f"/selfcheck/{space}")
    response = client.post(f"/selfcheck/{space}/run", data={"csrf_token": token_})
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def switch(client: FlaskClient, scenario: str) -> str:
    _html, token_ = page(client)
    response = client.post(
        "/selfcheck/OPS/scenario", data={"csrf_token": token_, "scenario": scenario}
    )
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def run_id_of(html: str) -> str:
    match = re.search(r"/selfcheck/runs/([0-9a-f-]{36})/report\.json", html)
    assert match
    return match.group(1)


# -- the embedded default ------------------------------------------------------------------------


def test_first_visit_creates_the_demo_tenant(app: Flask, client: FlaskClient) -> None:
    html, _ = page(client)
    assert "No diagnostics run yet" in html
    assert "Simulated Anypoint scenario" in html
    with app.app_context():
        installation = get_session().get(Installation, demo.DEMO_INSTALLATION_ID)
        assert installation is not None and installation.site_url == SITE
        (space,) = storage.list_spaces(get_session(), installation.id)
        assert (space.key, space.scenario) == ("OPS", "api-manager-sandbox-only")


def test_scenario_comes_from_the_configuration(app_config: dict[str, Any]) -> None:
    app = make_app({**app_config, "MULESIGHT_SCENARIO": "stale-caches"})
    try:
        with app.app_context():
            installation = demo.ensure_demo_tenant(get_session(), app.config)
            assert installation is not None
            space = storage.get_space(get_session(), installation.id, "OPS")
            assert space.scenario == "stale-caches"
            # Once created, it is reused.
            assert demo.ensure_demo_tenant(get_session(), app.config) is installation
    finally:
        app.extensions["db"].dispose()


def test_no_demo_next_to_real_installations(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        storage.ensure_installation(get_session(), "ari:real/one", "cloud-1")
        get_session().commit()
    response = client.get("/selfcheck")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "no local demo site" in text_of(response)


def test_live_mode_needs_a_support_session(app_config: dict[str, Any]) -> None:
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        client = app.test_client()
        response = client.get("/selfcheck")
        assert response.status_code == 401
        assert "Please sign in" in text_of(response)
        sign_in(client, mint(app.test_cli_runner(), "ada", "viewer"))
        response = client.get("/selfcheck")
        assert response.status_code == 302 and response.headers["Location"] == "/console"
        assert "Find a site or space" in text_of(client.get("/console"))
        with app.app_context():
            assert get_session().get(Installation, demo.DEMO_INSTALLATION_ID) is None
    finally:
        app.extensions["db"].dispose()


# -- the self-check --------------------------------------------------------------------------------


def test_run_shows_the_report(client: FlaskClient) -> None:
    html = run(client)
    text = plain(html)
    assert "Broken" in text and "Sparrow Logistics" in text
    # The verdict leads; then the one root cause, its fix once, what follows folded beneath.
    assert html.index('id="verdict"') < html.index('id="findings"')
    assert "1 thing to fix (8 findings follow from it" in text
    causes = re.findall(r'<h3 id="cause-(\d+)-h">.*?<span>\d+\. (.*?)</span></h3>', html)
    assert causes == [("1", SCOPE_FINDING)]
    assert "You (Anypoint / Confluence admin)" in text and "customer's admin" not in text
    assert text.count("add the scope read:api_configuration") == 1
    assert '<details class="consequences">' in html and 'href="#cause-1"' in html
    assert "Ask for the steps to reproduce" not in text
    # The failing dataset, what partial data means, and the refused call.
    row = re.search(r'<tr id="dataset-api_manager">.*?</tr>', html, re.S)
    assert row
    row_text = plain(row.group(0))
    assert "partial" in row_text and "refused" in row_text
    assert "API Manager macros show some environments' API instances only" in row_text
    assert "environments/env-prod/apis" in row_text
    # Scopes: where one is missing, by environment name, and what it is validated by.
    assert "Production (env-prod)" in text
    assert "/apimanager/api/v1/organizations/{org_id}/environments/{env_id}/apis" in text
    # Macros and their cause.
    assert "403 from apis (Production)" in text
    assert 'href="https://sparrow.atlassian.net/wiki/pages/viewpage.action?pageId=98304"' in html
    # Exports, history.
    assert "Download JSON" in text and "Download Markdown" in text and "Download HTML" in text
    assert "selfcheck:local-demo" in text


def test_ticket_preview_and_plain_text(client: FlaskClient) -> None:
    html = run(client)
    text = plain(html)
    assert "9 of 11 required details filled in" in text
    assert text.count("still missing") == 2
    area = re.search(r'<textarea id="ticket-text"[^>]*>(.*?)</textarea>', html, re.S)
    assert area
    copy_text = unescape(area.group(1))
    assert copy_text.startswith("h3. (x) MuleSight diagnostics: Broken — 1 thing to fix")
    assert "*Who must act:* You (Anypoint / Confluence admin)" in copy_text
    assert f"* Customer site URL: {SITE}" in copy_text
    assert "* Dataset type: API Manager" in copy_text
    assert "* Reproduction steps: (still to add) Add the steps to reproduce it" in copy_text
    assert "<" not in copy_text  # Jira wiki markup, not HTML
    assert "Copy for Jira" in html


def test_exports_are_the_stored_report(client: FlaskClient) -> None:
    run_id = run_id_of(run(client))
    response = client.get(f"/selfcheck/runs/{run_id}/report.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert json.loads(response.data)["run_id"] == run_id
    markdown = client.get(f"/selfcheck/runs/{run_id}/report.md")
    assert markdown.mimetype == "text/markdown" and run_id in markdown.get_data(as_text=True)
    html = client.get(f"/selfcheck/runs/{run_id}/report.html")
    assert html.mimetype == "text/html" and html.headers["X-Content-Type-Options"] == "nosniff"
    missing = client.get(f"/selfcheck/runs/{run_id}/report.exe")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


@pytest.mark.parametrize("section", ["datasets", "scopes", "macros"])
def test_the_page_and_the_html_report_share_one_template(client: FlaskClient, section: str) -> None:
    shown = switch(client, "api-manager-sandbox-only")
    exported = client.get(f"/selfcheck/runs/{run_id_of(shown)}/report.html").get_data(as_text=True)
    pattern = re.compile(rf'<section id="{section}".*?</section>', re.S)
    on_page, in_report = pattern.search(shown), pattern.search(exported)
    assert on_page and in_report
    # The same template; only the Jinja environments' whitespace handling differs.
    assert re.sub(r"\s+", "", on_page.group(0)) == re.sub(r"\s+", "", in_report.group(0))
    if section == "macros":  # a page named by its title and linked, never a bare id
        assert "“Payments API runbook (Production)”</a>" in on_page.group(0)


@pytest.mark.parametrize(
    "scenario",
    ["invalid-credentials", "upstream-outage", "api-manager-sandbox-only", "stale-caches"],
)
def test_the_page_shows_no_raw_token(client: FlaskClient, scenario: str) -> None:
    shown = switch(client, scenario)
    body = shown.split('id="verdict"', 1)[1].split('<section id="history"', 1)[0]
    assert offenders(prose(body, "html")) == []


def test_switching_to_healthy_shows_what_was_fixed(client: FlaskClient) -> None:
    run(client)
    html = switch(client, "healthy")
    fixed = re.search(r'<div id="diff-fixed">(.*?)</div>', html, re.S)
    assert fixed and "Fixed since last run" in fixed.group(1)
    assert SCOPE_FINDING in unescape(fixed.group(1))
    assert "New since last run (0)" in html
    assert 'value="healthy" selected' in html


def test_an_older_run_can_be_shown(client: FlaskClient) -> None:
    first = run_id_of(run(client))
    switch(client, "healthy")
    html, _ = page(client, f"/selfcheck/OPS?run={first}")
    assert run_id_of(html) == first and "Broken" in html
    assert client.get("/selfcheck/OPS?run=nope").status_code == 404


def test_unknown_scenario_and_space_are_friendly_errors(client: FlaskClient) -> None:
    _html, token_ = page(client)
    response = client.post("/selfcheck/OPS/scenario", data={"csrf_token": token_, "scenario": "x"})
    assert response.status_code == 400 and "Unknown simulated scenario" in text_of(response)
    response = client.get("/selfcheck/NOPE")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Not found" in text_of(response)


def test_every_post_needs_the_csrf_token(client: FlaskClient) -> None:
    page(client)
    for url in ("/selfcheck/OPS/run", "/selfcheck/OPS/scenario", "/console/sign-in"):
        response = client.post(url, data={"csrf_token": "forged", "scenario": "healthy"})
        assert response.status_code == 400, url
        assert "This form has expired" in text_of(response)
    assert client.post("/console/sign-out").status_code == 400


def test_attach_to_a_new_local_ticket(app: Flask, client: FlaskClient) -> None:
    html = run(client)
    run_id = run_id_of(html)
    response = client.post(
        f"/selfcheck/runs/{run_id}/attach", data={"csrf_token": csrf(html), "target": "new"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#ticket")
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Report attached to ticket MSUP-1." in shown
    with app.app_context():
        view = ticket_store.ticket_detail(get_session(), "MSUP-1")
        assert view.ticket.site_url == SITE and view.ticket.severity == "Sev 2"
        assert {a.name for a in view.attachments} == {"report.json", "report.md"}
        assert view.comments


def test_attach_to_an_unknown_ticket_says_so(client: FlaskClient) -> None:
    html = run(client)
    run_id = run_id_of(html)
    for key, message in (("MSUP-99", "No ticket 'MSUP-99'"), ("not a key", "Enter a ticket key")):
        response = client.post(
            f"/selfcheck/runs/{run_id}/attach",
            data={"csrf_token": csrf(html), "target": "existing", "ticket_key": key},
        )
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        assert message in unescape(shown)


def test_no_external_assets_and_accessible_basics(client: FlaskClient) -> None:
    html = run(client)
    for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", html):
        assert not re.search(r'(?:src|href)="https?://', tag), tag
    assert '<a class="skip" href="#main">' in html and '<main id="main"' in html
    assert '<html lang="en">' in html
    # Every input has a label.
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id


def test_no_secret_reaches_the_page(app: Flask, client: FlaskClient) -> None:
    page(client)
    secret = "Sup3r-Secret-Client-Value-0123456789"
    with app.app_context():
        space = get_session().get(Space, 1)
        assert space is not None
        space.client_secret_encrypted = secret_box().encrypt(secret)
        get_session().commit()
    html = run(client)
    run_id = run_id_of(html)
    assert secret not in html
    for ext in ("json", "md", "html"):
        assert secret not in client.get(f"/selfcheck/runs/{run_id}/report.{ext}").get_data(
            as_text=True
        )


# -- the support console ---------------------------------------------------------------------------


def mint(runner: FlaskCliRunner, name: str, role: str) -> str:
    result = runner.invoke(token, ["create", "--name", name, "--role", role])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def sign_in(client: FlaskClient, value: str) -> Any:
    _html, token_ = page(client, "/console")
    return client.post("/console/sign-in", data={"csrf_token": token_, "token": value})


@pytest.fixture
def support(client: FlaskClient, runner: FlaskCliRunner) -> Iterator[str]:
    value = mint(runner, "ada", "support")
    assert sign_in(client, value).status_code == 303
    yield value


def test_console_sign_in_keeps_only_name_and_role(
    app: Flask, client: FlaskClient, support: str
) -> None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and support not in cookie.value
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    assert data["support"] == {"name": "ada", "role": "support"}
    assert cookie.http_only and cookie.same_site == "Lax"
    assert "Signed in as ada (support)" in text_of(client.get("/console"))


def test_console_rejects_a_bad_token(client: FlaskClient) -> None:
    response = sign_in(client, "mst_00000000_" + "a" * 43)
    assert response.status_code == 303
    assert "not valid" in text_of(client.get("/console"))
    assert client.get("/console/sites/local-demo/spaces/OPS").status_code == 401


def test_console_search_run_attach_and_due_times(
    app: Flask, client: FlaskClient, support: str
) -> None:
    results = text_of(client.get("/console?q=sparrow"))
    assert SITE in results and "OPS" in results
    assert "No site or space matches" in text_of(client.get("/console?q=nothing-like-it"))
    assert SITE in text_of(client.get("/console?q=OPS"))  # a space key finds its site

    html, token_ = page(client, "/console/sites/local-demo/spaces/OPS")
    assert "Space OPS on https://sparrow.atlassian.net" in unescape(html)
    response = client.post("/console/sites/local-demo/spaces/OPS/run", data={"csrf_token": token_})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "support:ada" in html
    org = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11"  # as the latest report names it
    assert SITE in text_of(client.get(f"/console?q={org}"))
    match = re.search(r'action="(/console/sites/local-demo/runs/([0-9a-f-]{36})/attach)"', html)
    assert match
    response = client.post(match.group(1), data={"csrf_token": token_, "target": "new"})
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Report attached to ticket MSUP-1." in shown
    assert '<a href="/console/ticket?key=MSUP-1">See its due times</a>' in shown

    due = text_of(client.get("/console/ticket?key=MSUP-1"))
    assert "Due times (Sev 2" in due
    for label in ("Initial response due", "Next update due", "Resolution due"):
        assert re.search(label + r" \d{2} \w{3} \d{4} \d{2}:\d{2} AE[DS]T \d{4}-", due)
    assert "Report for space OPS" in due  # the ticket page links the report attached to it
    ticket_page = client.get("/console/ticket?key=MSUP-1").get_data(as_text=True)
    assert f'run={match.group(2)}#verdict"' in unescape(ticket_page)
    assert client.get("/console/ticket?key=MSUP-404").status_code == 404
    export = client.get(f"/console/sites/local-demo/runs/{match.group(2)}/report.json")
    assert export.status_code == 200

    with app.app_context():
        actions = {e.action for e in audit_entries(get_session())}
    assert {"console.sign_in", "site.read", "run.read", "run.create", "run.attach"} <= actions
    assert {"ticket.read", "run.export"} <= actions


def test_a_viewer_cannot_run_or_attach(client: FlaskClient, runner: FlaskCliRunner) -> None:
    sign_in(client, mint(runner, "viv", "viewer"))
    html, token_ = page(client, "/console/sites/local-demo/spaces/OPS")
    assert "Run diagnostics</button>" not in html
    response = client.post("/console/sites/local-demo/spaces/OPS/run", data={"csrf_token": token_})
    assert response.status_code == 403 and "support" in text_of(response)


def test_revoking_the_token_ends_the_console_session(
    client: FlaskClient, runner: FlaskCliRunner, support: str
) -> None:
    assert runner.invoke(token, ["revoke", "ada"]).exit_code == 0
    assert "Support token" in text_of(client.get("/console"))
    assert client.get("/console/sites/local-demo/spaces/OPS").status_code == 401


def test_sign_out(client: FlaskClient, support: str) -> None:
    _html, token_ = page(client, "/console")
    assert client.post("/console/sign-out", data={"csrf_token": token_}).status_code == 303
    assert "Signed out." in text_of(client.get("/console"))
    assert client.get("/console/sites/local-demo/spaces/OPS").status_code == 401


def test_an_unexpected_error_is_a_friendly_page(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _html, token_ = page(client)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom: client_secret=hunter2")

    monkeypatch.setattr("app.services.runs.run_for_space", broken)
    response = client.post("/selfcheck/OPS/run", data={"csrf_token": token_})
    assert response.status_code == 500 and response.mimetype == "text/html"
    text = text_of(response)
    assert "Something went wrong" in text and "request id" in text
    assert "boom" not in text and "hunter2" not in text
