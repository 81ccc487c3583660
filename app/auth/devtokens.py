"""Forge Invocation Tokens for local use of the embedded default (simulated mode only).

Forge signs real FITs with Atlassian's keys, which a developer or a support engineer trying the
service on their own machine cannot do. In ``simulated`` mode, and only there, the service also
trusts one local signing key kept in the instance folder (mode 0600), and
``mulesight forge-token`` mints FITs with it for a site URL. The tokens carry the same claims as
real ones (``aud`` is ``FORGE_APP_ID``, which must still be set: without it Forge auth refuses
every request, as service.md says), so every Forge route works unchanged. In ``live`` mode the
local key is never loaded.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.instance_files import create_once

LOCAL_KID = "mulesight-local-dev"
KEY_FILE = "forge-local-signing-key.pem"
_NAMESPACE = uuid.UUID("5f0b3c1e-8a2d-4e7f-9b61-0c2d4e6f8a10")


def local_signing_key(instance_path: str) -> rsa.RSAPrivateKey:
    """The instance's local signing key, generated once (safely when processes start together)."""
    pem = create_once(Path(instance_path) / KEY_FILE, _new_private_key_pem)
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def _new_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def site_ids(site_url: str) -> tuple[str, str]:
    """A stable (installation ARI, cloud id) for a site URL, so the same site is one tenant."""
    cloud_id = str(uuid.uuid5(_NAMESPACE, site_url.rstrip("/").lower()))
    return f"ari:cloud:ecosystem::installation/{cloud_id}", cloud_id


def mint_local_token(
    key: rsa.RSAPrivateKey,
    *,
    site_url: str,
    app_id: str,
    account_id: str = "local-admin",
    minutes: int = 60,
) -> str:
    installation_id, cloud_id = site_ids(site_url)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "forge/invocation-token",
        "aud": app_id,
        "iat": now,
        "nbf": now,
        "exp": now + minutes * 60,
        "jti": str(uuid.uuid4()),
        "app": {
            "id": app_id,
            "installationId": installation_id,
            "apiBaseUrl": f"https://api.atlassian.com/ex/confluence/{cloud_id}",
            "environment": {"type": "DEVELOPMENT", "id": "local"},
            "module": {"type": "xen:macro", "key": "local"},
        },
        "context": {"cloudId": cloud_id, "siteUrl": site_url.rstrip("/")},
        "principal": account_id,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": LOCAL_KID})
