"""Support API tokens: minted by the CLI, stored hashed, roles enforced, reads audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient, FlaskCliRunner

from app import api
from app.api import ApiBlueprint
from app.audit import audit, audit_entries
from app.auth import support_required
from app.cli import token
from app.models import SupportToken
from tests.app.conftest import SITE_A, FitFactory, make_app


def _support_blueprint() -> ApiBlueprint:
    bp = ApiBlueprint("support_test", __name__, url_prefix="/test/support")

    @bp.get("/read")
    @support_required("viewer")
    def read() -> dict[str, Any]:
        audit(g.support.actor, "connection.read", SITE_A, "OPS", "connection")
        return {"who": g.support.name, "role": g.support.role}

    @bp.post("/act")
    @support_required("support")
    def act() -> dict[str, Any]:
        return {"done": True}

    return bp


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(app_config)
    api.register(app, _support_blueprint())
    yield app
    app.extensions["db"].dispose()


def mint(runner: FlaskCliRunner, name: str, role: str) -> str:
    result = runner.invoke(token, ["create", "--name", name, "--role", role])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_create_prints_the_token_once_and_stores_only_its_hash(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(token, ["create", "--name", "alice", "--role", "support"])
    assert result.exit_code == 0
    clear = result.stdout.strip()
    assert clear.startswith("mst_") and len(clear) > 40
    assert "cannot be shown again" in result.stderr
    with app.extensions["db"].engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM support_tokens")).all()
    dumped = " ".join(str(v) for row in rows for v in row)
    assert clear not in dumped
    assert clear.split("_", 2)[2] not in dumped
    listing = runner.invoke(token, ["list"])
    assert "alice" in listing.stdout and "support" in listing.stdout
    assert clear not in listing.stdout


def test_viewer_reads_and_the_read_is_audited(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    viewer = mint(runner, "val", "viewer")
    response = client.get("/test/support/read", headers=bearer(viewer))
    assert response.status_code == 200
    assert response.json == {"who": "val", "role": "viewer"}
    with app.extensions["db"].session() as session:
        entries = audit_entries(session, SITE_A)
        used = session.scalar(sa.select(SupportToken).where(SupportToken.name == "val"))
    assert [(e.actor, e.action, e.space_key, e.target) for e in entries] == [
        ("support:val", "connection.read", "OPS", "connection")
    ]
    assert used is not None and used.last_used_at is not None


def test_viewer_cannot_act(client: FlaskClient, runner: FlaskCliRunner) -> None:
    viewer = mint(runner, "val", "viewer")
    response = client.post("/test/support/act", headers=bearer(viewer))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_support_can_read_and_act(client: FlaskClient, runner: FlaskCliRunner) -> None:
    support = mint(runner, "sam", "support")
    assert client.post("/test/support/act", headers=bearer(support)).status_code == 200
    assert client.get("/test/support/read", headers=bearer(support)).status_code == 200


def test_revoked_token_is_401(app: Flask, client: FlaskClient, runner: FlaskCliRunner) -> None:
    support = mint(runner, "sam", "support")
    result = runner.invoke(token, ["revoke", "sam"])
    assert result.exit_code == 0
    response = client.get("/test/support/read", headers=bearer(support))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"
    assert "revoked" in runner.invoke(token, ["list"]).stdout
    with app.extensions["db"].session() as session:
        actions = {e.action for e in audit_entries(session)}
    assert {"support_token.create", "support_token.revoke"} <= actions


@pytest.mark.parametrize(
    "value",
    ["", "mst_00000000_" + "A" * 43, "not-a-token", "mst_zz_short"],
)
def test_unknown_or_malformed_tokens_are_401(
    client: FlaskClient, runner: FlaskCliRunner, value: str
) -> None:
    mint(runner, "sam", "support")
    response = client.get("/test/support/read", headers=bearer(value) if value else {})
    assert response.status_code == 401


def test_a_forge_token_is_not_a_support_token(client: FlaskClient, fit: FitFactory) -> None:
    response = client.get("/test/support/read", headers=bearer(fit()))
    assert response.status_code == 401


def test_a_tampered_token_with_a_valid_prefix_is_401(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    support = mint(runner, "sam", "support")
    tampered = support[:-1] + ("A" if support[-1] != "A" else "B")
    assert client.get("/test/support/read", headers=bearer(tampered)).status_code == 401


def test_duplicate_name_is_an_input_error(runner: FlaskCliRunner) -> None:
    mint(runner, "sam", "support")
    result = runner.invoke(token, ["create", "--name", "sam", "--role", "viewer"])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert "mst_" not in result.stdout


def test_revoking_an_unknown_token_is_an_input_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(token, ["revoke", "nobody"])
    assert result.exit_code == 2
    assert "nobody" in result.output


def test_bad_role_is_a_usage_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(token, ["create", "--name", "x", "--role", "admin"])
    assert result.exit_code == 2
