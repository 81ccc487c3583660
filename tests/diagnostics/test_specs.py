"""Spec files read into endpoints, and Rovo's method/path questions answered from them."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import responses

from diagnostics import specs
from diagnostics.anypoint import TOKEN_PATH, AnypointClient, RetryPolicy
from diagnostics.errors import ForbiddenError, InvalidResponseError, NotFoundError
from diagnostics.model import Connection
from diagnostics.simulator import load_scenario, simulated_session
from diagnostics.specs import (
    Endpoint,
    answer_endpoint_question,
    choose_spec_file,
    fetch_endpoints,
    parse_oas,
    parse_raml,
    parse_spec,
)

OAS3_JSON = json.dumps(
    {
        "openapi": "3.0.3",
        "info": {"title": "Orders", "version": "1.0.0"},
        "paths": {
            "/orders": {
                "parameters": [{"name": "tenant", "in": "header"}],
                "get": {"summary": "List orders", "operationId": "listOrders"},
                "post": {"operationId": "createOrder"},
            },
            "/orders/{orderId}": {
                "summary": "One order",
                "get": {"summary": "Get an order"},
                "patch": {},
                "delete": {"summary": "Cancel an order"},
                "x-internal": True,
            },
        },
    }
)

SWAGGER2_YAML = """\
swagger: "2.0"
info: {title: Customers, version: "1"}
basePath: /api/v1
paths:
  /customers:
    get:
      summary: List customers
    post:
      operationId: addCustomer
  /customers/{customerId}:
    get:
      operationId: getCustomer
    put:
      summary: Replace a customer
"""

RAML = """\
#%RAML 1.0
title: Orders API
version: v1
uses:
  lib: !include libraries/common.raml
types:
  Order: !include types/order.raml
/orders:
  displayName: Orders
  get:
    description: |
      List the orders.
      Paged.
  post:
    displayName: Create order
    body:
      application/json:
        example: !include examples/order.json
  /{orderId}:
    get:
    put:
    delete:
    /items: !include resources/items.raml
/customers:
  /{customerId}:
    get:
      displayName: Get customer
    /orders:
      get:
