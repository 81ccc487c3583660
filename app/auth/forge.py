"""Forge Invocation Tokens (FIT): the only way a Forge request names its tenant.

Forge Remote sends ``Authorization: Bearer <FIT>``: an RS256 JWT signed by Atlassian, with
``iss = forge/invocation-token`` and ``aud`` = the app's ARI (``FORGE_APP_ID``). Its claims give
the tenant: ``app.installationId`` (the installation ARI), ``context.cloudId``,
``app.apiBaseUrl`` and ``principal`` (the user's accountId; absent for scheduled triggers).
Nothing in the body or query string can choose another tenant.

The signing keys come from ``FORGE_JWKS_URL``, cached for ``FORGE_JWKS_CACHE_SECONDS``; a token
signed with an unknown ``kid`` triggers one refetch (at most one such refetch every
``FORGE_JWKS_MIN_REFRESH_SECONDS``, so a flood of made-up ``kid`` values cannot hammer Atlassian).
If a refetch fails, the keys already known keep working.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from flask import Flask, current_app, g, request

from app import confluence, storage
from app.api import FORGE_SECURITY
from app.auth import devtokens
from app.db import get_session
from app.errors import ApiError
from app.net import outbound_policy
from app.unit_of_work import commit_step

log = logging.getLogger(__name__)

FIT_ISSUER = "forge/invocation-token"
FIT_ALGORITHM = "RS256"
_REALM = {"WWW-Authenticate": 'Bearer realm="forge"'}


@dataclass(frozen=True)
class Tenant:
    """The verified caller of a Forge route (``g.tenant``). Tokens are kept in memory only."""

    installation_id: str
    cloud_id: str
    api_base_url: str | None
    account_id: str | None
    invocation_token: str = field(repr=False)
    # Forge's app tokens for calling Confluence back (x-forge-oauth-system / -user headers).
    system_token: str | None = field(default=None, repr=False)
    user_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """The audit / ``requested_by`` name of the caller."""
        return f"forge:{self.account_id or 'app'}"


class ForgeAuthError(Exception):
    """The token is not acceptable; the message is safe to send back."""


class JwksUnavailable(Exception):
    """The signing keys could not be fetched."""


class JwksCache:
    """The public keys of ``url`` by ``kid`` (RSA signing keys only), thread-safe."""

    def __init__(
        self, url: str, *, timeout: float = 5.0, ttl: float = 3600, min_refresh: float = 10
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._keys: dict[str, Any] = {}
        self._local_keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._last_forced: float | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def trust_local_key(self, kid: str, public_key: Any) -> None:
        """Also accept a local key (simulated mode's ``mulesight forge-token``), never fetched.

        It is consulted only after Atlassian's keys: a JWKS key with the same ``kid`` wins, and
        the local key answers only for a ``kid`` the JWKS does not have (or cannot be fetched).
        """
        self._local_keys[kid] = public_key

    def key(self, kid: str) -> Any:
        """The public key for ``kid``; raises :class:`ForgeAuthError` if Atlassian has none."""
        try:
            return self._jwks_key(kid)
        except (ForgeAuthError, JwksUnavailable):
            if kid in self._local_keys:
                return self._local_keys[kid]
            raise

    def _jwks_key(self, kid: str) -> Any:
        with self._lock:
            now = time.monotonic()
            fetched_now = False
            if self._fetched_at is None or now - self._fetched_at >= self.ttl:
                if self._fetched_at is None and not self._may_retry(now):
                    raise JwksUnavailable("The Forge signing keys cannot be fetched.")
                self._refresh(now)
                fetched_now = True
            if kid not in self._keys and not fetched_now and self._may_force(now):
                self._last_forced = now
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise ForgeAuthError("The token is signed with an unknown key.")
        return key

    def _may_retry(self, now: float) -> bool:
        """After a failed first fetch, wait ``min_refresh`` before trying again."""
        return self._failed_at is None or now - self._failed_at >= self.min_refresh

    def _may_force(self, now: float) -> bool:
        return self._last_forced is None or now - self._last_forced >= self.min_refresh

    def _refresh(self, now: float) -> None:
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            keys = {
                jwk.key_id: jwk.key
                for jwk in jwt.PyJWKSet.from_dict(response.json()).keys
                if jwk.key_id and jwk.key_type == "RSA" and jwk.public_key_use in (None, "sig")
            }
        except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
            log.warning("Forge JWKS fetch failed: %s", type(exc).__name__)
            self._failed_at = now
            if not self._keys:
                raise JwksUnavailable("The Forge signing keys cannot be fetched.") from None
            return  # keep the keys we know; retry on the next miss
        self._keys = keys
        self._fetched_at = now


def verify_invocation_token(
    token: str, *, app_id: str, jwks: JwksCache, leeway: int
) -> dict[str, Any]:
    """The claims of a valid FIT; :class:`ForgeAuthError` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ForgeAuthError("The token is not a JWT.") from None
    if header.get("alg") != FIT_ALGORITHM:
        raise ForgeAuthError(f"The token must be signed with {FIT_ALGORITHM}.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ForgeAuthError("The token names no signing key (kid).")
    try:
        return jwt.decode(
            token,
            jwks.key(kid),
            algorithms=[FIT_ALGORITHM],
            audience=app_id,
            issuer=FIT_ISSUER,
            leeway=leeway,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise ForgeAuthError(f"Invalid Forge Invocation Token: {exc}.") from None


def _claim(claims: dict[str, Any], *path: str) -> str | None:
    value: Any = claims
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "A Forge Invocation Token is required.", headers=_REALM)
    return token.strip()


def authenticate_forge_request() -> Tenant:
    """Verify the request's FIT, register a new installation, and return the tenant."""
    app_id = current_app.config.get("FORGE_APP_ID")
    if not app_id:
        raise ApiError(
            401,
            "forge_not_configured",
            "Forge authentication is not configured on this server (FORGE_APP_ID is not set).",
            headers=_REALM,
        )
    token = _bearer()
    try:
        claims = verify_invocation_token(
            token,
            app_id=app_id,
            jwks=current_app.extensions["forge_jwks"],
            leeway=current_app.config["FORGE_JWT_LEEWAY"],
        )
    except JwksUnavailable as exc:
        raise ApiError(503, "forge_keys_unavailable", str(exc)) from None
    except ForgeAuthError as exc:
        raise ApiError(401, "invalid_token", str(exc), headers=_REALM) from None
    installation_id = _claim(claims, "app", "installationId")
    cloud_id = _claim(claims, "context", "cloudId")
    if installation_id is None or cloud_id is None:
        raise ApiError(
            401, "invalid_token", "The token has no installation or cloud id.", headers=_REALM
        )
    site_url = _claim(claims, "context", "siteUrl")
    session = get_session()
    installation = storage.ensure_installation(session, installation_id, cloud_id, site_url)
    commit_step(session)  # a registration stays, whatever the request does next
    _check_binding(installation, cloud_id, site_url)
    return Tenant(
        installation_id=installation_id,
        cloud_id=cloud_id,
        api_base_url=_claim(claims, "app", "apiBaseUrl"),
        account_id=_claim(claims, "principal"),
        invocation_token=token,
        system_token=request.headers.get("x-forge-oauth-system") or None,
        user_token=request.headers.get("x-forge-oauth-user") or None,
    )


def _same_site(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _check_binding(installation: Any, cloud_id: str, site_url: str | None) -> None:
    """An installation stays bound to the cloud id (and site URL) it was registered with.

    A validly signed token whose ``context.cloudId`` or ``context.siteUrl`` disagrees with the
    stored installation is refused (403) and logged: it names one tenant and claims another.
    """
    mismatch = None
    if installation.cloud_id != cloud_id:
        mismatch = "cloudId"
    elif site_url and installation.site_url and not _same_site(installation.site_url, site_url):
        mismatch = "siteUrl"
    if mismatch is None:
        return
    log.warning(
        "Forge token refused: its %s disagrees with the stored installation",
        mismatch,
        extra={"installation_id": installation.id},
    )
    raise ApiError(
        403,
        "tenant_mismatch",
        f"The token's {mismatch} does not match this installation's; the request is refused.",
    )


def require_space_admin(space_key: str) -> None:
    """Only a space admin may change the space's connection (live mode; 403 otherwise).

    Decided by Confluence with the user's own token (``x-forge-oauth-user``, sent because the
    settings endpoint of ``manifest.yml`` sets ``auth.appUserToken``), so Confluence's permission
    model is the one truth. Simulated mode (the embedded default, which reaches no real Anypoint
    or Confluence) skips the check.
    """
    if current_app.config["MULESIGHT_ANYPOINT_MODE"] == "simulated":
        return
    tenant: Tenant = g.tenant
    if not tenant.user_token or not tenant.api_base_url:
        raise ApiError(
            403,
            "space_admin_required",
            "Changing a space's MuleSight connection needs a space admin, and this request "
            "carries no Confluence user token to check it (x-forge-oauth-user).",
        )
    try:
        admin = confluence.is_space_admin(
            tenant.api_base_url,
            tenant.user_token,
            space_key,
            outbound_policy=outbound_policy(current_app.config),
        )
    except confluence.ConfluenceError as exc:
        if exc.status in (401, 403):
            admin = False
        else:
            raise ApiError(
                503,
                "confluence_unavailable",
                f"Your space permissions could not be checked: {exc.message}. Try again shortly.",
            ) from None
    if not admin:
        log.warning(
            "connection change refused: not a space admin",
            extra={"installation_id": tenant.installation_id, "space_key": space_key},
        )
        raise ApiError(
            403,
            "space_admin_required",
            f"Only a space admin of {space_key} can change its MuleSight connection; "
            "ask one of the space's admins.",
        )


def forge_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only callers with a valid FIT get in; ``g.tenant`` is their :class:`Tenant`."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.tenant = authenticate_forge_request()
        return view(*args, **kwargs)

    wrapper.__api_security__ = FORGE_SECURITY  # type: ignore[attr-defined]  # read back by ApiBlueprint.route
    return wrapper


def init_app(app: Flask) -> None:
    jwks = JwksCache(
        app.config["FORGE_JWKS_URL"],
        timeout=float(app.config["FORGE_JWKS_TIMEOUT"]),
        ttl=float(app.config["FORGE_JWKS_CACHE_SECONDS"]),
        min_refresh=float(app.config["FORGE_JWKS_MIN_REFRESH_SECONDS"]),
    )
    app.extensions["forge_jwks"] = jwks
    if app.config["MULESIGHT_ANYPOINT_MODE"] == "simulated":
        # Local FITs for the embedded default; never in live mode (see app.auth.devtokens).
        key = devtokens.local_signing_key(app.instance_path)
        jwks.trust_local_key(devtokens.LOCAL_KID, key.public_key())
