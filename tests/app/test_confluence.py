"""Macro discovery against `responses`: the real atlassian-python-api client makes the calls."""

from __future__ import annotations

import time

import pytest
import requests
import responses
from responses import matchers

from app.confluence import (
    SEARCH_EXPAND,
    ConfluenceError,
    build_cql,
    find_macro_pages,
    parse_storage_macros,
)
from diagnostics.model import MacroPage, MacroPlacement

API_BASE = "https://api.atlassian.com/ex/confluence/0c7b3e9a-1f2d-4c5b-8a6e-9d0f1e2a3b4c"
SEARCH_URL = API_BASE + "/wiki/rest/api/search"
TOKEN = "forge-system-token-NEVER-SHOWN"
APP = "3f2a8c1e-7b4d-4e9a-b1c6-5d8e0f9a2b7c"
ENV = "a9e1c4b2-6d3f-4a8e-9c7b-1e2f3a4b5c6d"


def forge_macro(module: str, mode: str | None, *, local_id: str = "0b1c", app: str = APP) -> str:
    """A Forge macro as Confluence Cloud stores it (storage format of the page body)."""
    guest = (
        f'<ac:adf-parameter key="guest-params"><ac:adf-parameter key="mode">{mode}'
        "</ac:adf-parameter></ac:adf-parameter>"
        if mode
        else ""
    )
    return (
        '<ac:adf-extension><ac:adf-node type="extension">'
        f'<ac:adf-attribute key="extension-key">{app}/{ENV}/static/{module}</ac:adf-attribute>'
        '<ac:adf-attribute key="extension-type">com.atlassian.ecosystem</ac:adf-attribute>'
        '<ac:adf-attribute key="parameters">'
        f'<ac:adf-parameter key="local-id">{local_id}</ac:adf-parameter>'
        '<ac:adf-parameter key="extension-id">'
        f"ari:cloud:ecosystem::extension/{app}/{ENV}/static/{module}</ac:adf-parameter>"
        f'<ac:adf-parameter key="extension-title">MuleSight {module}</ac:adf-parameter>'
        '<ac:adf-parameter key="layout">default</ac:adf-parameter>'
        '<ac:adf-parameter key="forge-environment">PRODUCTION</ac:adf-parameter>'
        '<ac:adf-parameter key="render">native</ac:adf-parameter>'
        f"{guest}"
        "</ac:adf-attribute>"
        f'<ac:adf-attribute key="text">MuleSight {module}</ac:adf-attribute>'
        '<ac:adf-attribute key="layout">default</ac:adf-attribute>'
        f'<ac:adf-attribute key="local-id">{local_id}</ac:adf-attribute>'
        "</ac:adf-node>"
        "<ac:adf-fallback><p>MuleSight&nbsp;macro</p></ac:adf-fallback>"
        "</ac:adf-extension>"
    )


RUNBOOK = (
    '<h1>Payments API runbook</h1><p>Owner: <ac:link><ri:user ri:account-id="5b10a" /></ac:link>'
    "&nbsp;&amp; team</p>"
    '<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:rich-text-body>'
    "<p>Read first</p></ac:rich-text-body></ac:structured-macro>"
    + forge_macro("api-manager-instance", "security", local_id="a1")
    + '<table><tbody><tr><td><ac:structured-macro ac:name="code"><ac:plain-text-body>'
    '<![CDATA[<ac:adf-node type="extension">not a macro</ac:adf-node>]]>'
    "</ac:plain-text-body></ac:structured-macro></td><td>"
    + forge_macro("exchange-asset", "endpoints", local_id="b2")
    + "</td></tr></tbody></table>"
    # another Forge app's macro, and a MuleSight module key this search does not look for
    + forge_macro("jira-roadmap", "detailed", app="other-app")
    + "<p>Done<br/>.</p>"
)
PLAIN = "<p>Nothing to see</p>" + forge_macro("jira-roadmap", None, app="other-app")


def result(page_id: str, title: str, storage: str, space: str = "OPS") -> dict:
    """One result of GET /wiki/rest/api/search with content.space,content.body.storage expanded."""
    return {
        "content": {
            "id": page_id,
            "type": "page",
            "status": "current",
            "title": title,
            "space": {"id": 98305, "key": space, "name": "Operations", "type": "global"},
            "body": {
                "storage": {"value": storage, "representation": "storage", "embeddedContent": []},
                "_expandable": {"editor": "", "view": "", "atlas_doc_format": ""},
            },
            "_expandable": {"space": f"/rest/api/space/{space}"},
            "_links": {"webui": f"/spaces/{space}/pages/{page_id}", "self": "…"},
        },
        "title": title,
        "excerpt": "",
        "url": f"/spaces/{space}/pages/{page_id}",
        "resultGlobalContainer": {"title": "Operations", "displayUrl": f"/spaces/{space}"},
        "entityType": "content",
        "lastModified": "2026-11-20T01:02:03.000Z",
    }


def search_body(results: list[dict], *, start: int, limit: int, next_link: bool) -> dict:
    links = {"base": "https://sparrow.atlassian.net/wiki", "context": "/wiki", "self": "…"}
    if next_link:
        links["next"] = f"/rest/api/search?next=true&cursor=abc&limit={limit}&start={start + limit}"
    return {
        "results": results,
        "start": start,
        "limit": limit,
        "size": len(results),
        "totalSize": 3,
        "cqlQuery": 'type = page AND space = "OPS"',
        "searchDuration": 42,
        "_links": links,
    }


def search_call(start: int, limit: int, cql: str = 'type = page AND space = "OPS"') -> list:
    """Matchers for the exact request `Confluence.cql` sends."""
    return [
        matchers.query_param_matcher(
            {"start": str(start), "limit": str(limit), "cql": cql, "expand": SEARCH_EXPAND}
        ),
        matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
    ]


