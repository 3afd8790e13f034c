"""Encrypt secret material at rest with Fernet, under a rotating list of keys.

The first key encrypts; every key decrypts (MultiFernet), so a site adds a new key in
front, re-encrypts, then drops the old one. With no key configured, one is derived from
each of SECRET_KEY and SECRET_KEY_FALLBACKS with HKDF, and a system check warns.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "decrypt", "derive_key", "encrypt", "fernet_for"]

_HKDF_INFO = b"django-mfa-enroll secret encryption v1"


def derive_key(secret_key: str) -> str:
    """Derive a Fernet key from a Django SECRET_KEY (HKDF-SHA256, a fixed context)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode("ascii")


@functools.lru_cache(maxsize=16)
def fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    """Return a MultiFernet for the keys; raise ValueError for a malformed key or none."""
    if not keys:
        raise ValueError("no encryption key")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: bytes, keys: tuple[str, ...]) -> str:
    """Encrypt under the first key; return the Fernet token as text."""
    return fernet_for(keys).encrypt(plaintext).decode("ascii")


def decrypt(token: str, keys: tuple[str, ...]) -> bytes:
    """Decrypt a token made under any of the keys; raise InvalidToken otherwise."""
    return fernet_for(keys).decrypt(token.encode("ascii"))


def rotate(token: str, keys: tuple[str, ...]) -> str:
    """Re-encrypt a token under the first key."""
    return fernet_for(keys).rotate(token.encode("ascii")).decode("ascii")
