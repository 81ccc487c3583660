"""Support routes (/support/v1): sites, spaces, runs of any tenant; roles enforced; reads audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event

from app.audit import audit_entries
from app.cli import token
from app.models import Installation
from app.storage import runs as run_store
from tests.app.conftest import CLOUD_A, SITE_A, SITE_B
from tests.app.test_runs import CANARY, SANDBOX_ONLY, add_space, set_scenario, stored_reports

SITE_A_URL = "https://acme.atlassian.net"
SITE_B_URL = "https://globex.atlassian.net"
A_KEY = SITE_A.rsplit("/", 1)[1]
B_KEY = SITE_B.rsplit("/", 1)[1]


@pytest.fixture
def app_config(app_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    """Every test here on SQLite and on PostgreSQL (skipped when no server answers)."""
    return {**app_config, "MULESIGHT_DATABASE_URL": database_url}


@pytest.fixture(autouse=True)
def sites(app: Flask) -> None:
    add_space(app, SITE_A, "OPS", scenario=SANDBOX_ONLY)
    add_space(app, SITE_A, "DOCS", scenario="healthy")
    add_space(app, SITE_B, "BONLY", scenario="healthy")
    with app.extensions["db"].session() as session:
        for site, url, cloud in ((SITE_A, SITE_A_URL, CLOUD_A), (SITE_B, SITE_B_URL, "cloud-b")):
            installation = session.get(Installation, site)
            assert installation is not None
            installation.site_url, installation.cloud_id = url, cloud
        session.commit()


def mint(runner: FlaskCliRunner, name: str, role: str) -> dict[str, str]:
    result = runner.invoke(token, ["create", "--name", name, "--role", role])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


@pytest.fixture
def viewer(runner: FlaskCliRunner) -> dict[str, str]:
    return mint(runner, "val", "viewer")


@pytest.fixture
def support(runner: FlaskCliRunner) -> dict[str, str]:
    return mint(runner, "sam", "support")


def entries(app: Flask, installation: str | None = None) -> list[tuple[Any, ...]]:
    """Audit entries of run/site reads, oldest first (token management left out)."""
    with app.extensions["db"].session() as session:
        found = audit_entries(session, installation, limit=500)
    return [
        (e.actor, e.action, e.installation_id, e.space_key, e.target)
        for e in reversed(found)
        if not e.action.startswith("support_token")
    ]


def start(
    client: FlaskClient, headers: dict[str, str], site: str = A_KEY, space: str = "OPS"
) -> Any:
    response = client.post(f"/support/v1/sites/{site}/spaces/{space}/runs", headers=headers)
    assert response.status_code == 201, response.json
    return response.json


# -- sites and spaces --------------------------------------------------------------------------


def test_site_search(app: Flask, client: FlaskClient, viewer: dict[str, str]) -> None:
    response = client.get("/support/v1/sites?q=acme", headers=viewer)
    assert response.status_code == 200
    [site] = response.json
    assert site["installation_id"] == SITE_A
    assert site["key"] == A_KEY
    assert site["site_url"] == SITE_A_URL and site["cloud_id"] == CLOUD_A
    assert [s["space_key"] for s in site["spaces"]] == ["DOCS", "OPS"]
    assert site["spaces"][1]["client_secret_set"] is True
    assert site["spaces"][1]["scenario"] == SANDBOX_ONLY
    assert entries(app) == [("support:val", "site.read", SITE_A, None, "search:acme")]
    by_cloud = client.get(f"/support/v1/sites?q={CLOUD_A[:8]}", headers=viewer).json
    assert [s["installation_id"] for s in by_cloud] == [SITE_A]
    everything = client.get("/support/v1/sites", headers=viewer).json
    assert {s["installation_id"] for s in everything} == {SITE_A, SITE_B}
    assert client.get("/support/v1/sites?q=initech", headers=viewer).json == []


def console_results(client: FlaskClient, query: str) -> list[tuple[str, list[str]]]:
    """The console's search results: each site's installation id and its spaces' keys."""
    html = client.get("/console", query_string={"q": query}).get_data(as_text=True)
    return [
        (installation, re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a></th>', article))
        for installation, article in re.findall(
            r"Installation <code>([^<]+)</code>(.*?)</article>", html, re.S
        )
    ]


def test_the_console_and_the_api_search_sites_alike(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, support: dict[str, str]
) -> None:
    report = start(client, support)["report"]  # OPS's latest report names its organization
    value = mint(runner, "ada", "viewer")["Authorization"].removeprefix("Bearer ")
    signin = client.get("/console").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', signin)
    assert csrf is not None
    client.post("/console/sign-in", data={"csrf_token": csrf.group(1), "token": value})
    org_name = report["organization_name"]
    for query in ("acme", "ops", CLOUD_A[:8], report["organization_id"], org_name, "", "initech"):
        api = client.get("/support/v1/sites", query_string={"q": query}, headers=support).json
        found = [(s["installation_id"], [x["space_key"] for x in s["spaces"]]) for s in api]
        assert console_results(client, query) == found, query
    assert console_results(client, org_name) == [(SITE_A, ["OPS"])]  # found through the report
    assert console_results(client, "acme") == [(SITE_A, ["DOCS", "OPS"])]  # every space


def test_site_search_is_one_query(app: Flask, client: FlaskClient, support: dict[str, str]) -> None:
    start(client, support)
    statements: list[str] = []
    engine = app.extensions["db"].engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.extensions["db"].session() as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = run_store.search_sites(session, "sparrow")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert [(f.installation.id, [s.key for s in f.spaces]) for f in found] == [(SITE_A, ["OPS"])]
    assert found[0].latest["OPS"][0] == "broken"
    assert len(statements) == 1


def test_site_spaces(app: Flask, client: FlaskClient, viewer: dict[str, str]) -> None:
    response = client.get(f"/support/v1/sites/{B_KEY}/spaces", headers=viewer)
    assert response.status_code == 200
    assert [s["space_key"] for s in response.json] == ["BONLY"]
    assert "client_secret" not in response.json[0]
    assert entries(app) == [("support:val", "spaces.read", SITE_B, None, "spaces")]
    missing = client.get("/support/v1/sites/no-such-site/spaces", headers=viewer)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"


def test_support_routes_need_a_support_token(client: FlaskClient, fit: Any) -> None:
    for path in ("/support/v1/sites", "/support/v1/runs", "/support/v1/audit"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {fit()}"}).status_code == 401


# -- runs --------------------------------------------------------------------------------------


def test_viewer_cannot_start_runs(app: Flask, client: FlaskClient, viewer: dict[str, str]) -> None:
    response = client.post(f"/support/v1/sites/{A_KEY}/spaces/OPS/runs", headers=viewer)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert stored_reports(app) == ""


def test_support_starts_a_run(app: Flask, client: FlaskClient, support: dict[str, str]) -> None:
    run = start(client, support)
    assert run["verdict"] == "broken"
    assert run["installation_id"] == SITE_A and run["space_key"] == "OPS"
    assert run["requested_by"] == "support:sam"
    assert run["report"]["site_url"] == SITE_A_URL
    assert entries(app) == [("support:sam", "run.create", SITE_A, "OPS", run["id"])]


def test_starting_a_run_for_an_unknown_space_or_site(
    client: FlaskClient, support: dict[str, str]
) -> None:
    for path in (f"sites/{A_KEY}/spaces/BONLY/runs", "sites/nope/spaces/OPS/runs"):
        response = client.post(f"/support/v1/{path}", headers=support)
        assert response.status_code == 404


def test_run_listing_and_site_filter(
    app: Flask, client: FlaskClient, support: dict[str, str], viewer: dict[str, str]
) -> None:
    a_ops = start(client, support)["id"]
    b_run = start(client, support, B_KEY, "BONLY")["id"]
    a_docs = start(client, support, A_KEY, "DOCS")["id"]
    every = client.get("/support/v1/runs", headers=viewer).json
    assert [r["id"] for r in every] == [a_docs, b_run, a_ops]
    for site in (SITE_A, A_KEY, CLOUD_A, SITE_A_URL, SITE_A_URL + "/"):
        listing = client.get("/support/v1/runs", query_string={"site": site}, headers=viewer)
        assert [r["id"] for r in listing.json] == [a_docs, a_ops], site
    ops = client.get(f"/support/v1/runs?site={A_KEY}&space_key=OPS", headers=viewer).json
    assert [r["id"] for r in ops] == [a_ops]
    unknown = client.get("/support/v1/runs?site=https://initech.example", headers=viewer)
    assert unknown.status_code == 404
    assert "initech" in unknown.json["error"]["message"]
    bad = client.get("/support/v1/runs?limit=1000", headers=viewer)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"limit"}
    listed = [e for e in entries(app) if e[1] == "runs.list"]
    assert ("support:val", "runs.list", SITE_B, None, "runs") in listed
    assert ("support:val", "runs.list", SITE_A, "OPS", "runs") in listed


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("json", "application/json"),
        ("markdown", "text/markdown; charset=utf-8"),
        ("html", "text/html; charset=utf-8"),
        ("text", "text/plain; charset=utf-8"),
    ],
)
def test_reading_a_run_is_audited(
    app: Flask,
    client: FlaskClient,
    support: dict[str, str],
    viewer: dict[str, str],
    fmt: str,
    content_type: str,
) -> None:
    run_id = start(client, support)["id"]
    response = client.get(f"/support/v1/runs/{run_id}?format={fmt}", headers=viewer)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert CANARY not in response.get_data(as_text=True)
    assert entries(app)[-1] == ("support:val", "run.read", SITE_A, "OPS", run_id)


