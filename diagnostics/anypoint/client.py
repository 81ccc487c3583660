"""The single HTTP boundary between the engine and Anypoint.

:class:`AnypointClient` fetches and caches the connected app's token, sends GETs with the bearer
token, retries transient failures within the caller's time budget, paces attempts through a
shared per-host rate limiter, and maps every failure onto :mod:`diagnostics.errors`
(``requests`` exceptions never leave this module).

Counting, for probes:

* ``attempts`` of a :meth:`~AnypointClient.get` counts the HTTP attempts on that path, including
  the repeat after a re-authentication; the token calls are not added. A failure of the token
  call itself raises an error whose ``path`` is the token path and whose ``attempts`` are the
  token call's.
* ``elapsed_ms`` is the wall time of the whole call: token fetch, backoff sleeps and rate-limiter
  waits included.

Retries stop at ``RetryPolicy.max_attempts`` or when the next wait would reach the deadline; the
call then fails with what Anypoint last answered (a 503 stays a 503, not a timeout), while an
attempt that cannot start because the budget is spent raises :class:`AnypointTimeout`.

Logging (``diagnostics.anypoint``): method, path, status, attempt and elapsed time only — never
headers, query strings, bodies of the token call, the secret or the token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from cachetools import TTLCache
from requests.structures import CaseInsensitiveDict

from diagnostics.anypoint.controlplanes import resolve_base_url
from diagnostics.anypoint.ratelimit import RateLimiter
from diagnostics.anypoint.retry import RetryPolicy
from diagnostics.errors import (
    AnypointConnectionError,
    AnypointError,
    AnypointTimeout,
    AuthenticationError,
    ClientRequestError,
    DestinationRefused,
    DestinationRefusedError,
    ForbiddenError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from diagnostics.model import Connection

TOKEN_PATH = "/accounts/api/v2/oauth2/token"
DEFAULT_TIMEOUT = (3.05, 8.0)
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 200
TOKEN_SAFETY_MARGIN_S = 60.0
DEFAULT_TOKEN_TTL_S = 30 * 60.0

log = logging.getLogger("diagnostics.anypoint")

# Token caches may be shared between clients (and threads); cachetools caches are not
# thread-safe, so every read and write goes through this lock.
_CACHE_LOCK = threading.Lock()

# Where Anypoint answers a missing grant with 401 rather than 403 (datasets.md).
_UNAUTHORIZED_MEANS_FORBIDDEN = (re.compile(r"^/accounts/api/organizations/[^/]+/hierarchy/?$"),)

_BAD_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_TOKEN_FIELDS_SHOWN = ("token_type", "expires_in", "scope")
_MESSAGE_LIMIT = 200


def new_token_cache(
    maxsize: int = 128, ttl: float = 3600.0, timer: Callable[[], float] = time.monotonic
) -> TTLCache[str, Any]:
    """A token cache to share between the clients of a run (or of a process).

    ``ttl`` is only an upper bound: each token also expires ``TOKEN_SAFETY_MARGIN_S`` before
    the ``expires_in`` Anypoint gave it, measured on the cache's ``timer``.
    """
    return TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)


@dataclass(frozen=True)
class ApiResult:
    """One successful call: HTTP status, decoded JSON (``None`` for an empty body), counting."""

    status: int
    data: Any
    attempts: int
    elapsed_ms: float
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CachedToken:
    """A token as the token cache holds it; ``expires_at`` is on the cache's ``timer``."""

    value: str = field(repr=False)
    expires_at: float


_Token = CachedToken


@dataclass
class _Call:
    """Book-keeping of one public call (all its attempts)."""

    method: str
    path: str
    start: float
    deadline: float | None
    attempts: int = 0
    secrets: list[str] = field(default_factory=list, repr=False)


