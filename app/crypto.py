"""Encryption at rest of stored secrets (connected-app client secrets).

A Fernet key is derived from ``MULESIGHT_SECRET_KEY`` with HKDF-SHA256, so the configured secret
can be any high-entropy string and is never used as a key directly. Flask's own ``SECRET_KEY``
(session cookies) is derived from it too, under a different label, unless configured.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

_SALT = b"mulesight"
_FERNET_INFO = b"mulesight/stored-secrets/v1"
_FLASK_INFO = b"mulesight/flask-secret-key/v1"


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted (the secret key changed, or the value is corrupt)."""


def derive_key(secret: str, info: bytes) -> bytes:
    """32 bytes derived from ``secret`` for one purpose (``info``)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info)
    return hkdf.derive(secret.encode("utf-8"))


class SecretBox:
    """Encrypts and decrypts short secrets; the ciphertext is an ASCII Fernet token."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, _FERNET_INFO)))

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


def init_app(app: Flask) -> None:
    secret = app.config["MULESIGHT_SECRET_KEY"]
    app.extensions["secret_box"] = SecretBox(secret)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = derive_key(secret, _FLASK_INFO).hex()


def secret_box() -> SecretBox:
    """The current app's :class:`SecretBox`."""
    return current_app.extensions["secret_box"]
