"""The redaction stage: planted canaries never survive, look-alikes always do."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from html import escape
from urllib.parse import quote, quote_plus

import pytest

from diagnostics import redaction
from diagnostics.redaction import (
    RedactingFilter,
    RedactionError,
    Redactor,
    find_secrets,
    install_log_redaction,
    merge_summaries,
    redact,
    redact_report,
    redact_text,
    secret_key_kind,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnktand0LTdmM2EifQ.Y2FuYXJ5LXNpZ25hdHVyZS03ZjNh"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEcanaryPEM7f3aQIBAAKCAQEA0Z3VS5JJcds3xfn\n"
    "canaryPEMline2/7f3a+xyz==\n"
    "-----END RSA PRIVATE KEY-----"
)
CERT = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n"
    "-----END CERTIFICATE-----"
)

# (kind, text with a canary, the canary value that must disappear)
CANARIES: list[tuple[str, str, str]] = [
    ("client_secret", "client_secret=canary-secret-7f3a01&grant_type=x", "canary-secret-7f3a01"),
    ("client_secret", '{"client_secret": "canary-secret-7f3a02"}', "canary-secret-7f3a02"),
    ("client_secret", "clientSecret: canary-secret-7f3a03", "canary-secret-7f3a03"),
    ("access_token", '{"access_token": "canary-access-7f3a04", "x": 1}', "canary-access-7f3a04"),
    ("access_token", "GET /x?access_token=canary-access-7f3a05&y=1", "canary-access-7f3a05"),
    ("refresh_token", '"refresh_token":"canary-refresh-7f3a06"', "canary-refresh-7f3a06"),
    ("authorization_header", "Authorization: Bearer canary-bearer-7f3a07", "canary-bearer-7f3a07"),
    (
        "authorization_header",
        "authorization: Basic Y2FuYXJ5LWJhc2ljLTdmM2E=",
        "Y2FuYXJ5LWJhc2ljLTdmM2E=",
    ),
    (
        "authorization_header",
        "curl -H 'Authorization: Bearer canary-curl-7f3a08' https://anypoint.mulesoft.com/x",
        "canary-curl-7f3a08",
    ),
    (
        "authorization_header",
        "{'Authorization': 'Bearer canary-repr-7f3a09'}",
        "canary-repr-7f3a09",
    ),
    (
        "authorization_header",
        "sent Bearer canaryBearerLoose7f3a10xyz",
        "canaryBearerLoose7f3a10xyz",
    ),
    ("password", "password=canary-pass-7f3a11", "canary-pass-7f3a11"),
    ("password", '{"password": "canary-pass-7f3a12"}', "canary-pass-7f3a12"),
    ("password", "pwd: canary-pass-7f3a13", "canary-pass-7f3a13"),
    ("password", "passwd=canary-pass-7f3a14", "canary-pass-7f3a14"),
    ("password", "db.password = canary-pass-7f3a15", "canary-pass-7f3a15"),
    ("password", "curl -u admin:canary-pass-7f3a16 https://x.example", "canary-pass-7f3a16"),
    ("url_credentials", "https://bob:canary-url-7f3a17@example.com/x", "canary-url-7f3a17"),
    ("jwt", f"token was {JWT} ok", JWT),
    ("pem_private_key", f"key:\n{PEM}\nend", "canaryPEM"),
    ("key_value_secret", "api_key=canary-api-7f3a18", "canary-api-7f3a18"),
    ("key_value_secret", "apikey: canary-api-7f3a19", "canary-api-7f3a19"),
    ("key_value_secret", "x-api-key: canary-api-7f3a20", "canary-api-7f3a20"),
    ("key_value_secret", "secret=canary-kv-7f3a21", "canary-kv-7f3a21"),
    ("key_value_secret", "token=canary-kv-7f3a22", "canary-kv-7f3a22"),
    ("key_value_secret", "aws_secret_access_key=canary/kv+7f3a23", "canary/kv+7f3a23"),
    ("key_value_secret", '{"apiToken": "canary-kv-7f3a27"}', "canary-kv-7f3a27"),
    ("atlassian_api_token", "ATATT3xFfGF0canary7f3a24abcdefghijklmnop", "canary7f3a24"),
    ("aws_access_key", "key AKIACANARY7F3A25XYZW used", "AKIACANARY7F3A25XYZW"),
    ("cookie", "Cookie: JSESSIONID=canary-cookie-7f3a26; other=1", "canary-cookie-7f3a26"),
]

LOOK_ALIKES = [
    "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11",
    "organization 6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11 environment env-prod",
    "X-ANYPNT-ENV-ID: 0b6a7c1e-58a4-4d7c-9b8d-3c2f1e0a9b77",
    "API instance 18512345",
    "asset version 1.0.3 and 2.1.0-SNAPSHOT",
    "client_id=0123456789abcdef0123456789abcdef",
    '{"client_id": "0123456789abcdef0123456789abcdef", "token_type": "bearer", "expires_in": 3600}',
    "2026-11-23T10:15:00+11:00",
    "https://anypoint.mulesoft.com/exchange/api/v2/assets/search?organizationId=6f1c&offset=0",
    "https://acme.atlassian.net/wiki/spaces/ENG/pages/12345",
    "the client secret is wrong",
    "token call answered 401",
    "password reset needed; the secret: please rotate it",
    "POST /accounts/api/v2/oauth2/token",
    "scope read:exchange is missing",
    '{"redactions": {"count": 0, "kinds": {}}}',
    json.dumps(
        {"redactions": {"count": 3, "kinds": {"access_token": 1, "client_secret": 2}}}, indent=2
    ),
    "client_secret=$ANYPOINT_CLIENT_SECRET and password: ********",
    '{"client_secret": null, "password": ""}',
    CERT,
    "Bearer token expired",
]


@pytest.mark.parametrize(("kind", "text", "canary"), CANARIES, ids=[c[2][:24] for c in CANARIES])
def test_canary_is_removed_and_counted(kind: str, text: str, canary: str) -> None:
    redactor = Redactor()
    out = redactor.redact_text(text)
    assert canary not in out
    assert f"[REDACTED:{kind}]" in out
    assert redactor.summary() == {"count": 1, "kinds": {kind: 1}}


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_survive(text: str) -> None:
    redactor = Redactor()
    assert redactor.redact_text(text) == text
    assert redactor.summary() == {"count": 0, "kinds": {}}


@pytest.mark.parametrize(
    "obj",
    [
        {"client_id": "0123456789abcdef0123456789abcdef", "token_type": "bearer", "expires_in": 60},
        {"redactions": {"count": 3, "kinds": {"client_secret": 3}}},
        {"probe": "token", "environment_id": "env-prod", "status": 401, "elapsed_ms": 12.5},
        {"secret": None, "password": "", "token": False},
        {"kinds": {"client_secret": 1, "access_token": 2}},
    ],
)
def test_look_alike_structures_survive(obj: dict) -> None:
    redactor = Redactor()
    assert redactor.redact(obj) == obj
    assert redactor.summary()["count"] == 0


def _all_canaries_text() -> str:
    return "\n".join(text for _, text, _ in CANARIES)


def _assert_clean(out: str) -> None:
    for _, _, canary in CANARIES:
        assert canary not in out


def test_every_canary_in_one_text_json_markdown_and_html() -> None:
    text = _all_canaries_text()
    markdown = f"# Report\n\n- detail: `{text}`\n\n```\n{text}\n```\n"
    html = f'<html><body><pre>{escape(text)}</pre><p title="{escape(text)}">x</p></body></html>'
    raw_html = f"<pre>{text}</pre>"
    as_json = json.dumps({"log": text.splitlines()})
    for rendered in (text, markdown, html, raw_html, as_json):
        redactor = Redactor()
        _assert_clean(redactor.redact_text(rendered))
        assert redactor.summary()["count"] >= len(CANARIES)


def test_summary_counts_every_kind() -> None:
    redactor = Redactor()
    redactor.redact_text(_all_canaries_text())
    expected: dict[str, int] = {}
    for kind, _, _ in CANARIES:
        expected[kind] = expected.get(kind, 0) + 1
    assert redactor.summary() == {"count": len(CANARIES), "kinds": expected}


def test_nested_structures() -> None:
    obj = {
        "client_secret": "canary-nested-1",
        "headers": {"Authorization": "Bearer canary-nested-2", "X-ANYPNT-ORG-ID": "org-1"},
        "items": [
            "password=canary-nested-3",
            ("refresh_token", {"api_key": "canary-nested-4"}),
            {"token": {"value": "canary-nested-5"}},
        ],
        "notes": {"canary-nested-6-key": "x"},
        "blob": b"access_token=canary-nested-7",
        "count": 3,
    }
    redactor = Redactor(["canary-nested-6-key"])
    out = redactor.redact(obj)
    dumped = repr(out)
    for n in range(1, 8):
        assert f"canary-nested-{n}" not in dumped
    assert out["headers"]["Authorization"] == "Bearer [REDACTED:authorization_header]"
    assert out["headers"]["X-ANYPNT-ORG-ID"] == "org-1"
    assert out["items"][1][0] == "refresh_token"
    assert isinstance(out["items"][1], tuple)
    assert out["count"] == 3
    assert redactor.summary()["count"] == 7
    assert obj["client_secret"] == "canary-nested-1"  # the input is not modified


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("client_secret", "client_secret"),
        ("Client-Secret", "client_secret"),
        ("password", "password"),
        ("db_password", "password"),
        ("access_token", "access_token"),
        ("refresh_token", "refresh_token"),
        ("Authorization", "authorization_header"),
        ("api_key", "key_value_secret"),
        ("x-api-key", "key_value_secret"),
        ("secret", "key_value_secret"),
        ("token", "key_value_secret"),
        ("client_id", None),
        ("token_type", None),
        ("expires_in", None),
        ("redactions", None),
        ("secret_set", None),
        ("apiToken", "key_value_secret"),
        ("oauth_access_token", "access_token"),
        ("tokens_issued", None),
        (42, None),
    ],
)
def test_secret_key_kind(key: object, kind: str | None) -> None:
    assert secret_key_kind(key) == kind


def test_idempotent() -> None:
    text = _all_canaries_text()
    redactor = Redactor(["canary-known-1"])
    once = redactor.redact_text(text + "\ncanary-known-1")
    first = redactor.summary()
    assert redactor.redact_text(once) == once
    assert redactor.summary() == first
    obj = redact({"a": text, "client_secret": "x", "Authorization": "Bearer abc"})
    again = Redactor()
    assert again.redact(obj) == obj
    assert again.summary()["count"] == 0


def test_known_secrets_are_removed_everywhere() -> None:
    secret = 's3cr3t with spaces&symbols/+"quoted"'
    text = (
        f"raw {secret} | form client_id=a&x={quote_plus(secret)} "
        f"| path /x/{quote(secret, safe='')} | json {json.dumps(secret)}"
    )
    out = redact_text(text, known_secrets=[secret, "", None])
    assert "s3cr3t" not in out
    assert out.count("[REDACTED:known_secret]") == 4


def test_known_secret_inside_a_longer_value_leaves_nothing() -> None:
    out = redact_text("password=prefix-tok-canary-suffix", ["tok-canary"])
    assert "prefix" not in out and "suffix" not in out and "tok-canary" not in out


def test_redact_report_fills_and_merges_redactions() -> None:
    report = {
        "schema_version": 1,
        "findings": [{"detail": "token call sent client_secret=canary-r1"}],
        "probes": [{"probe": "token", "message": "Bearer canary-token-r2-abcdefgh rejected"}],
        "redactions": {"count": 2, "kinds": {"jwt": 2}},
    }
    out = redact_report(report, known_secrets=["canary-token-r2-abcdefgh"])
    assert "canary" not in json.dumps(out)
    assert out["redactions"] == {
        "count": 4,
        "kinds": {"client_secret": 1, "jwt": 2, "known_secret": 1},
    }
    assert out["probes"][0]["probe"] == "token"
    assert report["redactions"] == {"count": 2, "kinds": {"jwt": 2}}  # a copy


def test_redact_report_without_existing_redactions() -> None:
    assert redact_report({"a": "ok"})["redactions"] == {"count": 0, "kinds": {}}


def test_merge_summaries() -> None:
    merged = merge_summaries(
        {"count": 1, "kinds": {"jwt": 1}}, None, {"count": 2, "kinds": {"jwt": 2}}
    )
    assert merged == {"count": 3, "kinds": {"jwt": 3}}


def test_find_secrets_excerpts_never_show_the_value() -> None:
    text = (
        "POST /accounts/api/v2/oauth2/token client_id=0123456789abcdef0123456789abcdef"
        "&client_secret=canary-find-7f3a&grant_type=client_credentials\n"
        f"Authorization: Bearer {JWT}"
    )
    findings = find_secrets(text)
    assert [f.kind for f in findings] == ["client_secret", "authorization_header"]
    for f in findings:
        assert f.start < f.end
        assert "canary" not in f.excerpt and "eyJ" not in f.excerpt
        assert f"[REDACTED:{f.kind}]" in f.excerpt
        assert "\n" not in f.excerpt
    assert text[findings[0].start : findings[0].end] == "canary-find-7f3a"
    assert "client_secret=[REDACTED:client_secret]" in findings[0].excerpt
    assert findings[0].to_dict() == {"kind": "client_secret", "excerpt": findings[0].excerpt}


def test_find_secrets_on_clean_text() -> None:
    assert find_secrets("the client secret is wrong") == []


def test_overlapping_matches_count_once() -> None:
    redactor = Redactor()
    out = redactor.redact_text(f"access_token={JWT}")
    assert out == "access_token=[REDACTED:access_token]"
    assert redactor.summary() == {"count": 1, "kinds": {"access_token": 1}}


def test_unredactable_value_raises_redaction_error() -> None:
    with pytest.raises(RedactionError):
        redact({"x": object()})
    with pytest.raises(RedactionError):
        Redactor().redact_text(b"bytes")  # type: ignore[arg-type]


def test_failure_inside_redaction_never_returns_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Redactor, text: str) -> list:
        raise RuntimeError("client_secret=canary-boom")

    monkeypatch.setattr(Redactor, "spans", boom)
    with pytest.raises(RedactionError) as info:
        redact_text("client_secret=canary-boom")
    assert "canary" not in str(info.value)
    with pytest.raises(RedactionError):
        redact_report({"a": "client_secret=canary-boom"})
    with pytest.raises(RedactionError):
        find_secrets("x")


# -- logging -----------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger = logging.getLogger("tests.redaction")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)
    logger.filters.clear()
    logger.propagate = True


def test_log_records_are_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    log_filter = install_log_redaction(logger)
    assert install_log_redaction(logger) is log_filter  # installing twice adds nothing
    logger.info("token call %s", {"client_secret": "canary-log-1"})
    logger.warning("headers: %r", {"Authorization": "Bearer canary-log-2-abcdefgh"})
    logger.info("plain password=canary-log-3")
    try:
        raise ValueError("refresh_token=canary-log-4")
    except ValueError:
        logger.exception("failed with access_token=%s", "canary-log-5")
    output = stream.getvalue()
    assert "canary" not in output
    assert "Traceback" in output and "ValueError" in output
    # the traceback shows the raising source line and the message: both are redacted
    assert log_filter.redactor.summary()["count"] >= 5


def test_child_logger_records_are_redacted_by_handler_filter(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    install_log_redaction(logger)
    logging.getLogger("tests.redaction.child").error("api_key=canary-child-1")
    assert "canary" not in stream.getvalue()
    assert "[REDACTED:key_value_secret]" in stream.getvalue()


def test_log_record_that_cannot_be_redacted_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "secret=%s", ("canary",), None)
    log_filter = RedactingFilter()
    monkeypatch.setattr(log_filter.redactor, "redact_text", _raise)
    assert log_filter.filter(record) is False


def test_log_record_with_bad_arguments_is_still_redacted() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%d password=canary-bad", ("a",), None
    )
    assert RedactingFilter().filter(record) is True
    assert "canary" not in record.getMessage()


def _raise(*_: object) -> str:
    raise RedactionError("boom")


def test_public_names() -> None:
    assert all(hasattr(redaction, name) for name in redaction.__all__)


def test_a_known_secret_too_short_to_be_one_does_not_shred_the_text() -> None:
    text = "scopes missing: read:exchange is needed by the Exchange dataset"
    assert redact_text(text, known_secrets=["s"]) == text
    assert "[REDACTED" in redact_text("token canary-s3cret here", known_secrets=["canary-s3cret"])
