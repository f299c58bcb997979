"""Channel secrets (mail passwords, API tokens) are encrypted at rest with a key derived
from the app's secret key; they are decrypted only when a provider is called."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from . import settings

PREFIX = "enc:v1:"


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"inbox channel secrets\x00" + settings.secret_key().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("not an encrypted secret")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("the secret key changed since this secret was saved; enter the password again") from None


class Secret(str):
    """A decrypted secret whose repr never shows the value (safe in logs and tracebacks)."""

    def __repr__(self) -> str:
        return "Secret('***')"


def decrypt_fields(values: dict, fields: tuple[str, ...]) -> dict:
    """A copy of stored settings with the named secrets decrypted (as ``Secret``)."""
    out = dict(values or {})
    for key in fields:
        value = out.get(key) or ""
        out[key] = Secret(decrypt(value)) if value.startswith(PREFIX) else value
    return out


def encrypt_fields(values: dict, fields: tuple[str, ...]) -> dict:
    """A copy of settings with the named secrets encrypted, ready to store."""
    out = dict(values)
    for key in fields:
        if out.get(key) and not out[key].startswith(PREFIX):
            out[key] = encrypt(out[key])
    return out
