"""GET /openapi.json documents every JSON route from the same schemas that validate them.

Every registered route is accounted for: documented, a page of the HTML audiences (``selfcheck``,
``console``: deliberately not in the document), or ``static``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from app.api import page_rules, undocumented_rules

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
PAGE_AUDIENCES = {"selfcheck", "console"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["forgeInvocationToken"]["scheme"] == "bearer"
    assert schemes["supportToken"]["scheme"] == "bearer"
    for ref in _refs(doc):
        _resolve(doc, ref)


def _path(rule: Rule) -> str:
    return rule.rule.replace("<", "{").replace(">", "}")


def test_every_route_is_documented(app: Flask, client: FlaskClient) -> None:
    assert undocumented_rules(app) == []
    doc = client.get("/openapi.json").json
    paths = doc["paths"]
    pages = page_rules(app)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue  # the stylesheet and images, not an API
        if rule in pages:
            assert _path(rule) not in paths, rule.rule  # HTML pages stay out of the document
            continue
        assert _path(rule) in paths, rule.rule
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[_path(rule)], (rule.rule, method)
    assert {rule.endpoint.split(".")[0] for rule in pages} == PAGE_AUDIENCES
    assert not PAGE_AUDIENCES & {tag["name"] for tag in doc["tags"]}


def test_every_page_route_is_html(app: Flask) -> None:
    """The undocumented audiences hold only the pages (a JSON route there would be missed)."""
    assert sorted((r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in page_rules(app)) == [
        ("/console", ["GET"]),
        ("/console/sign-in", ["POST"]),
        ("/console/sign-out", ["POST"]),
        ("/console/sites/<site>/runs/<run_id>/attach", ["POST"]),
        ("/console/sites/<site>/runs/<run_id>/report.<ext>", ["GET"]),
        ("/console/sites/<site>/spaces/<space_key>", ["GET"]),
        ("/console/sites/<site>/spaces/<space_key>/run", ["POST"]),
        ("/console/ticket", ["GET"]),
        ("/selfcheck", ["GET"]),
        ("/selfcheck/<space_key>", ["GET"]),
        ("/selfcheck/<space_key>/run", ["POST"]),
        ("/selfcheck/<space_key>/scenario", ["POST"]),
        ("/selfcheck/runs/<run_id>/attach", ["POST"]),
        ("/selfcheck/runs/<run_id>/report.<ext>", ["GET"]),
    ]


def test_every_documented_operation_is_a_route(app: Flask, client: FlaskClient) -> None:
    routes = {
        (_path(rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    paths = client.get("/openapi.json").json["paths"]
    documented = {
        (path, method)
        for path, item in paths.items()
        for method in item
        if method in HTTP_METHODS  # not the path-wide "parameters"
    }
    assert documented - routes == set()


def test_a_missing_route_is_found(app: Flask) -> None:
    @app.get("/undocumented")
    def undocumented() -> str:
        return "nobody documented me"

    assert [rule.rule for rule in undocumented_rules(app)] == ["/undocumented"]


def test_audience_blueprints_are_documented_from_their_schemas(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    ready = doc["paths"]["/readyz"]["get"]
    assert ready["tags"] == ["health"]
    assert ready["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Status"
    }
    assert ready["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "health" in {tag["name"] for tag in doc["tags"]}


def test_forge_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    connection = paths["/forge/v1/connection"]
    assert set(connection) >= {"get", "put"}
    for operation in (connection["get"], connection["put"], paths["/forge/v1/renders"]["post"]):
        assert operation["security"] == [{"forgeInvocationToken": []}]
        assert "401" in operation["responses"]
    assert "202" in paths["/forge/v1/renders"]["post"]["responses"]
    assert any(p["name"] == "space_key" for p in connection["get"]["parameters"])
    body = connection["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ConnectionIn"}
    assert "security" not in paths["/healthz"]["get"]


def test_schemas_carry_the_validation_rules(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    connection_in = schemas["ConnectionIn"]
    assert connection_in["properties"]["sync_interval_hours"]["minimum"] == 1
    assert set(connection_in["properties"]["control_plane"]["enum"]) == {
        "us",
        "eu",
        "gov",
        "custom",
    }
    assert "client_secret" in connection_in["properties"]
    assert "client_secret" not in schemas["ConnectionOut"]["properties"]
    assert schemas["RenderBatchIn"]["properties"]["events"]["maxItems"] == 500
    assert "exchange-asset" in schemas["RenderEventIn"]["properties"]["macro"]["enum"]
