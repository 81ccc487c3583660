"""One JSON error shape for HTTP errors, validation errors, database errors and crashes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError, OperationalError

from app import api
from app.api import ApiBlueprint
from tests.app.conftest import make_app


class EchoIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    count = fields.Integer(strict=True, validate=validate.Range(min=1))


class EchoOut(Schema):
    name = fields.String()


def _test_blueprint() -> ApiBlueprint:
    bp = ApiBlueprint("errors_test", __name__, url_prefix="/test")

    @bp.get("/boom")
    def boom() -> Any:
        raise RuntimeError("internal detail: password=hunter2-and-more")

    @bp.get("/db-down")
    def db_down() -> Any:
        raise OperationalError("SELECT secret_column FROM spaces", {}, Exception("conn refused"))

    @bp.get("/db-error")
    def db_error() -> Any:
        raise IntegrityError("INSERT INTO spaces (secret_column)", {}, Exception("dup"))

    @bp.post("/echo")
    @bp.arguments(EchoIn, arg_name="body")
    @bp.response(200, EchoOut)
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    return bp


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app({**app_config, "MAX_CONTENT_LENGTH": 1024})
    api.register(app, _test_blueprint())
    yield app
    app.extensions["db"].dispose()


def assert_error_shape(body: Any, code: str) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_404_is_json(client: FlaskClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.is_json
    assert_error_shape(response.json, "not_found")


def test_405_is_json_and_keeps_allow(client: FlaskClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert_error_shape(response.json, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_413_is_json(client: FlaskClient) -> None:
    response = client.post("/test/echo", json={"name": "x" * 4000})
    assert response.status_code == 413
    assert_error_shape(response.json, "request_entity_too_large")


def test_validation_error_names_the_field(client: FlaskClient) -> None:
    response = client.post("/test/echo", json={"name": "", "count": 0, "extra": 1})
    assert response.status_code == 422
    error = assert_error_shape(response.json, "validation_error")
    assert set(error["fields"]) == {"name", "count", "extra"}
    assert "name" in error["message"]


def test_missing_field_is_named(client: FlaskClient) -> None:
    response = client.post("/test/echo", json={})
    assert response.status_code == 422
    assert "name" in response.json["error"]["fields"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/test/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert_error_shape(response.json, "bad_request")


def test_a_json_array_body_is_400(client: FlaskClient) -> None:
    response = client.post("/test/echo", json=["name"])
    assert response.status_code == 400
    assert_error_shape(response.json, "bad_request")


def test_another_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/test/echo", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert_error_shape(response.json, "unsupported_media_type")


def test_unexpected_error_is_500_with_request_id_and_no_trace(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/test/boom", headers={"X-Request-Id": "req-boom-1"})
    assert response.status_code == 500
    error = assert_error_shape(response.json, "internal_error")
    assert error["request_id"] == "req-boom-1"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "internal detail" not in text and "hunter2" not in text
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    crash = next(e for e in logged if e["message"] == "unhandled error")
    assert crash["request_id"] == "req-boom-1"
    assert "RuntimeError" in crash["exception"]
    assert "hunter2" not in json.dumps(logged)  # the traceback went through redaction


def test_database_unavailable_is_503_without_internals(client: FlaskClient) -> None:
    response = client.get("/test/db-down")
    assert response.status_code == 503
    assert_error_shape(response.json, "database_unavailable")
    assert "secret_column" not in response.get_data(as_text=True)


def test_database_error_is_500_without_internals(client: FlaskClient) -> None:
    response = client.get("/test/db-error")
    assert response.status_code == 500
    assert_error_shape(response.json, "database_error")
    assert "secret_column" not in response.get_data(as_text=True)
