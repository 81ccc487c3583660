"""The engine against Anypoint mocked at the HTTP boundary with `responses` (the real client runs)."""

from __future__ import annotations

import re

import responses

from diagnostics.engine import RunInput, RunOptions, run_diagnostics
from diagnostics.model import AppState, Connection

BASE = "https://anypoint.mulesoft.com"
ORG = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11"
CONNECTION = Connection("client-id-123", "canary-secret-abc", ORG, "us")


@responses.activate
def test_environments_forbidden_blocks_every_per_environment_dataset() -> None:
    responses.post(
        f"{BASE}/accounts/api/v2/oauth2/token",
        json={"access_token": "tok-canary-xyz", "token_type": "bearer", "expires_in": 3600},
    )
    responses.get(f"{BASE}/accounts/api/me", json={"client": {"client_id": "client-id-123"}})
    responses.get(f"{BASE}/accounts/api/organizations/{ORG}", json={"id": ORG, "name": "Sparrow"})
    responses.get(f"{BASE}/accounts/api/organizations/{ORG}/hierarchy", json={"id": ORG})
    responses.get(
        f"{BASE}/accounts/api/organizations/{ORG}/environments",
        status=403,
        json={"message": "You do not have permission"},
    )
    responses.get(re.compile(f"{BASE}/exchange/api/v2/assets/search.*"), json=[])
    responses.get(f"{BASE}/runtimefabric/api/organizations/{ORG}/targets", json=[])

    report = run_diagnostics(
        RunInput(CONNECTION, AppState(cache_known=False)), RunOptions(timeout=(0.5, 0.5))
    ).data

    env_scope = report["scopes"]["read:orgenvironments"]
    assert (env_scope["status"], env_scope["missing_in"]) == ("none", ["organization"])
    for key in ("runtime_manager", "api_manager", "api_security_posture"):
        assert report["datasets"][key]["coverage"] in ("none", "partial")
        assert report["datasets"][key]["reason"] == "auth_blocked"
    am = report["datasets"]["api_manager"]["probes"]
    assert [(p["outcome"], p["environment_id"]) for p in am] == [("skipped", None)]
    # Every request carried the bearer token, and no secret reached the report.
    sent = [c.request for c in responses.calls if "oauth2" not in c.request.url]
    assert all(r.headers["Authorization"] == "Bearer tok-canary-xyz" for r in sent)
    assert "canary-secret-abc" not in str(report) and "tok-canary-xyz" not in str(report)


@responses.activate
def test_a_token_issued_mid_run_is_redacted_from_messages_scanned_before_it() -> None:
    """Records are scanned for secrets as they arrive; a token issued later still counts.

    One probe at a time: the organization calls answer with the first token (their messages
    echo the second, not known yet), then the RTF call's 401 makes the client fetch the second.
    """
    token = f"{BASE}/accounts/api/v2/oauth2/token"
    responses.post(token, json={"access_token": "tok-first-canary", "expires_in": 3600})
    responses.post(token, json={"access_token": "tok-second-canary", "expires_in": 3600})
    responses.get(f"{BASE}/accounts/api/me", json={"client": {"client_id": "client-id-123"}})
    echo = {"message": "denied: tok-second-canary is not for canary-secret-abc"}
    for path in ("", "/hierarchy", "/environments"):
        responses.get(f"{BASE}/accounts/api/organizations/{ORG}{path}", status=403, json=echo)
    responses.get(re.compile(f"{BASE}/exchange/api/v2/assets/search.*"), status=403, json=echo)
    rtf = f"{BASE}/runtimefabric/api/organizations/{ORG}/targets"
    responses.get(rtf, status=401, json={"message": "expired"})
    responses.get(rtf, status=403, json=echo)

    report = run_diagnostics(
        RunInput(CONNECTION, AppState(cache_known=False)),
        RunOptions(timeout=(0.5, 0.5), concurrency=1),
    ).data

    assert len([c for c in responses.calls if c.request.url == token]) == 2
    text = str(report)
    assert "tok-second-canary" not in text and "canary-secret-abc" not in text
    assert report["redactions"]["kinds"].get("known_secret", 0) >= 4
