"""Support API tokens: ``mst_<prefix>_<secret>``; only the SHA-256 of the whole token is stored.

The tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching); the
8-hex-digit prefix finds the row without scanning and is safe to show in listings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import storage
from app.models import SUPPORT_ROLES, SupportToken, utcnow

TOKEN_PREFIX = "mst_"
_TOKEN_RE = re.compile(r"mst_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOUCH_EVERY = timedelta(minutes=1)


class TokenNameTaken(ValueError):
    """A support token with this name exists (revoked or not)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_support_token(session: Session, name: str, role: str) -> tuple[SupportToken, str]:
    """Mint a token; returns the row and the clear token, which is never stored nor shown again."""
    if not NAME_RE.fullmatch(name):
        raise ValueError("a token name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in SUPPORT_ROLES:
        raise ValueError(f"role must be one of {', '.join(SUPPORT_ROLES)}")
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = SupportToken(name=name, role=role, prefix=prefix, token_hash=hash_token(token))
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise TokenNameTaken(f"a support token named {name!r} already exists") from None
    return row, token


def find_support_token(session: Session, token: str) -> SupportToken | None:
    """The active (not revoked) token row matching ``token``, compared in constant time."""
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    digest = hash_token(token)
    for row in session.scalars(
        select(SupportToken).where(
            SupportToken.prefix == match.group(1), SupportToken.revoked_at.is_(None)
        )
    ):
        if hmac.compare_digest(row.token_hash, digest):
            return row
    return None


def touch_support_token(session: Session, row: SupportToken) -> None:
    """Record use (at most once a minute, to keep reads from writing on every request)."""
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
        row.last_used_at = now


def list_support_tokens(session: Session) -> list[SupportToken]:
    return list(session.scalars(select(SupportToken).order_by(SupportToken.name)))


def revoke_support_token(session: Session, name: str) -> SupportToken:
    row = session.scalar(select(SupportToken).where(SupportToken.name == name))
    if row is None:
        raise storage.NotFound(f"no support token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