"""


def pairs(endpoints: list[Endpoint]) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in endpoints]


# -- OpenAPI / Swagger ------------------------------------------------------------------------


def test_openapi3_json_lists_every_path_and_method():
    endpoints = parse_oas(OAS3_JSON)

    assert endpoints == [
        Endpoint("GET", "/orders", "List orders"),
        Endpoint("POST", "/orders", "createOrder"),
        Endpoint("GET", "/orders/{orderId}", "Get an order"),
        Endpoint("DELETE", "/orders/{orderId}", "Cancel an order"),
        Endpoint("PATCH", "/orders/{orderId}", "One order"),
    ]


def test_swagger2_yaml_keeps_paths_as_written():
    assert parse_oas(SWAGGER2_YAML) == [
        Endpoint("GET", "/customers", "List customers"),
        Endpoint("POST", "/customers", "addCustomer"),
        Endpoint("GET", "/customers/{customerId}", "getCustomer"),
        Endpoint("PUT", "/customers/{customerId}", "Replace a customer"),
    ]


def test_endpoint_dicts():
    assert parse_oas(SWAGGER2_YAML)[0].to_dict() == {
        "method": "GET",
        "path": "/customers",
        "summary": "List customers",
    }


# -- RAML --------------------------------------------------------------------------------------


def test_raml_nested_resources_concatenate_and_includes_are_tolerated():
    endpoints = parse_raml(RAML)

    assert pairs(endpoints) == [
        ("GET", "/orders"),
        ("POST", "/orders"),
        ("GET", "/orders/{orderId}"),
        ("PUT", "/orders/{orderId}"),
        ("DELETE", "/orders/{orderId}"),
        ("GET", "/customers/{customerId}"),
        ("GET", "/customers/{customerId}/orders"),
    ]
    assert endpoints[0].summary == "List the orders."
    assert endpoints[1].summary == "Create order"
    assert endpoints[2].summary is None


def test_parse_spec_tells_raml_from_openapi():
    assert pairs(parse_spec(RAML))[0] == ("GET", "/orders")
    assert pairs(parse_spec(OAS3_JSON))[0] == ("GET", "/orders")


# -- malformed specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_oas, '{"openapi": "3.0.0", "paths": {', "not valid YAML/JSON"),
        (parse_oas, "openapi: 3.0.0\npaths: [1, 2]\n", "paths is not a mapping"),
        (parse_oas, "title: just some yaml\n", "not an OpenAPI or Swagger document"),
        (parse_oas, "", "not an OpenAPI or Swagger document"),
        (parse_oas, "openapi: 3.0.0\npaths:\n  /a:\n    get: {summary: x\n", "line"),
        (parse_raml, "title: no header\n/orders:\n  get:\n", "no #%RAML header"),
        (parse_raml, "#%RAML 1.0\n/orders:\n  get: [\n", "not valid YAML/JSON"),
        (parse_raml, "#%RAML 1.0\n- a list\n", "not a mapping"),
    ],
)
def test_a_malformed_spec_is_a_clear_error(parse, text, message):
    with pytest.raises(InvalidResponseError, match=message):
        parse(text)


def test_python_tags_are_not_executed():
    with pytest.raises(InvalidResponseError):
        parse_oas("openapi: !!python/object/apply:os.system ['true']\npaths: {}\n")


# -- choosing the spec file --------------------------------------------------------------------


def test_spec_file_choice_prefers_openapi_and_plain_files():
    files = [
        {"classifier": "docs", "packaging": "zip", "externalLink": "https://x/docs.zip"},
        {"classifier": "fat-raml", "packaging": "zip", "externalLink": "https://x/fat.zip"},
        {"classifier": "raml", "packaging": "raml", "externalLink": "https://x/api.raml"},
        {"classifier": "oas", "packaging": "zip", "externalLink": "https://x/oas.zip"},
        {"classifier": "oas", "packaging": "json", "downloadURL": "https://x/oas.json"},
    ]

    assert choose_spec_file(files)["downloadURL"] == "https://x/oas.json"
    assert choose_spec_file(files[:3])["externalLink"] == "https://x/api.raml"
    assert choose_spec_file(files[:1]) is None
    assert choose_spec_file(None) is None


# -- questions ---------------------------------------------------------------------------------

ENDPOINTS = [
    *parse_raml(RAML),
    Endpoint("GET", "/customers", "List customers"),
    Endpoint("POST", "/customers", "Add a customer"),
    Endpoint("PATCH", "/customers/{customerId}", "Update a customer"),
]


@pytest.mark.parametrize(
    ("question", "best"),
    [
        ("Which method creates an order?", ("POST", "/orders")),
        ("What is the path to get a customer by id?", ("GET", "/customers/{customerId}")),
        ("How do I list all orders?", ("GET", "/orders")),
        ("show me the orders", ("GET", "/orders")),
        ("find one order", ("GET", "/orders/{orderId}")),
        ("how do I add a new customer", ("POST", "/customers")),
        ("Which endpoint updates a customer?", ("PATCH", "/customers/{customerId}")),
        ("update an order", ("PUT", "/orders/{orderId}")),
        ("How can I delete an order?", ("DELETE", "/orders/{orderId}")),
        ("remove order", ("DELETE", "/orders/{orderId}")),
        ("orders of a customer", ("GET", "/customers/{customerId}/orders")),
        ("creating orders", ("POST", "/orders")),
    ],
)
def test_questions_find_the_best_endpoint(question, best):
    answers = answer_endpoint_question(ENDPOINTS, question)
    assert answers, question
    assert (answers[0].method, answers[0].path) == best


def test_verbs_filter_methods_when_something_matches():
    assert {e.method for e in answer_endpoint_question(ENDPOINTS, "create an order")} == {"POST"}
    assert {e.method for e in answer_endpoint_question(ENDPOINTS, "update a customer")} <= {
        "PUT",
        "PATCH",
    }


def test_questions_about_nothing_known_answer_nothing():
    assert answer_endpoint_question(ENDPOINTS, "what is the weather like?") == []
    assert answer_endpoint_question([], "which method creates an order?") == []


# -- fetching from Exchange --------------------------------------------------------------------

BASE = "https://anypoint.mulesoft.com"
DETAIL = f"{BASE}/exchange/api/v2/assets/org-1/orders-api/1.0.0"
SIGNED = "https://exchange-files.s3.amazonaws.com/org-1/orders.raml?X-Amz-Signature=abc123"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + TOKEN_PATH, json={"access_token": "tok-1", "expires_in": 3600})
        yield mock


@pytest.fixture
def client():
    retry = RetryPolicy(max_attempts=1, sleep=lambda _: None)
    with AnypointClient(Connection("cid", "secret", "org-1"), retry=retry) as made:
        yield made


def detail(*files: dict) -> dict:
    return {
        "groupId": "org-1",
        "assetId": "orders-api",
        "version": "1.0.0",
        "name": "Orders API",
        "type": "rest-api",
        "files": list(files),
    }


def zipped(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_endpoints_of_a_simulated_rest_asset():
    scenario = load_scenario("healthy")
    asset = next(a for a in scenario.exchange_assets if a.type == "rest-api")
    with (
        simulated_session(scenario) as session,
        AnypointClient(Connection("cid", "secret", scenario.org.id), session=session) as sim,
    ):
        spec = fetch_endpoints(sim, asset.group_id, asset.asset_id, asset.version)

    assert spec.asset == {
        "groupId": asset.group_id,
        "assetId": asset.asset_id,
        "version": asset.version,
        "name": asset.name,
    }
    noun = asset.asset_id.split("-")[0]
    assert ("POST", f"/{noun}") in pairs(spec.endpoints)
    creates = answer_endpoint_question(spec.endpoints, f"which method creates {noun}?")
    assert pairs(creates[:1]) == [("POST", f"/{noun}")]
    assert spec.to_dict()["endpoints"][0]["method"] == "GET"


def test_a_signed_link_on_another_host_is_a_plain_get(rsps, client):
    rsps.get(
        DETAIL, json=detail({"classifier": "raml", "packaging": "raml", "externalLink": SIGNED})
    )
    rsps.get(SIGNED, body=RAML)

    spec = fetch_endpoints(client, "org-1", "orders-api", "1.0.0")

    assert pairs(spec.endpoints)[:2] == [("GET", "/orders"), ("POST", "/orders")]
    download = rsps.calls[-1].request
    assert download.url == SIGNED
    assert "Authorization" not in download.headers


def test_a_zipped_spec_is_read_from_its_main_file(rsps, client):
    link = "https://files.example.com/orders.zip"
    rsps.get(
        DETAIL,
        json=detail(
            {
                "classifier": "fat-raml",
                "packaging": "zip",
                "mainFile": "api.raml",
                "externalLink": link,
            }
        ),
    )
    rsps.get(link, body=zipped({"api.raml": RAML, "types/order.raml": "type: object"}))

    spec = fetch_endpoints(client, "org-1", "orders-api", "1.0.0")

    assert len(spec.endpoints) == 7


@pytest.mark.parametrize(
    ("files", "download", "error", "message"),
    [
        ([], None, InvalidResponseError, "lists no OAS or RAML file"),
        (
            [{"classifier": "raml", "packaging": "raml", "externalLink": SIGNED}],
            {"status": 403, "body": "expired"},
            ForbiddenError,
            "answered 403",
        ),
        (
            [{"classifier": "raml", "packaging": "raml", "externalLink": SIGNED}],
            {"body": "#%RAML 1.0\n/orders: [\n"},
            InvalidResponseError,
            "not valid YAML/JSON",
        ),
        (
            [{"classifier": "fat-raml", "packaging": "zip", "externalLink": SIGNED}],
            {"body": b"PK\x03\x04 not really a zip"},
            InvalidResponseError,
            "not a valid zip",
        ),
    ],
)
def test_fetch_failures_are_clear_errors(rsps, client, files, download, error, message):
    rsps.get(DETAIL, json=detail(*files))
    if download is not None:
        rsps.get(SIGNED, **download)

    with pytest.raises(error, match=message) as caught:
        fetch_endpoints(client, "org-1", "orders-api", "1.0.0")
    assert "abc123" not in str(caught.value)  # the signed query never shows


def test_a_missing_asset_is_not_found(rsps, client):
    rsps.get(DETAIL, status=404, json={"message": "Asset not found"})

    with pytest.raises(NotFoundError):
        fetch_endpoints(client, "org-1", "orders-api", "1.0.0")


def test_an_oversized_spec_is_refused(rsps, client, monkeypatch):
    monkeypatch.setattr(specs, "MAX_SPEC_BYTES", 100)
    rsps.get(
        DETAIL, json=detail({"classifier": "raml", "packaging": "raml", "externalLink": SIGNED})
    )
    rsps.get(SIGNED, body=RAML)

    with pytest.raises(InvalidResponseError, match="larger than"):
        fetch_endpoints(client, "org-1", "orders-api", "1.0.0")
