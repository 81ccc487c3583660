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