class AnypointClient:
    """Talks to one Anypoint control plane with one connected app.

    ``retry.clock`` is the clock of every ``deadline`` (``time.monotonic`` by default); a shared
    ``rate_limiter`` must use the same one.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        token_cache: MutableMapping[Any, CachedToken] | None = None,
    ) -> None:
        self.connection = connection
        self.base_url = resolve_base_url(connection.control_plane, connection.base_url)
        self.host = (urlsplit(self.base_url).netloc or "").lower()
        self.timeout = _checked_timeout(timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limiter = rate_limiter
        self._session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self._tokens: MutableMapping[Any, _Token] = (
            token_cache if token_cache is not None else new_token_cache()
        )
        self._token_key = (self.base_url, connection.client_id, _fingerprint(connection))
        self._auth_lock = threading.Lock()
        self._issued: dict[str, None] = {}  # insertion-ordered set of token values seen

    def __repr__(self) -> str:
        client_id = self.connection.client_id
        return f"AnypointClient(base_url={self.base_url!r}, client_id={client_id!r})"

    def __enter__(self) -> AnypointClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def issued_tokens(self) -> tuple[str, ...]:
        """Every access token this client fetched or used, for the redaction stage."""
        with _CACHE_LOCK:
            return tuple(self._issued)

    # -- token -----------------------------------------------------------------------------

    def authenticate(
        self, deadline: float | None = None, *, force_refresh: bool = False
    ) -> ApiResult:
        """Get a token (from the cache unless ``force_refresh``).

        ``data`` holds ``token_type``, ``expires_in``, ``scope`` (when sent) and ``cached`` —
        never the token. A cached answer has ``attempts == 0``.
        """
        call = self._new_call("POST", TOKEN_PATH, deadline)
        if not force_refresh and self._cached_token() is not None:
            return ApiResult(200, {"cached": True}, 0, _elapsed_ms(self, call), {})
        with self._auth_lock:
            result, _ = self._fetch_token(call)
        return result

    def _bearer(self, deadline: float | None) -> _Token:
        token = self._cached_token()
        if token is not None:
            return token
        with self._auth_lock:  # one token call per client, however many threads wait for it
            token = self._cached_token()
            if token is None:
                _, token = self._fetch_token(self._new_call("POST", TOKEN_PATH, deadline))
        return token

    def _fetch_token(self, call: _Call) -> tuple[ApiResult, _Token]:
        form = {
            "client_id": self.connection.client_id,
            "client_secret": self.connection.client_secret,
            "grant_type": "client_credentials",
        }
        response = self._send(call, data=form)
        if not response.ok:
            raise self._error_for(call, response)
        payload = self._json(call, response)
        access_token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(access_token, str) or not access_token:
            raise self._invalid(call, response.status_code, "the token answer has no access_token")
        token = self._store_token(access_token, payload.get("expires_in"))
        shown = {key: payload[key] for key in _TOKEN_FIELDS_SHOWN if key in payload}
        data = {**shown, "cached": False}
        result = ApiResult(
            response.status_code, data, call.attempts, _elapsed_ms(self, call), _headers(response)
        )
        return result, token

    def _store_token(self, value: str, expires_in: Any) -> _Token:
        lifetime = _seconds(expires_in)
        ttl = DEFAULT_TOKEN_TTL_S if lifetime is None else lifetime - TOKEN_SAFETY_MARGIN_S
        with _CACHE_LOCK:
            self._issued[value] = None
            token = _Token(value, self._cache_now() + ttl)
            if ttl > 0:
                self._tokens[self._token_key] = token
        return token

    def _cached_token(self) -> _Token | None:
        with _CACHE_LOCK:
            token = self._tokens.get(self._token_key)
            if token is not None and self._cache_now() >= token.expires_at:
                self._tokens.pop(self._token_key, None)
                token = None
            if token is not None:
                self._issued[token.value] = None
        return token

    def _drop_token(self, used: _Token) -> None:
        """Forget ``used``, unless another thread (or process) already replaced it with a fresh
        one. Compared by value: a shared cache hands out a new object on every read."""
        with _CACHE_LOCK:
            current = self._tokens.get(self._token_key)
            if current is not None and current.value == used.value:
                self._tokens.pop(self._token_key, None)

    def _cache_now(self) -> float:
        timer = getattr(self._tokens, "timer", time.monotonic)
        return float(timer())

    # -- GET -------------------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> ApiResult:
        """GET ``path`` (relative to the base URL) with the bearer token; JSON in ``data``.

        A 401 drops the cached token and re-authenticates once; a second 401 raises
        :class:`AuthenticationError` (:class:`ForbiddenError` on the hierarchy, where 401 is how
        Anypoint says a grant is missing).
        """
        call = self._new_call("GET", _checked_path(path), deadline)
        token = self._bearer(deadline)
        response = self._get_once(call, token, params, headers)
        if response.status_code == 401:
            log.info("GET %s -> 401: re-authenticating once", call.path)
            self._drop_token(token)
            response = self._get_once(call, self._bearer(deadline), params, headers)
        if not response.ok:
            raise self._error_for(call, response)
        data = self._json(call, response)
        return ApiResult(
            response.status_code, data, call.attempts, _elapsed_ms(self, call), _headers(response)
        )

    def _get_once(
        self,
        call: _Call,
        token: _Token,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        call.secrets.append(token.value)
        merged = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        merged["Authorization"] = f"Bearer {token.value}"
        return self._send(call, params=params, headers=merged)

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        items: Callable[[Any], list[Any]] | None = None,
        total: Callable[[Any], int | None] | None = None,
        deadline: float | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        on_page: Callable[[ApiResult], None] | None = None,
    ) -> Iterator[Any]:
        """Yield the items of every ``offset`` / ``limit`` page of ``path``.

        ``items`` extracts a page's list (default: the page must be a JSON list); ``total``
        reads the envelope's total, if the shape has one. Paging stops on an empty page, when
        ``offset`` reaches the total, or — without a total — on a page shorter than
        ``page_size``; in any case after ``max_pages`` (with a warning). With a total, a short
        page does not stop paging: the server may cap ``limit`` below ``page_size``.
        ``on_page`` sees each page's :class:`ApiResult` (attempts, elapsed) as it arrives.
        """
        if page_size < 1 or max_pages < 1:
            raise ValueError("page_size and max_pages must be positive")
        extract = items if items is not None else _json_list
        offset = 0
        for _ in range(max_pages):
            query = {**(params or {}), "offset": offset, "limit": page_size}
            result = self.get(path, params=query, headers=headers, deadline=deadline)
            if on_page is not None:
                on_page(result)
            page = _page_items(extract, result, path)
            yield from page
            offset += len(page)
            known_total = total(result.data) if total is not None else None
            if not page:
                return
            if known_total is not None:
                if offset >= known_total:
                    return
            elif len(page) < page_size:
                return
        log.warning("GET %s: stopped paging after %d pages", path, max_pages)

    # -- one request, with retries -----------------------------------------------------------

    def _new_call(self, method: str, path: str, deadline: float | None) -> _Call:
        return _Call(
            method, path, self.retry.clock(), deadline, secrets=[self.connection.client_secret]
        )

    def _send(
        self,
        call: _Call,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send until an answer is final; returns it whatever its status (the caller maps it)."""
        url = self.base_url + call.path
        sent_headers = {"Accept": "application/json", **(headers or {})}
        tries = 0  # attempts of this round (a re-authentication starts a new round)
        while True:
            self._wait_for_rate_limit(call)
            timeout = self._attempt_timeout(call)
            tries += 1
            call.attempts += 1
            began = self.retry.clock()
            try:
                response = self._session.request(
                    call.method,
                    url,
                    params=params,
                    data=data,
                    headers=sent_headers,
                    timeout=timeout,
                    allow_redirects=False,  # never resend the secret or token to another host
                )
            except requests.Timeout as exc:
                self._log_attempt(call, type(exc).__name__, began)
                delay = self.retry.delay(tries, None, {})
                if delay is None or not self._pause(call, delay):
                    raise self._timeout(call) from exc
                continue
            except DestinationRefused as exc:  # the session's outbound policy: nothing sent
                self._log_attempt(call, "refused", began)
                raise DestinationRefusedError(
                    f"{call.method} {call.path}: refused to connect to {exc.host}: {exc.reason}",
                    host=exc.host,
                    reason=exc.reason,
                    **self._fields(call),
                ) from exc
            except requests.RequestException as exc:
                self._log_attempt(call, type(exc).__name__, began)
                why = f"could not reach {self.host} ({type(exc).__name__})"
                raise AnypointConnectionError(
                    f"{call.method} {call.path}: {why}", **self._fields(call)
                ) from exc
            self._log_attempt(call, response.status_code, began)
            if response.is_redirect:
                raise self._redirected(call, response)
            if not self.retry.is_retryable(response.status_code):
                return response
            delay = self.retry.delay(tries, response.status_code, response.headers)
            if delay is None or not self._pause(call, delay):
                return response

    def _wait_for_rate_limit(self, call: _Call) -> None:
        self._time_left_or_raise(call)
        if self.rate_limiter is not None and not self.rate_limiter.acquire(
            self.host, call.deadline
        ):
            raise self._budget_spent(call)

    def _attempt_timeout(self, call: _Call) -> tuple[float, float]:
        """The (connect, read) timeout of the next attempt, capped to the time left."""
        left = self._time_left_or_raise(call)
        connect, read = self.timeout
        if left is None:
            return connect, read
        return min(connect, left), min(read, left)

    def _time_left_or_raise(self, call: _Call) -> float | None:
        left = self.retry.time_left(call.deadline)
        if left is not None and left <= 0:
            raise self._budget_spent(call)
        return left

    def _pause(self, call: _Call, delay: float) -> bool:
        if not self.retry.wait(delay, call.deadline):
            log.info("%s %s: no time left to retry", call.method, call.path)
            return False
        log.info("%s %s: retried after %.2f s", call.method, call.path, delay)
        return True

    def _log_attempt(self, call: _Call, outcome: object, began: float) -> None:
        log.debug(
            "%s %s -> %s (attempt %d, %.1f ms)",
            call.method,
            call.path,
            outcome,
            call.attempts,
            (self.retry.clock() - began) * 1000.0,
        )

    # -- mapping answers to results and errors ---------------------------------------------------

    def _json(self, call: _Call, response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:  # requests.JSONDecodeError is a ValueError
            raise self._invalid(call, response.status_code, "the answer is not JSON") from exc

    def _error_for(self, call: _Call, response: requests.Response) -> AnypointError:
        status = response.status_code
        cls = self._error_class(call, response)
        detail = self._detail(call, response)
        message = f"{call.method} {call.path} answered {status}"
        if call.attempts > 1:
            message += f" after {call.attempts} attempts"
        if detail:
            message += f": {detail}"
        return cls(message, status=status, **self._fields(call))

    def _error_class(self, call: _Call, response: requests.Response) -> type[AnypointError]:
        status = response.status_code
        if status == 401:
            if any(pattern.match(call.path) for pattern in _UNAUTHORIZED_MEANS_FORBIDDEN):
                return ForbiddenError
            return AuthenticationError
        if status == 400 and call.path == TOKEN_PATH:
            if _oauth_error(response) in _BAD_CLIENT_ERRORS:
                return AuthenticationError
            return ClientRequestError
        if status == 403:
            return ForbiddenError
        if status == 404:
            return NotFoundError
        if status == 429 or (status == 503 and _at_capacity(response)):
            return RateLimitedError
        if status >= 500:
            return UpstreamError
        if status >= 400:
            return ClientRequestError
        return InvalidResponseError  # 1xx / 3xx: nothing a probe can read

    def _detail(self, call: _Call, response: requests.Response) -> str:
        """Anypoint's own words, made safe: the OAuth error code only for the token call."""
        token_call = call.path == TOKEN_PATH
        text = (_oauth_error(response) or "") if token_call else _body_message(response)
        for secret in call.secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        text = " ".join(text.split())
        return text[:_MESSAGE_LIMIT]

    def _invalid(self, call: _Call, status: int, why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"{call.method} {call.path}: {why}", status=status, **self._fields(call)
        )

    def _redirected(self, call: _Call, response: requests.Response) -> InvalidResponseError:
        target = urlsplit(response.headers.get("Location", "")).netloc or self.host
        return self._invalid(
            call,
            response.status_code,
            f"redirected to {target}; redirects are not followed "
            "(set the base URL to the host that answers)",
        )

    def _timeout(self, call: _Call) -> AnypointTimeout:
        return AnypointTimeout(
            f"{call.method} {call.path} timed out ({call.attempts} attempts)", **self._fields(call)
        )

    def _budget_spent(self, call: _Call) -> AnypointTimeout:
        return AnypointTimeout(
            f"{call.method} {call.path}: the time budget ran out ({call.attempts} attempts)",
            **self._fields(call),
        )

    def _fields(self, call: _Call) -> dict[str, Any]:
        return {
            "attempts": call.attempts,
            "elapsed_ms": _elapsed_ms(self, call),
            "path": call.path,
            "method": call.method,
        }


def _elapsed_ms(client: AnypointClient, call: _Call) -> float:
    return max(client.retry.clock() - call.start, 0.0) * 1000.0


def _headers(response: requests.Response) -> Mapping[str, str]:
    return CaseInsensitiveDict(response.headers)


def _fingerprint(connection: Connection) -> str:
    """Tells secrets apart in cache keys without keeping them there."""
    material = f"{connection.client_id}\0{connection.client_secret}".encode()
    return hashlib.sha256(material).hexdigest()


def _checked_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("path must be relative to the base URL and start with a single '/'")
    return path


def _checked_timeout(timeout: tuple[float, float]) -> tuple[float, float]:
    connect, read = timeout
    if connect <= 0 or read <= 0:
        raise ValueError("timeouts must be positive")
    return float(connect), float(read)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 and seconds != float("inf") else None


def _safe_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _oauth_error(response: requests.Response) -> str | None:
    payload = _safe_json(response)
    error = payload.get("error") if isinstance(payload, Mapping) else None
    return error if isinstance(error, str) else None


def _body_message(response: requests.Response) -> str:
    payload = _safe_json(response)
    if isinstance(payload, Mapping):
        for key in ("message", "error_description", "error"):
            value = payload.get(key)
            if isinstance(value, str):
                return value
    return ""


def _at_capacity(response: requests.Response) -> bool:
    """A 503 that is Anypoint shedding load rather than failing."""
    if response.headers.get("X-RateLimit-Remaining", "").strip() == "0":
        return True
    text = f"{_body_message(response) or response.text[:500]} {response.reason or ''}"
    return "capacity" in text.lower()


def _json_list(payload: Any) -> list[Any]:
    if not isinstance(payload, list):
        raise InvalidResponseError("expected a JSON list")
    return payload


def _page_items(extract: Callable[[Any], list[Any]], result: ApiResult, path: str) -> list[Any]:
    try:
        return list(extract(result.data))
    except InvalidResponseError as exc:
        raise InvalidResponseError(
            f"GET {path}: {exc.message}",
            status=result.status,
            attempts=result.attempts,
            elapsed_ms=result.elapsed_ms,
            path=path,
        ) from exc
