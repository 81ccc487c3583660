"""POST /webhooks/jsm end to end: a signed jira:issue_created in → exact Service Management calls out.

Jobs run synchronously (``MULESIGHT_JOB_QUEUE = "sync"``); Service Management is ``responses``;
Anypoint is the in-process simulation of the space's scenario.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.models import DiagnosticRun, Installation, OutboxMessage, Space, WebhookEvent
from tests.app.conftest import NOW

SECRET = "whsec-6f2b9d0e41c8a7f3"
BASE = "https://sparrow-support.atlassian.net"
DESK = "7"
KEY = "SUP-42"
SITE = "https://acme.atlassian.net"
COMMENT_URL = f"{BASE}/rest/servicedeskapi/request/{KEY}/comment"
UPLOAD_URL = f"{BASE}/rest/servicedeskapi/servicedesk/{DESK}/attachTemporaryFile"
ATTACH_URL = f"{BASE}/rest/servicedeskapi/request/{KEY}/attachment"
ISSUE_URL = f"{BASE}/rest/api/3/issue/{KEY}"
LEAKED = "Zq8vN2rT5wXyB7pK4mLs"
MELBOURNE = ZoneInfo("Australia/Melbourne")
DUE = re.compile(
    r"\w{3} \d{2} \w{3} \d{4} \d{2}:\d{2} AE[DS]T \(\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\)"
)  # a client secret a customer pasted into a ticket

DESCRIPTION = (
    "Since this morning the API Manager macro on our Payments runbook in the OPS space shows "
    "nothing.\n\nSteps to reproduce:\n1. Open the Payments API runbook page\n"
    "2. Look at the api-manager-instance macro"
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "MULESIGHT_WEBHOOK_SECRET": SECRET,
        "JSM_BASE_URL": BASE,
        "JSM_EMAIL": "bot@sparrow.example",
        "JSM_API_TOKEN": "ATATT-jsm-token-for-tests",
        "JSM_SERVICE_DESK_ID": DESK,
        "MULESIGHT_JOB_QUEUE": "sync",
    }


def connect_site(app: Flask, scenario: str = "api-manager-sandbox-only", site: str = SITE) -> None:
    """An installation of ``site`` (stored with a trailing slash) with space OPS on ``scenario``."""
    with app.extensions["db"].session() as session:
        session.add(Installation(id="inst-acme", cloud_id="cloud-acme", site_url=f"{site}/"))
        session.flush()
        session.add(
            Space(
                installation_id="inst-acme",
                key="OPS",
                client_id="connected-app-1",
                control_plane="us",
                scenario=scenario,
            )
        )
        session.commit()


def jira_time(moment: datetime) -> str:
    """Jira's timestamp format, e.g. ``2026-11-23T10:15:30.000+1100``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z")


