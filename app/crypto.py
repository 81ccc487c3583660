"""Encryption at rest of stored secrets (connected-app client secrets).

A Fernet key is derived from ``MULESIGHT_SECRET_KEY`` with HKDF-SHA256, so the configured secret
can be any high-entropy string and is never used as a key directly. Flask's own ``SECRET_KEY``
(session cookies) is derived from it too, under a different label, unless configured.

Rotation: earlier keys (``MULESIGHT_SECRET_KEY_PREVIOUS``, comma-separated, and the lines of the
instance file ``secret_key.previous``) still decrypt; new values are always encrypted under the
current key (cryptography's ``MultiFernet``). ``mulesight keys rotate`` re-encrypts every stored
secret under the current key, after which the earlier keys can be removed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

_SALT = b"mulesight"
_FERNET_INFO = b"mulesight/stored-secrets/v1"
_FLASK_INFO = b"mulesight/flask-secret-key/v1"
PREVIOUS_KEYS_FILE = "secret_key.previous"


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted (the secret key changed, or the value is corrupt)."""


def derive_key(secret: str, info: bytes) -> bytes:
    """32 bytes derived from ``secret`` for one purpose (``info``)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info)
    return hkdf.derive(secret.encode("utf-8"))


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, _FERNET_INFO)))


class SecretBox:
    """Encrypts and decrypts short secrets; the ciphertext is an ASCII Fernet token.

    ``previous`` keys decrypt only; encryption always uses ``secret``.
    """

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._current = _fernet(secret)
        older = [_fernet(key) for key in previous if key and key != secret]
        self._fernet = MultiFernet([self._current, *older])

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with the current MULESIGHT_SECRET_KEY"
            ) from None

    def is_current(self, ciphertext: str) -> bool:
        """Whether ``ciphertext`` is already encrypted under the current key."""
        try:
            self._current.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """``ciphertext`` re-encrypted under the current key (read with any known key)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with the current or a previous key"
            ) from None


def previous_keys(configured: str | None, instance_path: str) -> list[str]:
    """The earlier keys: ``MULESIGHT_SECRET_KEY_PREVIOUS`` then the instance's previous-key file."""
    keys = [k.strip() for k in (configured or "").split(",") if k.strip()]
    path = Path(instance_path) / PREVIOUS_KEYS_FILE
    if path.exists():
        keys += [line.strip() for line in path.read_text("ascii").splitlines() if line.strip()]
    return keys


def init_app(app: Flask) -> None:
    secret = app.config["MULESIGHT_SECRET_KEY"]
    previous = previous_keys(app.config.get("MULESIGHT_SECRET_KEY_PREVIOUS"), app.instance_path)
    app.extensions["secret_box"] = SecretBox(secret, previous)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = derive_key(secret, _FLASK_INFO).hex()


def secret_box() -> SecretBox:
    """The current app's :class:`SecretBox`."""
    box: SecretBox = current_app.extensions["secret_box"]
    return box
