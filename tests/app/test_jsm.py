"""JsmConnector against `responses`: the real atlassian-python-api ServiceDesk client calls."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
import requests
import responses
from responses import matchers

from app.tickets import Attachment, TicketConnector, TicketData, TicketError
from app.tickets.jsm import JsmConnector
from app.tickets.markup import markdown_to_jira
from diagnostics.tickets import adf_to_text

BASE = "https://sparrow-support.atlassian.net"
EMAIL = "bot@sparrow.example"
TOKEN = "ATATT3xFfGF0-jsm-token-NEVER-SHOWN"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
KEY = "SUP-42"
COMMENT_URL = f"{BASE}/rest/servicedeskapi/request/{KEY}/comment"
UPLOAD_URL = f"{BASE}/rest/servicedeskapi/servicedesk/7/attachTemporaryFile"
ATTACH_URL = f"{BASE}/rest/servicedeskapi/request/{KEY}/attachment"
ISSUE_URL = f"{BASE}/rest/api/3/issue/{KEY}"
JSON_HEADERS = {
    "Authorization": BASIC,
    "Content-Type": "application/json",
    "Accept": "application/json",
}
EXPERIMENTAL = {**JSON_HEADERS, "X-ExperimentalApi": "opt-in"}
REPORT_JSON = Attachment("report.json", "application/json", b'{"verdict": "degraded"}')
REPORT_MD = Attachment("report.md", "text/markdown", b"# Diagnostics\n\n- 2 findings\n")


@pytest.fixture
def jsm() -> JsmConnector:
    return JsmConnector(BASE + "/", EMAIL, TOKEN, 7, timeout=5)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(seconds: float) -> None:
        raise AssertionError(f"the library slept {seconds} s")

    monkeypatch.setattr(time, "sleep", forbidden)


def comment_answer(comment_id: str, public: bool) -> dict:
    return {
        "id": comment_id,
        "body": "…",
        "public": public,
        "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "MuleSight bot"},
        "created": {"iso8601": "2026-11-23T10:00:00+1100", "epochMillis": 1795388400000},
        "_links": {"self": f"{BASE}/rest/servicedeskapi/request/10042/comment/{comment_id}"},
    }


def attachment_value(name: str, attachment_id: str) -> dict:
    return {
        "filename": name,
        "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
        "created": {"iso8601": "2026-11-23T10:00:00+1100"},
        "size": 23,
        "mimeType": "application/json",
        "_links": {
            "jiraRest": f"{BASE}/rest/api/2/attachment/{attachment_id}",
            "content": f"{BASE}/secure/attachment/{attachment_id}/{name}",
        },
    }


def test_the_connector_implements_the_interface(jsm: JsmConnector) -> None:
    assert isinstance(jsm, TicketConnector)
    assert TOKEN not in repr(jsm)


@responses.activate
def test_comments_attachments_and_labels_make_exactly_the_documented_calls(
    jsm: JsmConnector, no_sleep: None
) -> None:
    internal = responses.post(
        COMMENT_URL,
        status=201,
        json=comment_answer("10010", False),
        match=[
            matchers.header_matcher(EXPERIMENTAL),
            matchers.json_params_matcher(
                {"body": "h2. Findings\n* API Manager: *403* on {{env-prod}}", "public": False}
            ),
        ],
    )
    public = responses.post(
        COMMENT_URL,
        status=201,
        json=comment_answer("10011", True),
        match=[
            matchers.header_matcher(EXPERIMENTAL),
            matchers.json_params_matcher({"body": "We are looking into it.", "public": True}),
        ],
    )
    upload_headers = {
        "Authorization": BASIC,
        "Accept": "application/json",
        "X-ExperimentalApi": "opt-in",
        "X-Atlassian-Token": "no-check",
    }
    for attachment, temporary_id in ((REPORT_JSON, "temp1001"), (REPORT_MD, "temp1002")):
        responses.post(
            UPLOAD_URL,
            status=201,
            json={
                "temporaryAttachments": [
                    {"temporaryAttachmentId": temporary_id, "fileName": attachment.name}
                ]
            },
            match=[
                matchers.header_matcher(upload_headers),
                matchers.multipart_matcher(
                    {"file": (attachment.name, attachment.data, attachment.content_type)}
                ),
            ],
        )
    attach = responses.post(
        ATTACH_URL,
        status=201,
        json={
            "comment": comment_answer("10012", False),
            "attachments": {
                "size": 2,
                "start": 0,
                "limit": 2,
                "isLastPage": True,
                "values": [
                    attachment_value("report.json", "20001"),
                    attachment_value("report.md", "20002"),
                ],
            },
        },
        match=[
            matchers.header_matcher(EXPERIMENTAL),
            matchers.json_params_matcher(
                {"temporaryAttachmentIds": ["temp1001", "temp1002"], "public": False}
            ),
        ],
    )
    labels = responses.put(
        ISSUE_URL,
        status=204,
        match=[
            matchers.header_matcher(JSON_HEADERS),
            matchers.json_params_matcher(
                {"update": {"labels": [{"add": "mulesight-diagnostics"}, {"add": "degraded"}]}}
            ),
        ],
    )

    markdown = "## Findings\n- API Manager: **403** on `env-prod`"
    assert jsm.add_comment(KEY, markdown, public=False) == "10010"
    assert jsm.add_comment(KEY, "We are looking into it.", public=True) == "10011"
    assert jsm.attach(KEY, [REPORT_JSON, REPORT_MD], public=False) == ["20001", "20002"]
    jsm.add_labels(KEY, ["mulesight-diagnostics", "degraded"])

    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("POST", COMMENT_URL),
        ("POST", COMMENT_URL),
        ("POST", UPLOAD_URL),
        ("POST", UPLOAD_URL),
        ("POST", ATTACH_URL),
        ("PUT", ISSUE_URL),
    ]
    assert (internal.call_count, public.call_count, attach.call_count, labels.call_count) == (
        1,
        1,
        1,
        1,
    )
    for call in responses.calls:
        assert call.request.headers["Authorization"] == BASIC
    upload = responses.calls[2].request
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="report.json"' in upload.body
    assert json.loads(responses.calls[4].request.body) == {
        "temporaryAttachmentIds": ["temp1001", "temp1002"],
        "public": False,
    }


@responses.activate
def test_nothing_to_attach_or_label_makes_no_call(jsm: JsmConnector) -> None:
    assert jsm.attach(KEY, [], public=False) == []
    jsm.add_labels(KEY, [])
    assert len(responses.calls) == 0


@responses.activate
def test_get_ticket_reads_the_issue_with_an_adf_description(jsm: JsmConnector) -> None:
    description = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Macros fail on "},
                    {"type": "inlineCard", "attrs": {"url": "https://sparrow.atlassian.net/wiki"}},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "space OPS"}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    responses.get(
        ISSUE_URL,
        json={
            "id": "10042",
            "key": KEY,
            "self": f"{BASE}/rest/api/3/issue/10042",
            "fields": {
                "summary": "MuleSight macros broken",
                "description": description,
                "labels": [],
            },
        },
        match=[matchers.header_matcher({"Authorization": BASIC, "Accept": "application/json"})],
    )

    ticket = jsm.get_ticket(KEY)

    assert ticket == TicketData(
        key=KEY,
        summary="MuleSight macros broken",
        description="Macros fail on https://sparrow.atlassian.net/wiki\n\n- space OPS",
        fields={"summary": "MuleSight macros broken", "description": description, "labels": []},
    )
    assert [(c.request.method, c.request.url) for c in responses.calls] == [("GET", ISSUE_URL)]


@pytest.mark.parametrize(
    ("status", "headers"),
    [(503, {"Retry-After": "120"}), (429, {"Retry-After": "30"}), (500, {})],
)
@responses.activate
def test_throttling_and_5xx_are_retryable_and_the_library_does_not_retry(
    jsm: JsmConnector, no_sleep: None, status: int, headers: dict
) -> None:
    responses.post(COMMENT_URL, status=status, headers=headers, body="<html>busy</html>")

    with pytest.raises(TicketError) as info:
        jsm.add_comment(KEY, "hello", public=False)

    assert info.value.retryable is True
    assert info.value.status == status
    assert len(responses.calls) == 1


@responses.activate
def test_400_is_not_retryable_and_keeps_the_server_message(jsm: JsmConnector) -> None:
    responses.post(
        ATTACH_URL,
        status=400,
        json={"errorMessage": "Temporary attachment temp1001 has expired", "i18nErrorMessage": {}},
    )
    responses.post(
        UPLOAD_URL,
        status=201,
        json={"temporaryAttachments": [{"temporaryAttachmentId": "temp1001", "fileName": "r"}]},
    )

    with pytest.raises(TicketError) as info:
        jsm.attach(KEY, [REPORT_JSON], public=False)

    assert info.value.retryable is False
    assert info.value.status == 400
    assert "HTTP 400" in info.value.message
    assert "has expired" in info.value.message


@pytest.mark.parametrize(
    ("method", "url", "status", "body"),
    [
        ("PUT", ISSUE_URL, 400, {"errorMessages": [], "errors": {"labels": "no spaces"}}),
        ("GET", ISSUE_URL, 404, {"errorMessages": ["Issue does not exist"], "errors": {}}),
        ("POST", COMMENT_URL, 403, {"errorMessage": "You do not have permission"}),
    ],
)
@responses.activate
def test_other_4xx_are_not_retryable(
    jsm: JsmConnector, method: str, url: str, status: int, body: dict
) -> None:
    responses.add(method, url, status=status, json=body)
    with pytest.raises(TicketError) as info:
        if method == "PUT":
            jsm.add_labels(KEY, ["has space"])
        elif method == "GET":
            jsm.get_ticket(KEY)
        else:
            jsm.add_comment(KEY, "x", public=True)
    assert (info.value.retryable, info.value.status) == (False, status)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("reset"),
    ],
)
@responses.activate
def test_timeouts_and_connection_failures_are_retryable(
    jsm: JsmConnector, failure: Exception
) -> None:
    responses.put(ISSUE_URL, body=failure)
    with pytest.raises(TicketError) as info:
        jsm.add_labels(KEY, ["mulesight"])
    assert info.value.retryable is True
    assert info.value.status is None
    assert len(responses.calls) == 1


@responses.activate
def test_the_token_never_appears_in_errors_or_logs(
    jsm: JsmConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # including the library's request/response debug lines
    responses.post(COMMENT_URL, status=401, body="Unauthorized", content_type="text/plain")
    responses.get(ISSUE_URL, status=400, json={"errorMessages": ["Field 'x' is invalid"]})
    responses.put(ISSUE_URL, body=requests.exceptions.ConnectTimeout(f"timeout {TOKEN}"))

    errors = []
    for call in (
        lambda: jsm.add_comment(KEY, "x", public=False),
        lambda: jsm.get_ticket(KEY),
        lambda: jsm.add_labels(KEY, ["a"]),
    ):
        with pytest.raises(TicketError) as info:
            call()
        errors.append(info.value)

    assert [e.status for e in errors] == [401, 400, None]
    assert [e.retryable for e in errors] == [False, False, True]
    for error in errors:
        for secret in (TOKEN, BASIC.split()[1]):
            assert secret not in str(error)
            assert secret not in repr(error)
        # no chained library exception (it holds the request and its Authorization header)
        assert error.__cause__ is None and error.__suppress_context__
    assert any(r.name == "app.tickets.jsm" for r in caplog.records)
    assert any(
        r.name.startswith("atlassian") and r.levelno == logging.DEBUG for r in caplog.records
    )
    for secret in (TOKEN, BASIC.split()[1]):
        assert secret not in caplog.text


@responses.activate
def test_a_server_message_echoing_the_token_is_redacted(jsm: JsmConnector) -> None:
    responses.get(ISSUE_URL, status=400, json={"errorMessages": [f"bad token {TOKEN}"]})
    with pytest.raises(TicketError) as info:
        jsm.get_ticket(KEY)
    assert TOKEN not in info.value.message
    assert info.value.message == f"JSM read on {KEY} failed: HTTP 400 (bad token ***)"


def test_markdown_becomes_plain_text_with_simple_wiki_formatting() -> None:
    markdown = "\n".join(
        [
            "# MuleSight diagnostics",
            "Verdict: **degraded** — see [runbook](https://sparrow.atlassian.net/wiki/x).",
            "",
            "- API Manager",
            "  - `read:api_configuration` missing on {env-prod}",
            "1. Grant the scope",
            "",
            "| Check | Result |",
            "|---|:---:|",
            "| token | ok |",
            "",
            "```json",
            '{"a": [1]}',
            "```",
            "---",
        ]
    )
    assert markdown_to_jira(markdown) == "\n".join(
        [
            "h1. MuleSight diagnostics",
            "Verdict: *degraded* — see [runbook|https://sparrow.atlassian.net/wiki/x].",
            "",
            "* API Manager",
            "** {{read:api_configuration}} missing on \\{env-prod\\}",
            "# Grant the scope",
            "",
            "||Check||Result||",
            "|token|ok|",
            "",
            "{noformat}",
            '{"a": [1]}',
            "{noformat}",
            "----",
        ]
    )
    assert markdown_to_jira("plain text stays") == "plain text stays"


def test_adf_to_text_handles_strings_none_and_tables() -> None:
    assert adf_to_text(None) == ""
    assert adf_to_text("wiki *text*") == "wiki *text*"
    table = {
        "type": "doc",
        "content": [
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {
                                "type": "tableCell",
                                "content": [
                                    {"type": "paragraph", "content": [{"type": "text", "text": c}]}
                                ],
                            }
                            for c in ("site", "sparrow")
                        ],
                    }
                ],
            }
        ],
    }
    assert adf_to_text(table) == "site | sparrow"
