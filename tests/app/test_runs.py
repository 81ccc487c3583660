"""Diagnostics runs through /forge/v1/runs and the runs service, on simulated scenarios."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from app.confluence import ConfluenceError
from app.models import DiagnosticRun, Installation, Space
from app.services import runs
from diagnostics import engine
from diagnostics.model import MacroPage, MacroPlacement
from diagnostics.report_schema import validate_report
from tests.app.conftest import ACCOUNT, CLOUDS, SITE_A, SITE_B

URL = "/forge/v1/runs"
CANARY = "canary-Zq8xW3vT9kLmN2pR5sYb"  # planted as a client secret: must never come back
SANDBOX_ONLY = "api-manager-sandbox-only"
Headers = Callable[..., dict[str, str]]
CONTENT_TYPES = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "ticket": "text/plain; charset=utf-8",
}


# -- helpers shared by the run test modules -------------------------------------------------------


def add_space(
    app: Flask, site: str, key: str, *, scenario: str | None = None, secret: str | None = CANARY
) -> None:
    """A connected space of ``site`` (registered on first use) on a simulated ``scenario``."""
    with app.extensions["db"].session() as session:
        if session.get(Installation, site) is None:
            storage.ensure_installation(session, site, CLOUDS.get(site, f"cloud-{site[-4:]}"))
        space = storage.save_connection(
            session,
            app.extensions["secret_box"],
            site,
            space_key=key,
            client_id="mulesight-test-client",
            control_plane="us",
            sync_interval_hours=24,
            client_secret=secret,
        )
        space.scenario = scenario
        session.commit()


def set_scenario(app: Flask, site: str, key: str, scenario: str) -> None:
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, site, key)
        space.scenario = scenario
        session.commit()


def stored_reports(app: Flask) -> str:
    """Every stored report as raw JSON text, straight from the table."""
    with app.extensions["db"].engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT report FROM diagnostic_runs")).scalars().all()
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows)


def start_run(client: FlaskClient, headers: dict[str, str], space_key: str = "OPS") -> Any:
    response = client.post(URL, json={"space_key": space_key}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture(autouse=True)
def spaces(app: Flask) -> None:
    add_space(app, SITE_A, "OPS", scenario=SANDBOX_ONLY)
    add_space(app, SITE_A, "DOCS", scenario="healthy")
    add_space(app, SITE_B, "BONLY", scenario="healthy")


# -- starting a run ---------------------------------------------------------------------------------


def test_a_run_stores_a_valid_report(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    body = start_run(client, forge_headers(SITE_A))
    assert body["verdict"] == "broken"
    assert body["space_key"] == "OPS"
    assert body["requested_by"] == f"forge:{ACCOUNT}"
    report = body["report"]
    assert report["run_id"] == body["id"]
    assert report["space_key"] == "OPS"
    assert report["verdict"] == "broken"
    validate_report(report)
    with app.extensions["db"].session() as session:
        run = session.get(DiagnosticRun, body["id"])
        assert run is not None
        space = storage.get_space(session, SITE_A, "OPS")
        assert (run.installation_id, run.space_id, run.verdict) == (SITE_A, space.id, "broken")
        assert run.requested_by == f"forge:{ACCOUNT}"
        assert run.report == report
        validate_report(run.report)


@pytest.mark.parametrize(
    ("scenario", "verdict"),
    [("healthy", "healthy"), (SANDBOX_ONLY, "broken"), ("stale-caches", "broken")],
)
def test_the_verdict_follows_the_scenario(
    app: Flask, client: FlaskClient, forge_headers: Headers, scenario: str, verdict: str
) -> None:
    set_scenario(app, SITE_A, "OPS", scenario)
    assert start_run(client, forge_headers(SITE_A))["verdict"] == verdict


def test_the_space_alias_is_accepted(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.post(URL, json={"space": "DOCS"}, headers=forge_headers(SITE_A))
    assert response.status_code == 201
    assert response.json["verdict"] == "healthy"


def test_an_unknown_scenario_is_a_conflict(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    set_scenario(app, SITE_A, "OPS", "no-such-scenario")
    response = client.post(URL, json={"space_key": "OPS"}, headers=forge_headers(SITE_A))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "scenario_unavailable"


def test_runs_need_a_forge_token(client: FlaskClient) -> None:
    assert client.post(URL, json={"space_key": "OPS"}).status_code == 401
    assert client.get(URL).status_code == 401


# -- reading runs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "text", "ticket"])
def test_report_formats(client: FlaskClient, forge_headers: Headers, fmt: str) -> None:
    run = start_run(client, forge_headers(SITE_A))
    response = client.get(f"{URL}/{run['id']}?format={fmt}", headers=forge_headers(SITE_A))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    text = response.get_data(as_text=True)
    assert "read:api_configuration" in text
    if fmt == "json":
        assert response.json == run["report"]
    if fmt == "html":
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_json_is_the_default_format(client: FlaskClient, forge_headers: Headers) -> None:
    run = start_run(client, forge_headers(SITE_A))
    response = client.get(f"{URL}/{run['id']}", headers=forge_headers(SITE_A))
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["run_id"] == run["id"]


def test_list_runs_newest_first(client: FlaskClient, forge_headers: Headers) -> None:
    headers = forge_headers(SITE_A)
    first = start_run(client, headers, "OPS")["id"]
    second = start_run(client, headers, "DOCS")["id"]
    third = start_run(client, headers, "OPS")["id"]
    listing = client.get(URL, headers=headers).json
    assert [r["id"] for r in listing] == [third, second, first]
    assert listing[0] == {
        "id": third,
        "installation_id": SITE_A,
        "space_key": "OPS",
        "verdict": "broken",
        "requested_by": f"forge:{ACCOUNT}",
        "created_at": listing[0]["created_at"],
    }
    ops = client.get(f"{URL}?space_key=OPS", headers=headers).json
    assert [r["id"] for r in ops] == [third, first]
    assert [r["id"] for r in client.get(f"{URL}?limit=1", headers=headers).json] == [third]


def test_diff_after_a_fix_lists_the_scope_finding_as_fixed(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    headers = forge_headers(SITE_A)
    before = start_run(client, headers)
    set_scenario(app, SITE_A, "OPS", "healthy")
    after = start_run(client, headers)
    assert after["verdict"] == "healthy"
    response = client.get(f"{URL}/{after['id']}/diff", headers=headers)
    assert response.status_code == 200
    diff = response.json
    assert diff["before"]["run_id"] == before["id"]
    assert diff["after"]["run_id"] == after["id"]
    assert diff["verdict"] == {"before": "broken", "after": "healthy"}
    fixed = {f["key"] for f in diff["fixed"]}
    assert "scope.partial:read:api_configuration" in fixed
    assert diff["new"] == [] and diff["still_open"] == []
    assert {"key": "read:api_configuration", "before": "partial", "after": "full"} in diff["scopes"]
    explicit = client.get(f"{URL}/{after['id']}/diff?against={before['id']}", headers=headers)
    assert explicit.json == diff


def test_diff_without_an_earlier_run(client: FlaskClient, forge_headers: Headers) -> None:
    headers = forge_headers(SITE_A)
    start_run(client, headers, "DOCS")  # another space's run is not "previous"
    run = start_run(client, headers, "OPS")
    response = client.get(f"{URL}/{run['id']}/diff", headers=headers)
    assert response.status_code == 200, response.json
    diff = response.json
    assert diff["before"] is None and diff["after"]["run_id"] == run["id"]
    assert "nothing to compare" in diff["message"]
    assert diff["verdict"] == {"before": None, "after": run["verdict"]}
    assert diff["fixed"] == diff["new"] == diff["still_open"] == []


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("?format=pdf", "format"),
        ("?format=", "format"),
    ],
)
def test_unknown_format(client: FlaskClient, forge_headers: Headers, path: str, field: str) -> None:
    run = start_run(client, forge_headers(SITE_A))
    response = client.get(f"{URL}/{run['id']}{path}", headers=forge_headers(SITE_A))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {field}


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_bad_limit(client: FlaskClient, forge_headers: Headers, limit: str) -> None:
    response = client.get(f"{URL}?limit={limit}", headers=forge_headers(SITE_A))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"limit"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "space_key"),
        ({"space_key": "no spaces"}, "space_key"),
        ({"scope": "galaxy"}, "scope"),
        ({"scope": "site", "space_key": "no spaces"}, "space_key"),
        ({"space_key": "OPS", "x": 1}, "x"),
    ],
)
def test_bad_run_body(
    client: FlaskClient, forge_headers: Headers, body: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=body, headers=forge_headers(SITE_A))
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_unknown_space(client: FlaskClient, forge_headers: Headers) -> None:
    for response in (
        client.post(URL, json={"space_key": "NOPE"}, headers=forge_headers(SITE_A)),
        client.get(f"{URL}?space_key=NOPE", headers=forge_headers(SITE_A)),
    ):
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
        assert "'NOPE'" in response.json["error"]["message"]


def test_unknown_run_and_unknown_against(client: FlaskClient, forge_headers: Headers) -> None:
    headers = forge_headers(SITE_A)
    assert (
        client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=headers).status_code
        == 404
    )
    run = start_run(client, headers)
    response = client.get(f"{URL}/{run['id']}/diff?against=nope", headers=headers)
    assert response.status_code == 404


# -- secrets ------------------------------------------------------------------------------------


def test_no_client_secret_in_reports_or_responses(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    headers = forge_headers(SITE_A)
    bodies = []
    first = client.post(URL, json={"space_key": "OPS"}, headers=headers)
    set_scenario(app, SITE_A, "OPS", "healthy")
    second = client.post(URL, json={"space_key": "OPS"}, headers=headers)
    bodies += [first.get_data(as_text=True), second.get_data(as_text=True)]
    run_id = second.json["id"]
    for fmt in CONTENT_TYPES:
        bodies.append(
            client.get(f"{URL}/{run_id}?format={fmt}", headers=headers).get_data(as_text=True)
        )
    bodies.append(client.get(URL, headers=headers).get_data(as_text=True))
    bodies.append(client.get(f"{URL}/{run_id}/diff", headers=headers).get_data(as_text=True))
    bodies.append(stored_reports(app))
    assert all(bodies)
    for body in bodies:
        assert CANARY not in body
        assert CANARY[8:20] not in body


# -- the service: live page search --------------------------------------------------------------


@pytest.fixture
def live_anypoint() -> Iterator[responses.RequestsMock]:
    """Anypoint refuses every call (a quick run); nothing leaves the machine."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        anypoint = re.compile(r"https://anypoint\.mulesoft\.com/.*")
        mock.add(responses.POST, anypoint, status=401, json={"error": "invalid_client"})
        mock.add(responses.GET, anypoint, status=401, json={"error": "unauthorized"})
        yield mock