@responses.activate
def test_two_macros_on_one_page_and_a_page_without_mulesight_macros() -> None:
    responses.get(
        SEARCH_URL,
        json=search_body(
            [result("98304", "Payments API runbook", RUNBOOK), result("98400", "Plain", PLAIN)],
            start=0,
            limit=50,
            next_link=False,
        ),
        match=search_call(0, 50),
    )

    pages = find_macro_pages(API_BASE, TOKEN, space_key="OPS")

    assert pages == [
        MacroPage(
            page_id="98304",
            title="Payments API runbook",
            space_key="OPS",
            macros=(
                MacroPlacement("api-manager-instance", "security"),
                MacroPlacement("exchange-asset", "endpoints"),
            ),
        )
    ]
    assert len(responses.calls) == 1
    call = responses.calls[0].request
    assert call.method == "GET"
    assert call.url.startswith(SEARCH_URL + "?")
    assert "cql=type+%3D+page+AND+space+%3D+%22OPS%22" in call.url
    assert "expand=content.space,content.body.storage" in call.url
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_pagination_reads_the_next_result_page_by_start_and_limit() -> None:
    responses.get(
        SEARCH_URL,
        json=search_body(
            [
                result("1", "One", forge_macro("runtime-manager-app", "compact")),
                result("2", "Two", PLAIN),
            ],
            start=0,
            limit=2,
            next_link=True,
        ),
        match=search_call(0, 2),
    )
    responses.get(
        SEARCH_URL,
        json=search_body(
            [result("3", "Three", forge_macro("environment-summary", None), space="ENG")],
            start=2,
            limit=2,
            next_link=False,
        ),
        match=search_call(2, 2),
    )

    pages = find_macro_pages(API_BASE, TOKEN, space_key="OPS", limit=2)

    assert [(p.page_id, p.space_key, p.macros) for p in pages] == [
        ("1", "OPS", (MacroPlacement("runtime-manager-app", "compact"),)),
        ("3", "ENG", (MacroPlacement("environment-summary", None),)),
    ]
    assert len(responses.calls) == 2


@responses.activate
def test_whole_site_search_when_no_space_is_given() -> None:
    responses.get(
        SEARCH_URL,
        json=search_body([], start=0, limit=50, next_link=False),
        match=search_call(0, 50, cql="type = page"),
    )
    assert find_macro_pages(API_BASE + "/", TOKEN) == []
    assert len(responses.calls) == 1


@responses.activate
def test_403_is_a_confluence_error_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    responses.get(
        SEARCH_URL,
        status=403,
        json={"statusCode": 403, "message": "Current user not permitted to use Confluence"},
    )

    with pytest.raises(ConfluenceError) as info:
        find_macro_pages(API_BASE, TOKEN, space_key="OPS")

    assert info.value.status == 403
    assert "403" in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in caplog.text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("answer", "status", "fragment"),
    [
        ({"status": 401, "body": "Unauthorized", "content_type": "text/plain"}, 401, "401"),
        (
            {"status": 400, "json": {"statusCode": 400, "message": "Could not parse cql"}},
            400,
            "400",
        ),
        ({"status": 502, "body": "<html>Bad gateway</html>"}, 502, "unavailable"),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, None, "within 10 s"),
        ({"body": requests.exceptions.ConnectionError("refused")}, None, "reach"),
    ],
)
@responses.activate
def test_failures_become_confluence_errors(answer: dict, status: int | None, fragment: str) -> None:
    responses.get(SEARCH_URL, **answer)
    with pytest.raises(ConfluenceError) as info:
        find_macro_pages(API_BASE, TOKEN, space_key="OPS")
    assert info.value.status == status
    assert fragment in str(info.value)
    assert TOKEN not in str(info.value)


@responses.activate
def test_429_does_not_sleep_inside_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    monkeypatch.setattr(time, "sleep", no_sleep)
    responses.get(SEARCH_URL, status=429, headers={"Retry-After": "30"}, json={"message": "slow"})
    with pytest.raises(ConfluenceError) as info:
        find_macro_pages(API_BASE, TOKEN, space_key="OPS")
    assert info.value.status == 429
    assert len(responses.calls) == 1


def test_cql_quotes_the_space_key() -> None:
    assert build_cql(None) == "type = page"
    assert build_cql("OPS") == 'type = page AND space = "OPS"'
    assert build_cql('A"B\\') == 'type = page AND space = "A\\"B\\\\"'


def test_storage_parsing_bodied_macros_and_extension_id_fallback() -> None:
    bodied = (
        '<ac:adf-extension><ac:adf-node type="bodied-extension">'
        '<ac:adf-attribute key="parameters">'
        f'<ac:adf-parameter key="extension-id">ari:cloud:ecosystem::extension/{APP}/{ENV}'
        "/static/exchange-asset</ac:adf-parameter>"
        '<ac:adf-parameter key="guest-params"><ac:adf-parameter key="mode">'
        "<ac:adf-parameter-value>detailed</ac:adf-parameter-value></ac:adf-parameter>"
        "</ac:adf-parameter></ac:adf-attribute>"
        "<ac:adf-content><p>body</p></ac:adf-content>"
        "</ac:adf-node></ac:adf-extension>"
    )
    assert parse_storage_macros(bodied) == (MacroPlacement("exchange-asset", "detailed"),)
    assert parse_storage_macros("<p>unclosed <b>markup") == ()
    assert parse_storage_macros(RUNBOOK, ["exchange-asset"]) == (
        MacroPlacement("exchange-asset", "endpoints"),
    )