def issue_created(
    *,
    key: str = KEY,
    summary: str | None = None,
    description: str = DESCRIPTION,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A Service Management ``jira:issue_created`` webhook body (the documented shape).

    ``created`` defaults to a few minutes before the app tests' clock starts (Melbourne time), so
    due times are never breached.
    """
    created = created or NOW.astimezone(MELBOURNE) - timedelta(minutes=5)
    return {
        "timestamp": 1795389330000,
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Dana Customer"},
        "issue": {
            "id": "10042",
            "self": f"{BASE}/rest/api/2/issue/10042",
            "key": key,
            "fields": {
                "summary": summary or "API Manager macro is empty on acme.atlassian.net",
                "description": description,
                "project": {"id": "10001", "key": "SUP", "name": "MuleSight support"},
                "issuetype": {"id": "10004", "name": "[System] Service request"},
                "created": jira_time(created),
                "reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
                "labels": [],
            },
        },
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


Post = Callable[..., Any]


@pytest.fixture
def post(client: FlaskClient) -> Post:
    def send(
        payload: Any, *, signature: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        sent["X-Hub-Signature"] = signature if signature is not None else sign(body)
        return client.post("/webhooks/jsm", data=body, headers=sent)

    return send


def _json(request: Any) -> dict[str, Any]:
    return json.loads(request.body)


def _public_is(flag: bool) -> Callable[[Any], tuple[bool, str]]:
    def match(request: Any) -> tuple[bool, str]:
        return _json(request).get("public") is flag, f"public is not {flag}"

    return match


def _attaches_both_uploads(request: Any) -> tuple[bool, str]:
    """Both uploads (in either order: they go out together), internal, with the outbox marker."""
    body = _json(request)
    ok = (
        sorted(body.get("temporaryAttachmentIds") or []) == ["temp-1", "temp-2"]
        and body.get("public") is False
        and "MuleSight reference: ms-" in body.get("additionalComment", {}).get("body", "")
    )
    return ok, "not both uploads, internal, with the marker"


def sent(jsm: responses.RequestsMock, method: str, url: str, public: bool | None = None) -> Any:
    """The one request of ``method`` to ``url`` (a comment: the public or the internal one)."""
    found = [
        c.request
        for c in jsm.calls
        if (c.request.method, c.request.url) == (method, url)
        and (public is None or _json(c.request).get("public") is public)
    ]
    assert len(found) == 1, found
    return found[0]


def uploads(jsm: responses.RequestsMock) -> list[Any]:
    """The upload requests, report.json's first."""
    found = [c.request for c in jsm.calls if c.request.url == UPLOAD_URL]
    return sorted(found, key=lambda r: b'filename="report.json"' not in r.body)


@pytest.fixture
def jsm() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def mock_everything(jsm: responses.RequestsMock) -> dict[str, Any]:
    mocks = {
        "internal": jsm.post(
            COMMENT_URL, status=201, json={"id": "30001"}, match=[_public_is(False)]
        ),
        "public": jsm.post(COMMENT_URL, status=201, json={"id": "30002"}, match=[_public_is(True)]),
        "attach": jsm.post(
            ATTACH_URL,
            status=201,
            json={
                "attachments": {
                    "values": [
                        {"_links": {"jiraRest": f"{BASE}/rest/api/2/attachment/20001"}},
                        {"_links": {"jiraRest": f"{BASE}/rest/api/2/attachment/20002"}},
                    ]
                }
            },
            match=[_attaches_both_uploads],
        ),
        "labels": jsm.put(ISSUE_URL, status=204),
    }
    for temporary in ("temp-1", "temp-2"):
        jsm.post(
            UPLOAD_URL,
            status=201,
            json={"temporaryAttachments": [{"temporaryAttachmentId": temporary}]},
        )
    return mocks


def calls(jsm: responses.RequestsMock) -> list[tuple[str, str]]:
    return [(c.request.method, c.request.url) for c in jsm.calls]


def count(app: Flask, model: type) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_end_to_end_exact_calls_and_redelivery_adds_none(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app)
    mocks = mock_everything(jsm)
    payload = issue_created()

    answer = post(payload)

    assert answer.status_code == 202, answer.json
    assert answer.json == {
        "delivery_id": "jira:issue_created:10042:1795389330000",
        "duplicate": False,
    }
    # Independent calls go out together: only the comments' order and uploads-then-attach hold.
    assert sorted(calls(jsm)) == sorted(
        [
            ("POST", COMMENT_URL),
            ("POST", UPLOAD_URL),
            ("POST", UPLOAD_URL),
            ("POST", ATTACH_URL),
            ("PUT", ISSUE_URL),
            ("POST", COMMENT_URL),
        ]
    )
    order = [c.request for c in jsm.calls]
    assert order.index(sent(jsm, "POST", COMMENT_URL, public=False)) < order.index(
        sent(jsm, "POST", COMMENT_URL, public=True)
    )
    assert max(order.index(u) for u in uploads(jsm)) < order.index(sent(jsm, "POST", ATTACH_URL))
    assert [mocks[k].call_count for k in ("internal", "attach", "labels", "public")] == [1] * 4

    internal = _json(sent(jsm, "POST", COMMENT_URL, public=False))
    assert internal["public"] is False
    body = internal["body"]
    with app.extensions["db"].session() as session:
        run = session.scalars(sa.select(DiagnosticRun)).one()
    assert run.requested_by == f"webhook:{KEY}"
    assert f"MuleSight diagnostics for {KEY}" in body
    assert "Verdict: broken" in body and run.id in body
    assert "What to fix (root causes, worst first)" in body
    assert "*Who must act:* The customer's Anypoint / Confluence admin" in body
    assert body.count("add the scope") == 1  # the root cause's fix, said once
    assert "Suggested severity: Sev 2" in body and "no coverage on production" in body
    assert "Australia/Melbourne" in body and "UTC" in body
    for due in ("Initial response due", "Next update due", "Resolution due"):
        assert re.search(f"{due}: {DUE.pattern}", body), due
    assert "Escalation: Support triage" in body
    assert "Upstream" not in body  # no finding owned by MuleSoft in this scenario

    assert "MuleSight reference: ms-" in body.splitlines()[-1]  # to find it if in doubt
    files = uploads(jsm)
    assert b'filename="report.json"' in files[0].body
    assert b'filename="report.md"' in files[1].body
    report = json.loads(files[0].body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0])
    assert report["run_id"] == run.id and report["verdict"] == "broken"

    assert _json(sent(jsm, "PUT", ISSUE_URL)) == {
        "update": {
            "labels": [
                {"add": "mulesight-verdict-broken"},
                {"add": "mulesight-coverage-partial"},
                {"add": "mulesight-sev-2"},
            ]
        }
    }
    public = _json(sent(jsm, "POST", COMMENT_URL, public=True))
    asked = [line for line in public["body"].splitlines() if line.startswith("* ")]
    # Reproduction steps are in the ticket; the run filled in module, dataset, coverage, ...
    assert asked == ["* A screenshot or a log snippet, with passwords, secrets and tokens removed"]

    with app.extensions["db"].session() as session:
        event = session.scalars(sa.select(WebhookEvent)).one()
        assert event.status == "done" and event.processed_at is not None
        statuses = session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == ["delivered"] * 4

    again = post(payload)
    assert again.status_code == 202
    assert again.json["duplicate"] is True
    assert len(jsm.calls) == 6
    assert count(app, WebhookEvent) == 1 and count(app, DiagnosticRun) == 1