def _live_run(app: Flask, **kwargs: Any) -> DiagnosticRun:
    config = {**app.config, "MULESIGHT_ANYPOINT_MODE": "live"}
    with app.extensions["db"].session() as session:
        space: Space = storage.get_space(session, SITE_A, "OPS")
        return runs.run_for_space(
            session,
            space,
            config=config,
            box=app.extensions["secret_box"],
            requested_by="test",
            **kwargs,
        )


def test_live_run_uses_the_page_search(
    app: Flask, live_anypoint: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, str | None]] = []
    page = MacroPage("4242", "Payments runbook", "OPS", (MacroPlacement("environment-summary"),))

    def search(base_url: str, token: str, *, space_key: str, **_: Any) -> list[MacroPage]:
        calls.append((base_url, token, space_key))
        return [page]

    monkeypatch.setattr(runs, "find_macro_pages", search)
    run = _live_run(app, system_token="sys-token-Qw7", api_base_url="https://api.example/ex/c")
    assert calls == [("https://api.example/ex/c", "sys-token-Qw7", "OPS")]
    macros = run.report["macros"]
    assert [(m["page_id"], m["status"]) for m in macros] == [("4242", "not_rendered")]
    assert "notes" not in run.report
    assert run.report["datasets"]["exchange"]["coverage"] == "none"
    assert "sys-token-Qw7" not in json.dumps(run.report)


