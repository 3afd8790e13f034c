"""API keys (and trusted devices' tokens) as values: make one, read one, hash one, check
one. Pure: no ORM, no Django.

A key reads ``mfak_<prefix>_<secret>`` (a trusted device's token ``mfad_<prefix>_<secret>``,
the same shape under its own tag, so one can never be taken for the other):

- ``prefix``: 12 base32 characters (60 random bits), public. It names the key's row, so a
  check is one indexed read and one hash, whatever the number of keys (as a backup code's
  selector does). Shown in lists, so a person can tell their keys apart.
- ``secret``: 43 base64url characters, 256 random bits from the OS CSPRNG.

Only the SHA-256 of the whole key is stored: at 256 random bits no guess can be tried
offline against it, so a slow hash would buy nothing (unlike a password or a backup code).
The check compares hashes in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TAG = "mfak"
#: The tag of a trusted device's token.
DEVICE_TAG = "mfad"
PREFIX_LENGTH = 12
SECRET_BYTES = 32
#: The length of every key (and device token): anything else is refused before any work.
MAX_LENGTH = len(TAG) + 1 + PREFIX_LENGTH + 1 + 43
_SHAPES = {
    tag: re.compile(rf"{tag}_([a-z2-7]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})")
    for tag in (TAG, DEVICE_TAG)
}
#: What a check compares against when no row has the prefix: the same work as a wrong key.
UNKNOWN_HASH = hashlib.sha256(b"no key has this hash").hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key made for a user: the whole key (shown once), its prefix and its hash."""

    key: str
    prefix: str
    key_hash: str


def new_key(tag: str = TAG) -> NewKey:
    """Make a key: a random public prefix and 256 random secret bits."""
    prefix = base64.b32encode(secrets.token_bytes(8)).decode("ascii").lower()[:PREFIX_LENGTH]
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
    key = f"{tag}_{prefix}_{secret.rstrip('=')}"
    return NewKey(key, prefix, hash_key(key))


def prefix_of(text: str, tag: str = TAG) -> str | None:
    """The prefix of a well-formed key of ``tag``, or None for anything that cannot be one."""
    if not isinstance(text, str) or len(text) != MAX_LENGTH:
        return None
    match = _SHAPES[tag].fullmatch(text)
    return match.group(1) if match else None


def hash_key(key: str) -> str:
    """The SHA-256 of the key, in hex: what the database keeps."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check(key: str, stored_hash: str | None) -> bool:
    """Whether ``key`` hashes to ``stored_hash``, compared in constant time. With no stored
    hash (no row has the prefix) it does the same work and answers False."""
    computed = hash_key(key)
    expected = UNKNOWN_HASH if stored_hash is None else stored_hash
    return hmac.compare_digest(computed, expected) and stored_hash is not None