def test_bad_format_names_the_field(client: FlaskClient, support: dict[str, str]) -> None:
    run_id = start(client, support)["id"]
    response = client.get(f"/support/v1/runs/{run_id}?format=docx", headers=support)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"format"}


def test_diff_is_audited(app: Flask, client: FlaskClient, support: dict[str, str]) -> None:
    before = start(client, support)["id"]
    set_scenario(app, SITE_A, "OPS", "healthy")
    after = start(client, support)["id"]
    response = client.get(f"/support/v1/runs/{after}/diff", headers=support)
    assert response.status_code == 200
    assert "scope.partial:read:api_configuration" in {f["key"] for f in response.json["fixed"]}
    assert entries(app)[-1] == ("support:sam", "run.diff", SITE_A, "OPS", f"{before}..{after}")


def test_diff_of_a_first_run_says_there_is_nothing_before_it(
    app: Flask, client: FlaskClient, support: dict[str, str]
) -> None:
    first = start(client, support)["id"]
    response = client.get(f"/support/v1/runs/{first}/diff", headers=support)
    assert response.status_code == 200
    assert response.json["before"] is None
    assert "first diagnostics run" in response.json["message"]
    assert entries(app)[-1] == ("support:sam", "run.diff", SITE_A, "OPS", f"..{first}")


