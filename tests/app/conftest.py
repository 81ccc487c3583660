"""Fixtures for the service: an app on a temporary instance folder, Forge keys and tokens.

- ``app`` / ``client`` / ``runner``: a fresh app (SQLite in ``tmp_path``, migrated) per test;
  override ``app_config`` in a test module to change its configuration.
- ``forge_keys``: an RSA key pair whose JWKS is served at the default ``FORGE_JWKS_URL`` by
  ``responses`` (``forge_keys.mock.calls`` counts the fetches).
- ``fit(installation_id=..., cloud_id=..., **claims)``: a signed Forge Invocation Token;
  ``forge_headers(...)`` the same as request headers.
- ``database_url``: parametrized over SQLite and PostgreSQL (a fresh schema per test, dropped
  afterwards; skipped when no server answers at ``MULESIGHT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app
from app.clock import EXTENSION as clock_extension
from app.config import ENV_VARIABLES, FORGE_JWKS_URL
from app.jobs import RedisQueue, build_queue, set_queue

APP_ID = "ari:cloud:ecosystem::app/73856157-5880-44b7-9347-6c0c688e1923"
SITE_A = "ari:cloud:ecosystem::installation/11111111-aaaa-4aaa-8aaa-111111111111"
SITE_B = "ari:cloud:ecosystem::installation/22222222-bbbb-4bbb-8bbb-222222222222"
CLOUD_A = "0c7b3e9a-1f2d-4c5b-8a6e-9d0f1e2a3b4c"
CLOUD_B = "5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
CLOUDS = {SITE_A: CLOUD_A, SITE_B: CLOUD_B}
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # every app test's "now" (see ``clock``)
ACCOUNT = "557058:f0e1d2c3-b4a5-4968-8776-655443322110"
POSTGRES_URL = os.environ.get(
    "MULESIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own MULESIGHT_* / FORGE_* / JSM_* variables never leak into a test."""
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class TestClock:
    """The app's clock in tests: starts at ``at`` whatever today is, then runs (monotonic), so
    rows keep their order; :meth:`advance` jumps ahead."""

    __test__ = False  # not a test class

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at
        self._started = time.monotonic()

    def __call__(self) -> datetime:
        # Only the elapsed time is real (monotonic, never a date): "now" is ``at`` plus it.
        return self.at + timedelta(seconds=time.monotonic() - self._started)

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def app_now(app: Flask) -> datetime:
    """Now on ``app``'s clock."""
    return app.extensions[clock_extension]()


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def app_config(tmp_path: Any, clock: TestClock) -> dict[str, Any]:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "FORGE_APP_ID": APP_ID,
        "CLOCK": clock,
    }


