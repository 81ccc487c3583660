"""Reading support tickets: required details present / missing, shapes, and sensitive data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from diagnostics.errors import TicketError
from diagnostics.tickets import (
    DETAIL_KEYS,
    DETAILS,
    DETAILS_BY_KEY,
    adf_text,
    parse_ticket_text,
    read_ticket,
    render_reading_text,
    ticket_document,
)

ORG = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11"
ENV = "0b6a7c1e-58a4-4d7c-9b8d-3c2f1e0a9b77"

COMPLETE = f"""Exchange asset macro in endpoints mode shows no endpoints on https://acme.atlassian.net
It happened at 2026-11-23T10:15:00+11:00.
Org ID: {ORG}, Production environment.
Dataset: Endpoints. Last refreshed: 2026-11-20 09:00. Cache freshness: stale.
Diagnostics coverage: partial.

Steps to reproduce:
1. Open page 12345
2. Click Refresh
3. See "No endpoints"

```
2026-11-23 10:15:02 ERROR endpoints refresh failed: 404
```
"""


def test_docs_table_matches_the_contract_order() -> None:
    assert tuple(d.key for d in DETAILS) == DETAIL_KEYS
    assert DETAIL_KEYS == (
        "customer_site_url",
        "timestamp",
        "timezone",
        "reproduction_steps",
        "affected_module",
        "organization_context",
        "dataset_type",
        "last_refresh",
        "cache_freshness",
        "diagnostics_coverage",
        "screenshots_or_logs",
    )
    assert all(d.label and d.ask.startswith("Ask ") for d in DETAILS)


def test_complete_ticket() -> None:
    reading = read_ticket(COMPLETE)
    assert reading.missing == []
    assert reading.sensitive == []
    assert reading.status == "complete"
    assert not reading.security_impacting
    assert reading.present == {
        "customer_site_url": "https://acme.atlassian.net",
        "timestamp": "2026-11-23T10:15:00+11:00",
        "timezone": "+11:00",
        "reproduction_steps": '1. Open page 12345 / 2. Click Refresh / 3. See "No endpoints"',
        "affected_module": "exchange-asset macro, endpoints mode",
        "organization_context": f"organization {ORG}; environment Production",
        "dataset_type": "endpoints",
        "last_refresh": "2026-11-20 09:00",
        "cache_freshness": "stale",
        "diagnostics_coverage": "partial",
        "screenshots_or_logs": "code block",
    }
    assert reading.suggested_dataset == "endpoints"
    assert reading.suggested_module == "exchange-asset"


def test_empty_ticket_misses_everything_in_order() -> None:
    reading = read_ticket("MuleSight does not work, please help.")
    assert reading.present == {}
    assert reading.missing == list(DETAIL_KEYS)
    assert reading.status == "missing"
    assert reading.suggested_dataset is None and reading.suggested_module is None


# (detail, ticket text, expected value or None)
DETAIL_CASES: list[tuple[str, str, str | None]] = [
    (
        "customer_site_url",
        "see https://acme.atlassian.net/wiki/spaces/ENG",
        "https://acme.atlassian.net",
    ),
    ("customer_site_url", "our site is Acme-Corp.atlassian.net", "https://acme-corp.atlassian.net"),
    ("customer_site_url", "https://confluence.acme.example/wiki", None),
    ("timestamp", "It broke at 2026-11-23 10:15", "2026-11-23 10:15"),
    ("timestamp", "on 23/11/2026 10:15", "23/11/2026 10:15"),
    ("timestamp", "23 Nov 2026 at 10:15am", "23 Nov 2026 at 10:15am"),
    ("timestamp", "Nov 23, 2026 10:15 AM", "Nov 23, 2026 10:15 AM"),
    ("timestamp", "yesterday at 9:30", "yesterday at 9:30"),
    ("timestamp", "last week", None),
    ("timestamp", "on 23 Nov 2026", None),
    ("timestamp", "asset version 1.0.3, API instance 18512345", None),
    ("timezone", "2026-11-23T10:15:00Z", "UTC"),
    ("timezone", "2026-11-23T10:15:00+11:00", "+11:00"),
    ("timezone", "at 10:15 AEDT", "AEDT"),
    ("timezone", "we are in Australia/Melbourne", "Australia/Melbourne"),
    ("timezone", "10:15 UTC+10", "UTC+10"),
    ("timezone", "10:15 Melbourne time", "Australia/Melbourne"),
    ("timezone", "zone Mars/Olympus", None),
    ("timezone", "a TEST run", None),
    (
        "reproduction_steps",
        "Steps to reproduce:\n1. Open page\n2. Click\n\nOther",
        "1. Open page / 2. Click",
    ),
    (
        "reproduction_steps",
        "Steps to reproduce: open the page and refresh",
        "open the page and refresh",
    ),
    (
        "reproduction_steps",
        "1. open the page\n2. click refresh",
        "1. open the page / 2. click refresh",
    ),
    (
        "reproduction_steps",
        "## Steps to reproduce\n- open page\n- refresh",
        "- open page / - refresh",
    ),
    ("reproduction_steps", "1. Open the page", None),
    ("reproduction_steps", "Steps were taken to fix it", None),
    (
        "affected_module",
        "Exchange asset macro in compact mode",
        "exchange-asset macro, compact mode",
    ),
    ("affected_module", "the runtime-manager-app macro fails", "runtime-manager-app macro"),
    (
        "affected_module",
        "API Manager instance macro (security view)",
        "api-manager-instance macro, security mode",
    ),
    ("affected_module", "environment summary is empty", "environment-summary macro"),
    ("affected_module", "Ops dashboard, Runtime tab", "ops dashboard, Runtime tab"),
    ("affected_module", 'Rovo action "list APIs" fails', "Rovo action 'list APIs'"),
    ("affected_module", "MuleSight is broken", None),
    ("organization_context", f"Org ID: {ORG}", f"organization {ORG}"),
    (
        "organization_context",
        f"https://anypoint.mulesoft.com/x/organizations/{ORG}/environments/{ENV}/apis",
        f"organization {ORG}; environment {ENV}",
    ),
    ("organization_context", "in the Sandbox environment", "environment Sandbox"),
    ("organization_context", "environment: env-prod", "environment env-prod"),
    ("organization_context", f"X-ANYPNT-ORG-ID: {ORG}", f"organization {ORG}"),
    ("organization_context", f"request id {ENV}", None),
    ("dataset_type", "Dataset: Runtime Manager", "runtime_manager"),
    ("dataset_type", "api_security_posture is partial", "api_security_posture"),
    ("dataset_type", "the Exchange data is empty", "exchange"),
    ("dataset_type", "dataset type = API Manager", "api_manager"),
    ("dataset_type", "the Exchange macro is empty", None),
    ("last_refresh", "Last refreshed: 2026-11-20 09:00", "2026-11-20 09:00"),
    ("last_refresh", "last sync 3 hours ago", "3 hours ago"),
    ("last_refresh", "data was last refreshed on 20 Nov 2026", "20 Nov 2026"),
    ("last_refresh", "last refresh: never", "never"),
    ("last_refresh", "last refresh unknown", None),
    ("cache_freshness", "Cache: stale", "stale"),
    ("cache_freshness", "cache freshness is expired", "expired"),
    ("cache_freshness", "it is showing stale data", "stale"),
    ("cache_freshness", "the cache never loaded", "never"),
    ("cache_freshness", "Cache freshness: fresh", "fresh"),
    ("cache_freshness", "a fresh install", None),
    ("diagnostics_coverage", "Diagnostics coverage: partial", "partial"),
    ("diagnostics_coverage", "full coverage", "full"),
    ("diagnostics_coverage", "no coverage at all", "none"),
    ("diagnostics_coverage", "coverage not checked", None),
    ("screenshots_or_logs", "```\ntrace\n```", "code block"),
    ("screenshots_or_logs", "{code}trace{code}", "code block"),
    ("screenshots_or_logs", "2026-11-23 ERROR token call answered 401", "log snippet"),
    ("screenshots_or_logs", "screenshot attached", "screenshot or log mentioned as attached"),
    ("screenshots_or_logs", "!image.png|thumbnail!", "embedded image"),
    ("screenshots_or_logs", "I have logs somewhere", None),
]


@pytest.mark.parametrize(("detail", "text", "expected"), DETAIL_CASES)
def test_detail_extraction(detail: str, text: str, expected: str | None) -> None:
    assert DETAILS_BY_KEY[detail].extract(ticket_document(text)) == expected
    reading = read_ticket(text)
    assert reading.present.get(detail) == expected
    assert (detail in reading.missing) == (expected is None)


@pytest.mark.parametrize(
    ("text", "dataset", "module"),
    [
        ("Exchange asset macro in endpoints mode", "endpoints", "exchange-asset"),
        ("the Exchange macro is empty", "exchange", "exchange-asset"),
        ("API Manager macro, security view", "api_security_posture", "api-manager-instance"),
        ("runtime-manager-app macro", "runtime_manager", "runtime-manager-app"),
        ("environment summary", "ops_dashboard", "environment-summary"),
        ("Rovo cannot answer", "rovo", "rovo"),
        ("Runtime Manager apps are missing in MuleSight", "runtime_manager", "runtime-manager-app"),
        ("the Runtime Manager page in Anypoint", "runtime_manager", None),
        ("Dataset: API Manager; the Exchange macro", "api_manager", "exchange-asset"),
    ],
)
def test_suggestions(text: str, dataset: str | None, module: str | None) -> None:
    reading = read_ticket(text)
    assert reading.suggested_dataset == dataset
    assert reading.suggested_module == module


# -- shapes ------------------------------------------------------------------------------------


def _adf(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def _p(*parts: Any) -> dict[str, Any]:
    return {
        "type": "paragraph",
        "content": [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts],
    }


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _link(href: str) -> dict[str, Any]:
    return {"type": "link", "attrs": {"href": href}}


ADF_DESCRIPTION = _adf(
    _p(
        "The ",
        {"type": "text", "text": "site", "marks": [_link("https://acme.atlassian.net/wiki")]},
        " shows the Runtime Manager app macro in compact mode empty since",
        {"type": "hardBreak"},
        "23 Nov 2026 at 10:15 AEDT.",
    ),
    {"type": "heading", "attrs": {"level": 2}, "content": [_text("Steps to reproduce")]},
    {
        "type": "orderedList",
        "content": [
            {"type": "listItem", "content": [_p("Open the page")]},
            {"type": "listItem", "content": [_p("Click Refresh")]},
        ],
    },
    {"type": "codeBlock", "content": [{"type": "text", "text": "HTTP/1.1 403 Forbidden"}]},
    {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "abc", "type": "file"}}]},
)


def test_adf_text_flattens_lists_code_links_and_media() -> None:
    text = adf_text(ADF_DESCRIPTION)
    assert "site (https://acme.atlassian.net/wiki)" in text
    assert "1. Open the page\n2. Click Refresh" in text
    assert "```\nHTTP/1.1 403 Forbidden\n```" in text
    assert "[media: abc]" in text
    assert adf_text({"type": "date", "attrs": {"timestamp": "1795392000000"}}) == "2026-11-23"
    assert adf_text("not a node") == ""


def test_adf_description_in_a_plain_json_ticket() -> None:
    reading = read_ticket({"summary": "Macro empty", "description": ADF_DESCRIPTION})
    assert reading.present["customer_site_url"] == "https://acme.atlassian.net"
    assert reading.present["timestamp"] == "23 Nov 2026 at 10:15"
    assert reading.present["timezone"] == "AEDT"
    assert reading.present["reproduction_steps"] == "1. Open the page / 2. Click Refresh"
    assert reading.present["affected_module"] == "runtime-manager-app macro"
    assert reading.present["screenshots_or_logs"] == "embedded image"
    assert reading.suggested_module == "runtime-manager-app"


def _webhook(fields: dict[str, Any], **issue: Any) -> dict[str, Any]:
    return {
        "timestamp": 1795400000000,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "MSD-42", "fields": fields, **issue},
    }


def test_service_management_webhook_shape() -> None:
    payload = _webhook(
        {
            "summary": "API Manager instance macro fails",
            "description": ADF_DESCRIPTION,
            "customfield_10050": "https://acme.atlassian.net",
            "customfield_10051": {"value": "Production", "id": "1"},
            "customfield_10060": "2026-11-20T09:00:00+11:00",
            "labels": ["api_manager"],
            "attachment": [{"filename": "screenshot.png"}, {"filename": "console.log"}],
            "created": "2026-11-24T08:00:00.000+1100",
            "reporter": {"displayName": "Pat", "emailAddress": "pat@acme.example"},
        },
        names={"customfield_10051": "Environment", "customfield_10060": "Last refresh"},
    )
    reading = read_ticket(payload)
    assert reading.key == "MSD-42"
    assert reading.present["screenshots_or_logs"] == "2 attachments: screenshot.png, console.log"
    assert reading.present["last_refresh"] == "2026-11-20T09:00:00+11:00"
    assert reading.present["organization_context"] == "environment Production"
    assert reading.present["dataset_type"] == "api_manager"
    assert reading.present["timestamp"] == "23 Nov 2026 at 10:15"  # not the ticket's `created`
    assert reading.to_dict()["ticket_key"] == "MSD-42"


def test_jira_issue_shape_and_comments() -> None:
    issue = {
        "key": "MSD-7",
        "fields": {
            "summary": "Rovo action fails",
            "description": None,
            "comment": {"comments": [{"body": _adf(_p("Cache: expired"))}]},
        },
    }
    reading = read_ticket(issue)
    assert reading.key == "MSD-7"
    assert reading.present["cache_freshness"] == "expired"
    assert reading.present["affected_module"] == "Rovo action"


def test_json_text_is_parsed_as_a_ticket() -> None:
    text = json.dumps({"summary": "Exchange macro", "description": "Cache: stale"})
    reading = read_ticket(text)
    assert reading.present["cache_freshness"] == "stale"
    assert reading.suggested_module == "exchange-asset"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"summary": "x"}', {"summary": "x"}),
        ("{}", {}),
        ("plain text ticket", "plain text ticket"),
        ("{code}x{code} is wiki markup", "{code}x{code} is wiki markup"),
    ],
)
def test_parse_ticket_text(text: str, expected: Any) -> None:
    assert parse_ticket_text(text) == expected


@pytest.mark.parametrize("text", ["", "   \n", '{"summary": ', "[1, 2]", '["summary"]'])
def test_parse_ticket_text_rejects(text: str) -> None:
    with pytest.raises(TicketError):
        parse_ticket_text(text)


# -- sensitive data ----------------------------------------------------------------------------

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnktdGlja2V0In0.Y2FuYXJ5LXRpY2tldC1zaWc"
SENSITIVE_CASES = [
    ("client_secret", "Our config: client_secret=canary-ticket-1a2b3c"),
    ("authorization_header", "curl -H 'Authorization: Bearer canary-ticket-4d5e6f' https://x"),
    ("password", "the admin password: canary-ticket-7a8b9c"),
    ("jwt", f"the token is {JWT}"),
    ("url_credentials", "https://admin:canary-ticket-0d1e2f@acme.atlassian.net/wiki"),
    ("atlassian_api_token", "token ATATT3xFfGF0canaryticket1234567890abcdef"),
]


@pytest.mark.parametrize(("kind", "text"), SENSITIVE_CASES)
def test_sensitive_data_is_flagged_and_never_echoed(kind: str, text: str) -> None:
    reading = read_ticket(f"Exchange macro broken.\n{text}\nSteps:\n1. open\n2. refresh")
    assert reading.security_impacting
    assert reading.status == "sensitive"
    assert [s["kind"] for s in reading.sensitive] == [kind]
    assert f"[REDACTED:{kind}]" in reading.sensitive[0]["excerpt"]
    dumped = json.dumps(reading.to_dict()) + render_reading_text(reading)
    assert "canary" not in dumped.lower() and "Y2FuYXJ5" not in dumped


def test_sensitive_data_in_structured_fields_and_present_values_is_redacted() -> None:
    payload = _webhook(
        {
            "summary": "Exchange macro broken on https://admin:canary-s1@acme.atlassian.net",
            "description": "Steps to reproduce: log in with password=canary-s2 then refresh",
            "customfield_10070": {"client_secret": "canary-s3"},
            "comment": {"comments": [{"body": "Authorization: Bearer canary-s4-aaaaaaaa"}]},
            "environment": "x-api-key: canary-s5",
        }
    )
    reading = read_ticket(payload)
    kinds = {s["kind"] for s in reading.sensitive}
    assert {"url_credentials", "password", "client_secret", "authorization_header"} <= kinds
    assert "key_value_secret" in kinds
    assert reading.present["customer_site_url"] == "https://acme.atlassian.net"
    assert "[REDACTED:password]" in reading.present["reproduction_steps"]
    assert "canary" not in json.dumps(reading.to_dict())
    assert "canary" not in render_reading_text(reading)


def test_text_rendering() -> None:
    text = render_reading_text(read_ticket("Exchange macro on https://acme.atlassian.net"))
    assert "✓ Customer site URL" in text
    assert "✗ Timestamp" in text
    assert "Ask for the Confluence site URL, e.g. https://acme.atlassian.net" not in text
    assert "Ask when the problem happened" in text
    assert "WARNING" not in text
    warned = render_reading_text(read_ticket("client_secret=canary-r-123456"))
    assert "WARNING: sensitive data found (1)" in warned
    assert "escalate to the security owner" in warned