def test_diff_stays_within_one_site(client: FlaskClient, support: dict[str, str]) -> None:
    a_run = start(client, support)["id"]
    b_run = start(client, support, B_KEY, "BONLY")["id"]
    response = client.get(f"/support/v1/runs/{b_run}/diff?against={a_run}", headers=support)
    assert response.status_code == 404


def test_unknown_run_is_not_audited(
    app: Flask, client: FlaskClient, viewer: dict[str, str]
) -> None:
    assert client.get("/support/v1/runs/nope", headers=viewer).status_code == 404
    assert entries(app) == []


# -- the audit log -----------------------------------------------------------------------------


def test_audit_log_needs_the_support_role(
    client: FlaskClient, viewer: dict[str, str], support: dict[str, str]
) -> None:
    assert client.get("/support/v1/audit", headers=viewer).status_code == 403
    run_id = start(client, support)["id"]
    client.get(f"/support/v1/runs/{run_id}", headers=viewer)
    response = client.get(f"/support/v1/audit?installation={SITE_A}&limit=5", headers=support)
    assert response.status_code == 200
    newest = response.json[0]
    assert (newest["actor"], newest["action"], newest["target"]) == (
        "support:val",
        "run.read",
        run_id,
    )
    assert {e["installation_id"] for e in response.json} == {SITE_A}
    assert len(client.get("/support/v1/audit?limit=1", headers=support).json) == 1


def test_no_client_secret_in_support_responses(
    app: Flask, client: FlaskClient, support: dict[str, str]
) -> None:
    run = client.post(f"/support/v1/sites/{A_KEY}/spaces/OPS/runs", headers=support)
    bodies = [
        run.get_data(as_text=True),
        client.get("/support/v1/sites", headers=support).get_data(as_text=True),
        client.get(f"/support/v1/sites/{A_KEY}/spaces", headers=support).get_data(as_text=True),
        client.get("/support/v1/runs", headers=support).get_data(as_text=True),
        stored_reports(app),
    ]
    for fmt in ("json", "markdown", "html", "text"):
        path = f"/support/v1/runs/{run.json['id']}?format={fmt}"
        bodies.append(client.get(path, headers=support).get_data(as_text=True))
    for body in bodies:
        assert CANARY not in body