def test_the_delivery_header_is_the_idempotency_key(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app)
    mock_everything(jsm)
    headers = {"X-Atlassian-Webhook-Identifier": "a1b2c3d4-delivery"}
    assert post(issue_created(), headers=headers).json["delivery_id"] == "a1b2c3d4-delivery"
    first = len(jsm.calls)
    redelivered = post(issue_created(), headers={**headers, "X-Atlassian-Webhook-Retry": "1"})
    assert redelivered.status_code == 202 and redelivered.json["duplicate"] is True
    assert len(jsm.calls) == first == 6


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=" + "0" * 64, "sha1=abc", "sha256=", "not-a-signature"],
)
def test_unsigned_or_wrongly_signed_is_401_and_nothing_is_stored(
    app: Flask, post: Post, jsm: responses.RequestsMock, signature: str
) -> None:
    answer = post(issue_created(), signature=signature)
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "invalid_signature"
    assert count(app, WebhookEvent) == 0 and count(app, OutboxMessage) == 0
    assert len(jsm.calls) == 0


def test_signed_with_another_secret_is_401(app: Flask, post: Post) -> None:
    body = json.dumps(issue_created()).encode()
    answer = post(body, signature=sign(body, "another-secret"))
    assert answer.status_code == 401
    assert count(app, WebhookEvent) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": KEY, "fields": {}}}),
        json.dumps({"webhookEvent": "jira:issue_created", "issue": {"fields": {}}}),
        json.dumps({"webhookEvent": "jira:issue_created", "issue": {"key": KEY}}),
    ],
)
def test_malformed_is_400_and_nothing_is_stored(app: Flask, post: Post, body: bytes | str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    answer = post(raw)
    assert answer.status_code == 400
    assert set(answer.json["error"]) >= {"code", "message"}
    assert count(app, WebhookEvent) == 0 and count(app, OutboxMessage) == 0


def test_oversize_is_413_and_nothing_is_stored(app: Flask, post: Post) -> None:
    payload = issue_created(description="x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    answer = post(payload)
    assert answer.status_code == 413
    assert answer.json["error"]["code"]
    assert count(app, WebhookEvent) == 0


def test_without_a_webhook_secret_every_webhook_is_refused(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    app.config["MULESIGHT_WEBHOOK_SECRET"] = None
    answer = post(issue_created(), signature=sign(b"anything", ""))
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "webhooks_disabled"
    assert count(app, WebhookEvent) == 0 and len(jsm.calls) == 0


def test_unknown_site_gets_an_internal_note_and_the_customer_is_asked(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app)
    comment = jsm.post(COMMENT_URL, status=201, json={"id": "30009"})
    payload = issue_created(
        summary="Macros broken on https://globex.atlassian.net/wiki/spaces/OPS",
        description="Nothing loads since Monday.",
    )

    assert post(payload).status_code == 202

    assert calls(jsm) == [("POST", COMMENT_URL), ("POST", COMMENT_URL)]
    assert comment.call_count == 2
    internal, public = (_json(call.request) for call in jsm.calls)
    assert internal["public"] is False and public["public"] is True
    assert "https://globex.atlassian.net" in internal["body"]
    assert "not connected" in internal["body"] and "mulesight attach" in internal["body"]
    assert "customer has been asked" in internal["body"]
    assert (
        "could not find MuleSight for Confluence connected on https://globex.atlassian.net"
        in (public["body"])
    )
    assert "if it is not https://globex.atlassian.net" in public["body"]
    assert "steps that show the problem" in public["body"]  # the other missing details too
    assert count(app, DiagnosticRun) == 0


def test_a_ticket_naming_no_site_asks_the_customer_for_it(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app)
    jsm.post(COMMENT_URL, status=201, json={"id": "30010"})

    assert post(
        issue_created(summary="Macros broken", description="Nothing loads.")
    ).status_code == (202)

    internal, public = (_json(call.request) for call in jsm.calls)
    assert "none (no *.atlassian.net URL in the ticket)" in internal["body"]
    assert public["public"] is True
    assert "Your Confluence site URL, for example https://acme.atlassian.net" in public["body"]
    assert count(app, DiagnosticRun) == 0


def test_secret_in_the_ticket_is_security_impacting_and_never_sent_or_stored(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app)
    mock_everything(jsm)
    description = (
        f"{DESCRIPTION}\n\nOur connected app: client_id=0a1b2c3d client_secret={LEAKED}\n"
        "The macro was last refreshed yesterday."
    )

    assert post(issue_created(description=description)).status_code == 202

    assert len(jsm.calls) == 6
    for call in jsm.calls:
        body = call.request.body or b""
        assert LEAKED.encode() not in (body if isinstance(body, bytes) else body.encode())
    internal = _json(sent(jsm, "POST", COMMENT_URL, public=False))["body"]
    assert "Security-impacting" in internal and "client_secret" in internal
    assert "Escalation: Security owner" in internal
    assert "the issue is security-impacting" in internal
    labels = [item["add"] for item in _json(sent(jsm, "PUT", ISSUE_URL))["update"]["labels"]]
    assert "mulesight-security-impacting" in labels
    with app.extensions["db"].engine.connect() as conn:
        for table in ("webhook_events", "outbox"):
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
            assert rows and all(LEAKED not in str(tuple(row)) for row in rows)


def test_mulesoft_outage_tells_the_customer_what_to_file_and_expect(
    app: Flask, post: Post, jsm: responses.RequestsMock
) -> None:
    connect_site(app, scenario="upstream-outage")
    mock_everything(jsm)

    assert post(issue_created()).status_code == 202

    internal = _json(sent(jsm, "POST", COMMENT_URL, public=False))["body"]
    assert "Suggested severity: Sev 1" in internal
    assert "Upstream: MuleSoft's platform" in internal
    assert "File a case with MuleSoft at *S1*" in internal  # Markdown bold → Jira bold
    for tier in ("Gold: within 1 business day", "Platinum: within 2 hours", "Titanium"):
        assert tier in internal
    assert "maintenance window" in internal
    public = _json(sent(jsm, "POST", COMMENT_URL, public=True))
    assert "open a case with MuleSoft" in public["body"] and "severity S1" in public["body"]
    assert "https://status.mulesoft.com" in public["body"]
    assert "Titanium: within 45 minutes" in public["body"]
