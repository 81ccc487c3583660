"""AnypointClient against `responses` at the HTTP boundary: the real client code runs."""

from __future__ import annotations

import logging
import pickle
from email.utils import formatdate

import pytest
import requests
import responses
from responses import matchers

from diagnostics.anypoint import (
    TOKEN_PATH,
    AnypointClient,
    HostRateLimiter,
    RetryPolicy,
    new_token_cache,
    resolve_base_url,
    shapes,
    status_page_url,
)
from diagnostics.errors import (
    AnypointConnectionError,
    AnypointError,
    AnypointTimeout,
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    ForbiddenError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from diagnostics.model import Connection

BASE = "https://anypoint.mulesoft.com"
TOKEN_URL = BASE + TOKEN_PATH
ME = "/accounts/api/me"
ME_URL = BASE + ME
SECRET = "s3cr3t-Value-never-shown"
WALL_NOW = 1_700_000_000.0


class FakeClock:
    """A monotonic clock that only moves when something sleeps (or the test says so)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock):
    made: list[AnypointClient] = []

    def make(connection: Connection | None = None, **kwargs) -> AnypointClient:
        kwargs.setdefault(
            "retry",
            RetryPolicy(
                max_attempts=3,
                sleep=clock.sleep,
                clock=clock,
                wall_clock=lambda: WALL_NOW,
                random=lambda: 0.5,
            ),
        )
        client = AnypointClient(connection or _connection(), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _connection(**overrides) -> Connection:
    fields = {"client_id": "cid-1", "client_secret": SECRET, "organization_id": "org-1"}
    fields.update(overrides)
    return Connection(**fields)


def _token(rsps, token: str = "tok-1", expires_in: int | None = 3600, url: str = TOKEN_URL):
    body = {"access_token": token, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return rsps.post(url, json=body)


def _calls(rsps, url: str) -> list:
    return [call for call in rsps.calls if call.request.url.split("?")[0] == url]


# -- token -----------------------------------------------------------------------------------


def test_token_call_posts_the_client_credentials_form(rsps, make_client):
    rsps.post(
        TOKEN_URL,
        json={"access_token": "tok-1", "token_type": "bearer", "expires_in": 3600},
        match=[
            matchers.urlencoded_params_matcher(
                {"client_id": "cid-1", "client_secret": SECRET, "grant_type": "client_credentials"}
            )
        ],
    )

    result = make_client().authenticate()

    assert result.status == 200
    assert result.attempts == 1
    assert result.data == {"token_type": "bearer", "expires_in": 3600, "cached": False}
    assert "tok-1" not in repr(result)


def test_token_is_cached_between_gets(rsps, make_client):
    _token(rsps)
    rsps.get(
        ME_URL,
        json={"user": {}},
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    client = make_client()

    first = client.get(ME)
    second = client.get(ME)

    assert len(_calls(rsps, TOKEN_URL)) == 1
    assert (first.attempts, second.attempts) == (1, 1)
    cached = client.authenticate()
    assert (cached.attempts, cached.data) == (0, {"cached": True})


def test_token_expires_by_expires_in_minus_a_margin(rsps, make_client):
    timer = FakeClock(start=0.0)
    cache = new_token_cache(timer=timer)
    _token(rsps, expires_in=120)  # cached for 120 - 60 s
    rsps.get(ME_URL, json={})
    client = make_client(token_cache=cache)

    client.get(ME)
    timer.advance(59)
    client.get(ME)
    assert len(_calls(rsps, TOKEN_URL)) == 1

    timer.advance(2)
    client.get(ME)
    assert len(_calls(rsps, TOKEN_URL)) == 2


def test_token_without_expires_in_lives_thirty_minutes(rsps, make_client):
    timer = FakeClock(start=0.0)
    _token(rsps, expires_in=None)
    rsps.get(ME_URL, json={})
    client = make_client(token_cache=new_token_cache(timer=timer))

    client.get(ME)
    timer.advance(29 * 60)
    client.get(ME)
    timer.advance(2 * 60)
    client.get(ME)

    assert len(_calls(rsps, TOKEN_URL)) == 2


def test_shared_token_cache_never_crosses_credentials_or_hosts(rsps, make_client):
    other_base = "https://eu1.anypoint.mulesoft.com"
    _token(rsps)
    _token(rsps, url=other_base + TOKEN_PATH)
    rsps.get(ME_URL, json={})
    rsps.get(other_base + ME, json={})
    cache = new_token_cache()

    make_client(token_cache=cache).get(ME)
    make_client(token_cache=cache).get(ME)  # same app, same host: reuses the token
    make_client(_connection(client_secret="another"), token_cache=cache).get(ME)
    make_client(_connection(client_id="cid-2"), token_cache=cache).get(ME)
    make_client(_connection(control_plane="eu"), token_cache=cache).get(ME)

    assert len(_calls(rsps, TOKEN_URL)) == 3
    assert len(_calls(rsps, other_base + TOKEN_PATH)) == 1
    assert all(SECRET not in repr(key) for key in cache)


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"error": "invalid_client"}), (400, {"error": "invalid_client"})],
)
def test_refused_credentials_raise_authentication_error(rsps, make_client, status, body):
    rsps.post(TOKEN_URL, status=status, json=body)

    with pytest.raises(AuthenticationError) as info:
        make_client().get(ME)

    error = info.value
    assert (error.status, error.path, error.method, error.attempts) == (
        status,
        TOKEN_PATH,
        "POST",
        1,
    )
    assert "invalid_client" in error.message
    assert SECRET not in str(error)
    assert len(_calls(rsps, ME_URL)) == 0


def test_token_answer_without_access_token_is_invalid(rsps, make_client):
    rsps.post(TOKEN_URL, json={"token_type": "bearer"})

    with pytest.raises(InvalidResponseError):
        make_client().authenticate()


def test_force_refresh_calls_the_token_endpoint_again(rsps, make_client):
    _token(rsps)
    client = make_client()

    client.authenticate()
    result = client.authenticate(force_refresh=True)

    assert result.attempts == 1
    assert len(_calls(rsps, TOKEN_URL)) == 2


# -- 401 and re-authentication ------------------------------------------------------------------


def test_401_re_authenticates_once_then_succeeds(rsps, make_client):
    _token(rsps, "tok-1")
    _token(rsps, "tok-2")
    rsps.get(ME_URL, status=401, match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})])
    rsps.get(
        ME_URL,
        json={"ok": True},
        match=[matchers.header_matcher({"Authorization": "Bearer tok-2"})],
    )

    result = make_client().get(ME)

    assert result.data == {"ok": True}
    assert result.attempts == 2  # both GETs; the token calls are not counted
    assert len(_calls(rsps, TOKEN_URL)) == 2


def test_401_twice_raises_authentication_error(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, status=401, json={"message": "Unauthorized"})

    with pytest.raises(AuthenticationError) as info:
        make_client().get(ME)

    assert (info.value.status, info.value.attempts, info.value.path) == (401, 2, ME)
    assert len(_calls(rsps, TOKEN_URL)) == 2


def test_401_twice_on_hierarchy_means_forbidden(rsps, make_client):
    path = "/accounts/api/organizations/org-1/hierarchy"
    _token(rsps)
    rsps.get(BASE + path, status=401)

    with pytest.raises(ForbiddenError) as info:
        make_client().get(path)

    assert info.value.outcome == "forbidden"
    assert info.value.attempts == 2


# -- status mapping ----------------------------------------------------------------------------


def test_403_is_forbidden_after_one_attempt(rsps, make_client):
    _token(rsps)
    path = "/cloudhub/api/v2/applications"
    rsps.get(BASE + path, status=403, json={"message": "You do not have access to this env"})

    with pytest.raises(ForbiddenError) as info:
        make_client().get(path, headers={"X-ANYPNT-ORG-ID": "org-1", "X-ANYPNT-ENV-ID": "env-1"})

    error = info.value
    assert (error.status, error.attempts, error.path) == (403, 1, path)
    assert "You do not have access" in error.message
    assert len(_calls(rsps, BASE + path)) == 1
    assert rsps.calls[-1].request.headers["X-ANYPNT-ENV-ID"] == "env-1"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(404, NotFoundError), (400, ClientRequestError), (409, ClientRequestError)],
)
def test_other_4xx_are_not_retried(rsps, make_client, clock, status, error_class):
    _token(rsps)
    rsps.get(ME_URL, status=status)

    with pytest.raises(error_class) as info:
        make_client().get(ME)

    assert (info.value.status, info.value.attempts) == (status, 1)
    assert clock.sleeps == []


# -- retries -----------------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, status=429, headers={"Retry-After": "2"})
    rsps.get(ME_URL, json={"ok": True})

    result = make_client().get(ME)

    assert result.attempts == 2
    assert clock.sleeps == [2.0]


def test_429_honours_retry_after_http_date(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, status=429, headers={"Retry-After": formatdate(WALL_NOW + 5, usegmt=True)})
    rsps.get(ME_URL, json={})

    make_client().get(ME)

    assert clock.sleeps == [5.0]


def test_503_at_capacity_waits_for_x_ratelimit_reset(rsps, make_client, clock):
    _token(rsps)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(WALL_NOW + 3))}
    rsps.get(ME_URL, status=503, headers=headers)
    rsps.get(ME_URL, json={})

    result = make_client().get(ME)

    assert result.attempts == 2
    assert clock.sleeps == [3.0]


def test_500_then_502_then_200_backs_off_with_jitter(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, status=500)
    rsps.get(ME_URL, status=502)
    rsps.get(ME_URL, json={"ok": True})

    result = make_client().get(ME)

    assert (result.status, result.attempts) == (200, 3)
    assert clock.sleeps == [0.25, 0.5]  # random() = 0.5 of 0.5 s, then of 1 s
    assert result.elapsed_ms == pytest.approx(750.0)


def test_retries_exhausted_raise_upstream_error(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, status=500)

    with pytest.raises(UpstreamError) as info:
        make_client().get(ME)

    assert (info.value.status, info.value.attempts) == (500, 3)
    assert len(_calls(rsps, ME_URL)) == 3


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (429, {}, None),
        (503, {}, {"message": "Server at capacity, try later"}),
        (503, {"X-RateLimit-Remaining": "0"}, None),
    ],
)
def test_rate_limiting_still_failing_raises_rate_limited(rsps, make_client, status, headers, body):
    _token(rsps)
    rsps.get(ME_URL, status=status, headers=headers, json=body)

    with pytest.raises(RateLimitedError) as info:
        make_client().get(ME)

    assert (info.value.attempts, info.value.outcome) == (3, "rate_limited")


def test_plain_503_is_an_upstream_error(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, status=503, body="Service Unavailable")

    with pytest.raises(UpstreamError):
        make_client().get(ME)


def test_read_timeout_is_retried_then_succeeds(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, body=requests.exceptions.ReadTimeout())
    rsps.get(ME_URL, json={"ok": True})

    assert make_client().get(ME).attempts == 2


def test_read_timeouts_exhausted_raise_anypoint_timeout(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(AnypointTimeout) as info:
        make_client().get(ME)

    assert (info.value.status, info.value.attempts, info.value.outcome) == (None, 3, "timeout")
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)


def test_connection_refused_is_not_retried(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, body=requests.exceptions.ConnectionError("refused"))

    with pytest.raises(AnypointConnectionError) as info:
        make_client().get(ME)

    assert info.value.attempts == 1
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


# -- time budget -------------------------------------------------------------------------------


def test_deadline_in_the_past_sends_nothing(rsps, make_client, clock):
    with pytest.raises(AnypointTimeout) as info:
        make_client().get(ME, deadline=clock.now - 1)

    assert info.value.attempts == 0
    assert len(rsps.calls) == 0


def test_deadline_in_the_past_with_a_cached_token(rsps, make_client, clock):
    _token(rsps)
    client = make_client()
    client.authenticate()

    with pytest.raises(AnypointTimeout) as info:
        client.get(ME, deadline=clock.now)

    assert (info.value.path, info.value.attempts) == (ME, 0)
    assert len(_calls(rsps, ME_URL)) == 0


def test_no_sleep_past_the_deadline(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, status=429, headers={"Retry-After": "10"})

    with pytest.raises(RateLimitedError) as info:
        make_client().get(ME, deadline=clock.now + 5)

    assert clock.sleeps == []
    assert info.value.attempts == 1


def test_each_attempt_read_timeout_is_capped_to_the_time_left(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, json={})

    make_client(timeout=(3.05, 8.0)).get(ME, deadline=clock.now + 2.5)

    assert _calls(rsps, ME_URL)[0].request.req_kwargs["timeout"] == (2.5, 2.5)
    make_client().get(ME)
    assert _calls(rsps, ME_URL)[1].request.req_kwargs["timeout"] == (3.05, 8.0)


# -- rate limiter --------------------------------------------------------------------------------


def test_rate_limiter_is_applied_per_attempt_on_the_host(rsps, make_client, clock):
    _token(rsps)
    rsps.get(ME_URL, status=500)
    rsps.get(ME_URL, json={})
    limiter = HostRateLimiter(rate_per_second=2, burst=1, clock=clock, sleep=clock.sleep)

    make_client(rate_limiter=limiter).get(ME)

    # token call (free), GET (waits 0.5 s for a token), backoff 0.25 s, retried GET (0.25 s)
    assert clock.sleeps == [0.5, 0.25, 0.25]


def test_rate_limiter_that_cannot_serve_in_time_raises_timeout(rsps, make_client, clock):
    _token(rsps)
    limiter = HostRateLimiter(rate_per_second=0.1, burst=1, clock=clock, sleep=clock.sleep)
    client = make_client(rate_limiter=limiter)
    client.authenticate()  # takes the only token

    with pytest.raises(AnypointTimeout):
        client.get(ME, deadline=clock.now + 1)

    assert len(_calls(rsps, ME_URL)) == 0


# -- bodies ------------------------------------------------------------------------------------


def test_invalid_json_raises_invalid_response(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, body="<html>oops</html>", content_type="text/html")

    with pytest.raises(InvalidResponseError) as info:
        make_client().get(ME)

    assert (info.value.status, info.value.attempts) == (200, 1)


def test_empty_body_gives_none(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, status=204)

    result = make_client().get(ME)

    assert (result.status, result.data) == (204, None)


def test_caller_cannot_override_the_authorization_header(rsps, make_client):
    _token(rsps)
    rsps.get(ME_URL, json={}, match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})])

    make_client().get(ME, headers={"authorization": "Bearer forged"})


def test_absolute_urls_are_refused(make_client):
    with pytest.raises(ValueError):
        make_client().get("https://evil.example/steal")


# -- pagination --------------------------------------------------------------------------------

SEARCH = "/exchange/api/v2/assets/search"
APIS = "/apimanager/api/v1/organizations/org-1/environments/env-1/apis"


def _page(rsps, path: str, offset: int, limit: int, body) -> None:
    rsps.get(
        BASE + path,
        json=body,
        match=[
            matchers.query_param_matcher(
                {"organizationId": "org-1", "offset": str(offset), "limit": str(limit)}
            )
        ],
    )


def test_paginate_without_total_stops_on_a_short_page(rsps, make_client):
    _token(rsps)
    _page(rsps, SEARCH, 0, 2, [{"id": 1}, {"id": 2}])
    _page(rsps, SEARCH, 2, 2, [{"id": 3}, {"id": 4}])
    _page(rsps, SEARCH, 4, 2, [{"id": 5}])
    pages = []

    items = list(
        make_client().paginate(
            SEARCH, params={"organizationId": "org-1"}, page_size=2, on_page=pages.append
        )
    )

    assert [item["id"] for item in items] == [1, 2, 3, 4, 5]
    assert len(pages) == 3
    assert len(_calls(rsps, BASE + SEARCH)) == 3


def test_paginate_without_total_stops_on_an_empty_page(rsps, make_client):
    _token(rsps)
    _page(rsps, SEARCH, 0, 2, [{"id": 1}, {"id": 2}])
    _page(rsps, SEARCH, 2, 2, [{"id": 3}, {"id": 4}])
    _page(rsps, SEARCH, 4, 2, [])

    items = list(make_client().paginate(SEARCH, params={"organizationId": "org-1"}, page_size=2))

    assert len(items) == 4


def _assets(*ids: int, total: int) -> dict:
    return {"total": total, "assets": [{"assetId": f"a{i}", "apis": [{"id": i}]} for i in ids]}


def test_paginate_with_total_stops_at_the_total(rsps, make_client):
    _token(rsps)
    _page(rsps, APIS, 0, 2, _assets(1, 2, total=6))
    _page(rsps, APIS, 2, 2, _assets(3, 4, total=6))
    _page(rsps, APIS, 4, 2, _assets(5, 6, total=6))

    assets = make_client().paginate(
        APIS,
        params={"organizationId": "org-1"},
        page_size=2,
        items=shapes.api_assets,
        total=shapes.total_of,
    )
    instances = shapes.flatten_api_assets(assets)

    assert [(i["id"], i["assetId"]) for i in instances] == [(n, f"a{n}") for n in range(1, 7)]
    assert len(_calls(rsps, BASE + APIS)) == 3  # no fourth, empty page


def test_paginate_with_total_goes_on_after_a_capped_page(rsps, make_client):
    _token(rsps)
    _page(rsps, APIS, 0, 3, _assets(1, 2, total=3))  # the server capped limit to 2
    _page(rsps, APIS, 2, 3, _assets(3, total=3))

    assets = list(
        make_client().paginate(
            APIS,
            params={"organizationId": "org-1"},
            page_size=3,
            items=shapes.api_assets,
            total=shapes.total_of,
        )
    )

    assert len(assets) == 3


def test_paginate_stops_at_max_pages(rsps, make_client, caplog):
    _token(rsps)
    rsps.get(BASE + SEARCH, json=[{"id": 1}, {"id": 2}])  # a server that ignores offset

    with caplog.at_level(logging.WARNING, logger="diagnostics.anypoint"):
        items = list(make_client().paginate(SEARCH, page_size=2, max_pages=3))

    assert len(items) == 6
    assert "stopped paging" in caplog.text


def test_paginate_reports_a_page_of_the_wrong_shape(rsps, make_client):
    _token(rsps)
    rsps.get(BASE + SEARCH, json={"unexpected": True})

    with pytest.raises(InvalidResponseError) as info:
        list(make_client().paginate(SEARCH))

    assert (info.value.path, info.value.attempts) == (SEARCH, 1)


# -- secrets -----------------------------------------------------------------------------------


def test_no_secret_or_authorization_in_logs_or_errors(rsps, make_client, caplog):
    rsps.post(TOKEN_URL, json={"access_token": "tok-SECRET-1", "expires_in": 3600})
    rsps.post(TOKEN_URL, json={"access_token": "tok-SECRET-2", "expires_in": 3600})
    rsps.get(ME_URL, status=401, json={"message": "bad token tok-SECRET-1"})
    rsps.get(ME_URL, status=401, json={"message": f"echo {SECRET} tok-SECRET-2"})
    caught: list[AnypointError] = []

    with caplog.at_level(logging.DEBUG, logger="diagnostics.anypoint"):
        with pytest.raises(AuthenticationError) as info:
            make_client().get(ME)
        caught.append(info.value)

    assert "oauth2/token -> 200" in caplog.text and "/accounts/api/me -> 401" in caplog.text
    shown = caplog.text + str(caught[0]) + repr(caught[0]) + repr(make_client())
    for secret in (SECRET, "tok-SECRET-1", "tok-SECRET-2", "Bearer", "Authorization"):
        assert secret not in shown


# -- errors ------------------------------------------------------------------------------------


def test_errors_survive_pickling():
    error = ForbiddenError(
        "GET /x answered 403", status=403, attempts=1, elapsed_ms=12.5, path="/x"
    )

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is ForbiddenError
    assert (copy.message, copy.status, copy.attempts, copy.elapsed_ms, copy.path) == (
        "GET /x answered 403",
        403,
        1,
        12.5,
        "/x",
    )


def test_issued_tokens_lists_every_token_for_redaction(rsps, make_client):
    _token(rsps, "tok-1")
    _token(rsps, "tok-2")
    rsps.get(ME_URL, status=401)
    rsps.get(ME_URL, json={})
    client = make_client()

    client.get(ME)

    assert client.issued_tokens() == ("tok-1", "tok-2")


# -- control planes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plane", "api", "status_page"),
    [
        ("us", "https://anypoint.mulesoft.com", "https://status.mulesoft.com"),
        ("eu", "https://eu1.anypoint.mulesoft.com", "https://eu1-status.mulesoft.com"),
        ("gov", "https://gov.anypoint.mulesoft.com", "https://gov-status.mulesoft.com"),
    ],
)
def test_control_plane_urls(plane, api, status_page):
    assert resolve_base_url(plane) == api
    assert status_page_url(plane) == status_page
    assert AnypointClient(_connection(control_plane=plane)).base_url == api


def test_base_url_overrides_the_control_plane():
    assert resolve_base_url("custom", "http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert (
        resolve_base_url("us", "https://proxy.example/anypoint/")
        == "https://proxy.example/anypoint"
    )
    assert status_page_url("custom") is None


@pytest.mark.parametrize(
    ("plane", "base_url"),
    [
        ("custom", None),
        ("mars", None),
        ("custom", "ftp://host"),
        ("custom", "anypoint.mulesoft.com"),
        ("custom", "https://user:pw@host"),
    ],
)
def test_unusable_control_planes(plane, base_url):
    with pytest.raises(ConfigurationError) as info:
        resolve_base_url(plane, base_url)
    assert "pw" not in str(info.value)