class ServedClient(FlaskClient):
    """A test client whose responses are read and closed as a server does once it has sent
    them, so work registered to run after the answer (``call_on_close``) runs before the test
    goes on."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def make_app(config: dict[str, Any]) -> Flask:
    app = create_app(config)
    app.test_client_class = ServedClient
    return app


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(app_config)
    yield app
    queue = app.extensions.get("mulesight_jobs")
    if queue is not None:
        queue.stop()  # the in-process queue's threads and sweeper
    app.extensions["db"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


# -- Forge Invocation Tokens ---------------------------------------------------------------------


def _b64(n: int) -> str:
    return (
        base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }


@dataclass
class ForgeKeys:
    private_key: rsa.RSAPrivateKey
    kid: str
    mock: responses.RequestsMock
    jwks: dict[str, Any] = field(default_factory=dict)
    # What the mocked Confluence permission API answers for the user token (see below).
    confluence: dict[str, Any] = field(
        default_factory=lambda: {"admin": True, "visible": True, "status": 200}
    )

    def fetches(self) -> int:
        return sum(1 for call in self.mock.calls if call.request.url == FORGE_JWKS_URL)


_KEY_CACHE: dict[str, rsa.RSAPrivateKey] = {}


def rsa_key(name: str = "main") -> rsa.RSAPrivateKey:
    """A 2048-bit key per name, generated once per test session (key generation is slow)."""
    if name not in _KEY_CACHE:
        _KEY_CACHE[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY_CACHE[name]


@pytest.fixture
def forge_keys() -> Iterator[ForgeKeys]:
    key = rsa_key()
    kid = "forge-test-key-1"
    jwks = {"keys": [public_jwk(key, kid)]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(FORGE_JWKS_URL, json=jwks)
        keys = ForgeKeys(private_key=key, kid=kid, mock=mock, jwks=jwks)
        mock_space_permissions(mock, keys.confluence)
        yield keys


CONFLUENCE_V2 = r"https://api\.atlassian\.com/ex/confluence/[^/]+/wiki/api/v2"
USER_TOKEN = "forge-user-token-for-tests"


def mock_space_permissions(mock: responses.RequestsMock, state: dict[str, Any]) -> None:
    """Confluence's space lookup and permitted operations, as ``state`` says (default: the
    user administers every space). Used by ``PUT /forge/v1/connection`` in live mode."""

    def spaces(request: Any) -> tuple[int, dict[str, str], str]:
        keys = parse_qs(urlsplit(request.url).query).get("keys", [])
        if state["status"] != 200:
            return state["status"], {}, json.dumps({"message": "mocked failure"})
        results = (
            [{"id": "98304", "key": keys[0], "name": keys[0]}] if keys and state["visible"] else []
        )
        return 200, {}, json.dumps({"results": results, "_links": {}})

    def operations(request: Any) -> tuple[int, dict[str, str], str]:
        ops = [{"operation": "read", "targetType": "space"}]
        if state["admin"]:
            ops.append({"operation": "administer", "targetType": "space"})
        return 200, {}, json.dumps({"operations": ops})

    mock.add_callback(
        "GET",
        re.compile(CONFLUENCE_V2 + r"/spaces\?.*"),
        callback=spaces,
        content_type="application/json",
    )
    mock.add_callback(
        "GET",
        re.compile(CONFLUENCE_V2 + r"/spaces/\d+/operations"),
        callback=operations,
        content_type="application/json",
    )


FitFactory = Callable[..., str]


@pytest.fixture
def fit(forge_keys: ForgeKeys) -> FitFactory:
    """``fit(installation_id=SITE_A, cloud_id=None, account_id=ACCOUNT, *, aud, iss, exp_in,
    nbf_in, kid, key, headers, **extra_claims)``: a signed FIT (RS256 with the test key)."""

    def make(
        installation_id: str = SITE_A,
        cloud_id: str | None = None,
        account_id: str | None = ACCOUNT,
        *,
        aud: str = APP_ID,
        iss: str = "forge/invocation-token",
        exp_in: int = 300,
        nbf_in: int = -5,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **extra: Any,
    ) -> str:
        # The real clock on purpose: PyJWT checks iat/nbf/exp against the same one.
        now = int(time.time())
        cloud = cloud_id or CLOUDS.get(installation_id, CLOUD_A)
        claims: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "iat": now,
            "nbf": now + nbf_in,
            "exp": now + exp_in,
            "jti": str(uuid.uuid4()),
            "app": {
                "id": APP_ID,
                "installationId": installation_id,
                "apiBaseUrl": f"https://api.atlassian.com/ex/confluence/{cloud}",
                "appVersion": "1.0.0",
                "module": {"type": "xen:macro", "key": "exchange-asset"},
            },
            "context": {"cloudId": cloud, "moduleKey": "exchange-asset"},
            **extra,
        }
        if account_id is not None:
            claims["principal"] = account_id
        return jwt.encode(
            claims,
            key or forge_keys.private_key,
            algorithm="RS256",
            headers={"kid": kid or forge_keys.kid},
        )

    return make


@pytest.fixture
def forge_headers(fit: FitFactory) -> Callable[..., dict[str, str]]:
    """``forge_headers(installation_id=SITE_A, ...)``: Authorization headers with a fresh FIT,
    and the user token Forge adds for endpoints with ``auth.appUserToken``."""

    def make(*args: Any, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {fit(*args, **kwargs)}", "x-forge-oauth-user": USER_TOKEN}

    return make


# -- databases -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({type(exc.orig).__name__})")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A database URL on SQLite or on a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'storage.db'}"
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    schema = f"mulesight_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


# -- Redis -----------------------------------------------------------------------------------------


@pytest.fixture
def redis_queue(app: Flask) -> Iterator[RedisQueue]:
    """``app``'s queue on the real Redis at 127.0.0.1:6379, under a queue name of its own."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server answers at 127.0.0.1:6379")
    app.config.update(
        MULESIGHT_JOB_QUEUE=None,
        MULESIGHT_REDIS_URL="redis://127.0.0.1:6379/0",
        MULESIGHT_QUEUE_NAME=f"mulesight-test-{uuid.uuid4().hex[:12]}",
    )
    queue = build_queue(app)
    assert isinstance(queue, RedisQueue)
    set_queue(app, queue)
    yield queue
    queue.rq.empty()
    queue.rq.delete(delete_jobs=True)
    queue.redis.close()
