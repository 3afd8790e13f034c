"""TOTP (RFC 6238) over pyotp: pure functions of bytes, integers and the time passed in.

No ORM and no Django here. The caller passes ``now`` (a Unix time) so the server's clock,
never a request, decides which step is current.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

import pyotp

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_key(num_bytes: int = 20) -> bytes:
    """Return a random key from the OS CSPRNG (RFC 4226 4: at least 128, we default to 160 bits)."""
    return secrets.token_bytes(num_bytes)


def key_to_base32(key: bytes) -> str:
    """Encode a key as RFC 4648 base32 without padding, as Key URIs want it."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def time_step(now: float, period: int = 30) -> int:
    """Return the RFC 6238 time step T for a Unix time, with T0 = 0."""
    return int(now) // period


class _HOTP(pyotp.HOTP):
    """pyotp's HOTP on the key as bytes: pyotp keeps a base32 secret and decodes it again for
    every code, which made the codes of three steps a tenth of a login's CPU."""

    def __init__(self, key: bytes, digits: int, algorithm: str) -> None:
        self._key = key
        super().__init__("", digits=digits, digest=ALGORITHMS[algorithm])

    def byte_secret(self) -> bytes:
        return self._key


def code_at_step(key: bytes, step: int, digits: int = 6, algorithm: str = "SHA1") -> str:
    """Return the code for one time step, zero-padded to ``digits``."""
    return _HOTP(key, digits, algorithm).at(step)


def verify(
    key: bytes,
    code: str,
    now: float,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
    tolerance: int = 1,
) -> int | None:
    """Return the time step whose code equals ``code``, or None.

    Steps from ``tolerance`` before to ``tolerance`` after the current one are tried, each
    compared in constant time. Which steps are still acceptable (replay, RFC 6238 5.2) is
    the caller's business: it gets the step back.
    """
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    current = time_step(now, period)
    hotp = _HOTP(key, digits, algorithm)
    matched = None
    for step in range(current - tolerance, current + tolerance + 1):
        if step < 0:
            continue
        candidate = hotp.at(step)
        if hmac.compare_digest(candidate.encode(), code.encode()) and matched is None:
            matched = step
    return matched


def key_uri(
    key: bytes,
    *,
    issuer: str,
    account: str,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
) -> str:
    """Return the ``otpauth://totp/ISSUER:ACCOUNT?...`` Key URI that authenticator apps read."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = urlencode(
        {
            "secret": key_to_base32(key),
            "issuer": issuer,
            "algorithm": algorithm,
            "digits": digits,
            "period": period,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
