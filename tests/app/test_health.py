"""Health and readiness probes, request ids and structured, redacted logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.app.conftest import make_app


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_503_json_when_the_database_is_down(app_config: dict[str, Any], tmp_path) -> None:
    app = make_app(
        {
            **app_config,
            "MULESIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}",
            "MULESIGHT_AUTO_MIGRATE": False,
        }
    )
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["db"].dispose()
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_ready"
    assert "sqlite" not in response.get_data(as_text=True).lower()


def test_a_sane_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "support-req.42:a-b"})
    assert response.headers["X-Request-Id"] == "support-req.42:a-b"


@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "<script>", "id\u00e9"])
def test_an_insane_request_id_is_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": bad})
    generated = response.headers["X-Request-Id"]
    assert generated != bad
    assert len(generated) == 32 and generated.isalnum()


def test_logs_are_json_with_the_request_id_and_redacted(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Zq8-very-secret-value-9931"
    with app.test_request_context(headers={"X-Request-Id": "req-logs-1"}):
        app.preprocess_request()
        logging.getLogger("app.test").warning("connecting with client_secret=%s", secret)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    entry = next(e for e in lines if e["logger"] == "app.test")
    assert entry["request_id"] == "req-logs-1"
    assert entry["level"] == "WARNING"
    assert secret not in json.dumps(lines)
    assert "[REDACTED:" in entry["message"]


def test_access_log_line(client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.get("/healthz?token=abc", headers={"X-Request-Id": "req-access-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = next(e for e in lines if e["logger"] == "app.access")
    assert access["request_id"] == "req-access-1"
    assert access["path"] == "/healthz"  # no query string
    assert access["status"] == 200
    assert "token=abc" not in json.dumps(access)


def test_a_webhook_is_one_access_line_with_its_delivery_id(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.app.test_webhook_jsm import SECRET, issue_created, sign

    app.config["MULESIGHT_WEBHOOK_SECRET"] = SECRET
    body = json.dumps(issue_created(key="SUP-9")).encode()
    headers = {"X-Hub-Signature": sign(body, SECRET), "X-Atlassian-Webhook-Identifier": "d-1"}
    assert app.test_client().post("/webhooks/jsm", data=body, headers=headers).status_code == 202
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    about = [e for e in lines if "d-1" in json.dumps(e)]
    assert [e["logger"] for e in about] == ["app.access"]
    assert about[0]["delivery_id"] == "d-1"
    assert about[0]["duplicate"] is False