def test_live_run_falls_back_when_confluence_fails(
    app: Flask, live_anypoint: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def search(*_: Any, **__: Any) -> list[MacroPage]:
        raise ConfluenceError("Confluence refused the app token (HTTP 401)", status=401)

    monkeypatch.setattr(runs, "find_macro_pages", search)
    run = _live_run(app, system_token="sys-token")
    assert run.report["macros"] == []
    assert len(run.report["notes"]) == 1
    assert "HTTP 401" in run.report["notes"][0]
    validate_report(run.report)


def test_a_system_token_in_a_note_is_redacted_in_the_one_pass_of_the_engine(
    app: Flask, live_anypoint: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored report is the single redacted artifact: the service's notes and the Forge
    token go through the engine's redaction with the rest, not through a second pass."""
    passes: list[int] = []
    real = engine.redact_report

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        passes.append(1)
        return real(*args, **kwargs)

    def search(_base: str, token: str, **_: Any) -> list[MacroPage]:
        raise ConfluenceError(f"Confluence refused {token} (HTTP 401)", status=401)

    monkeypatch.setattr(runs, "find_macro_pages", search)
    monkeypatch.setattr(engine, "redact_report", counting)
    monkeypatch.setattr(runs, "redact_report", counting, raising=False)  # no second pass here
    run = _live_run(app, system_token="sys-token-Zr84Kq2Lp")
    assert "sys-token-Zr84Kq2Lp" not in json.dumps(run.report)
    assert "Confluence refused" in run.report["notes"][0]
    assert passes == [1]
    validate_report(run.report)


def test_live_run_without_a_system_token_skips_the_search(
    app: Flask, live_anypoint: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "find_macro_pages", pytest.fail)
    run = _live_run(app)
    assert run.verdict == "broken"
    assert "notes" not in run.report


def test_simulated_runs_never_search_confluence(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "find_macro_pages", pytest.fail)
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, SITE_A, "DOCS")
        run = runs.run_for_space(
            session,
            space,
            config=app.config,
            box=app.extensions["secret_box"],
            requested_by="test",
            system_token="sys-token",
        )
    assert run.verdict == "healthy"
    assert {m["page_id"] for m in run.report["macros"]} >= {"98304"}


def test_run_for_site(app: Flask) -> None:
    with app.extensions["db"].session() as session:
        installation = session.get(Installation, SITE_A)
        assert installation is not None
        kwargs: dict[str, Any] = {
            "config": app.config,
            "box": app.extensions["secret_box"],
            "requested_by": "webhook:MSUP-1",
        }
        every = runs.run_for_site(session, installation, **kwargs)
        assert [(r.report["space_key"], r.verdict) for r in every] == [
            ("DOCS", "healthy"),
            ("OPS", "broken"),
        ]
        named = runs.run_for_site(session, installation, space_keys=["OPS"], **kwargs)
        assert [r.report["space_key"] for r in named] == ["OPS"]
        assert {r.requested_by for r in every + named} == {"webhook:MSUP-1"}
        with pytest.raises(storage.NotFound):
            runs.run_for_site(session, installation, space_keys=["OPS", "BONLY"], **kwargs)
        assert len(runs.list_runs(session, SITE_A)) == 3


def test_a_slow_page_search_does_not_eat_the_run_budget(
    app: Flask, live_anypoint: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[str] = []

    def search(base_url: str, *_: Any, **__: Any) -> list[MacroPage]:
        calls.append(base_url)
        release.wait(5)
        return []

    monkeypatch.setattr(runs, "find_macro_pages", search)
    monkeypatch.setattr(runs, "PAGE_SEARCH_BUDGET_S", 0.05)
    try:
        run = _live_run(app, system_token="sys-token")
    finally:
        release.set()
    assert calls == [f"https://api.atlassian.com/ex/confluence/{CLOUDS[SITE_A]}"]
    assert "longer than 0.05 s" in run.report["notes"][0]
    assert run.report["deadline_s"] <= 20


# -- the site self-check -----------------------------------------------------------------------------


def test_the_site_self_check_runs_every_space_and_lists_only_its_runs(
    client: FlaskClient, forge_headers: Headers
) -> None:
    headers = forge_headers(SITE_A)
    space_run = start_run(client, headers, "OPS")  # from the space page: not a self-check run

    response = client.post(URL, json={"scope": "site"}, headers=headers)
    assert response.status_code == 201, response.json
    check = response.json
    assert check["scope"] == "site"
    assert sorted(r["space_key"] for r in check["runs"]) == ["DOCS", "OPS"]  # never SITE_B's
    assert check["verdict"] == "broken"  # the worst: OPS is on the sandbox-only scenario
    assert all(r["report"]["schema_version"] == 1 for r in check["runs"])

    one = client.post(URL, json={"scope": "site", "space_key": "DOCS"}, headers=headers)
    assert one.status_code == 201, one.json
    assert [r["space_key"] for r in one.json["runs"]] == ["DOCS"]

    listed = client.get(f"{URL}?scope=site", headers=headers).json
    assert len(listed) == 3 and space_run["id"] not in {r["id"] for r in listed}
    assert all(r["requested_by"].startswith("self-check:") for r in listed)
    everything = client.get(URL, headers=headers).json
    assert space_run["id"] in {r["id"] for r in everything}
    other_site = client.get(f"{URL}?scope=site", headers=forge_headers(SITE_B)).json
    assert other_site == []


def test_the_self_check_lists_the_sites_spaces(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.get("/forge/v1/spaces", headers=forge_headers(SITE_A))
    assert response.status_code == 200
    assert sorted(s["space_key"] for s in response.json) == ["DOCS", "OPS"]  # never SITE_B's
    assert all(set(s) == {"space_key", "updated_at"} for s in response.json)


def test_the_self_check_of_an_unknown_space_is_404(
    client: FlaskClient, forge_headers: Headers
) -> None:
    response = client.post(
        URL, json={"scope": "site", "space_key": "BONLY"}, headers=forge_headers(SITE_A)
    )
    assert response.status_code == 404
