"""Backup codes: make a set, normalise what a person typed, hash and check. No ORM.

A code reads ``k7m2-9xqp-4rtw``: twelve symbols from an alphabet without 0/O, 1/I/L, shown
in lower case in groups of four. Input ignores case, spaces and hyphens.

The first symbol is the code's *selector*: unique within its set and stored in the clear,
it tells which row to check, so checking a code costs one hash evaluation however many
codes the set has (django-trench tries every hash in turn). The other eleven symbols are
the secret part, ``11 * log2(31)`` = 54.5 bits from the OS CSPRNG, stored only as a salted
PBKDF2-SHA256 hash (NIST 800-63B 5.1.2.2, ASVS 5.0 6.5.2: codes under 112 bits are hashed
with a password-hashing function). A five-figure iteration count keeps an offline attack
on one stolen hash above 2**64 operations (54.5 + log2(20000) = 68.8) at about 5 ms a hash.
"""

from __future__ import annotations

import math
import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
SELECTOR_LENGTH = 1
SECRET_LENGTH = 11
CODE_LENGTH = SELECTOR_LENGTH + SECRET_LENGTH
GROUP = 4
MAX_SET_SIZE = len(ALPHABET) ** SELECTOR_LENGTH
SECRET_BITS = SECRET_LENGTH * math.log2(len(ALPHABET))
_IGNORED = str.maketrans("", "", " -\t")


class BackupCodeHasher(PBKDF2PasswordHasher):
    """PBKDF2-SHA256 through Django's hasher, with an iteration count of our own."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations


def generate_set(count: int) -> list[str]:
    """Return ``count`` new codes, in display form, with distinct selectors."""
    if not 0 < count <= MAX_SET_SIZE:
        raise ValueError(f"a set holds 1 to {MAX_SET_SIZE} codes")
    rng = secrets.SystemRandom()
    selectors = rng.sample(ALPHABET, count)
    return [
        display(selector + "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH)))
        for selector in selectors
    ]


def display(code: str) -> str:
    """Format a normalised code in groups of four: ``k7m2-9xqp-4rtw``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(typed: str) -> str | None:
    """Return the canonical form of what a person typed, or None if it cannot be a code."""
    if not typed.isascii():  # before lower(): "\u212a".lower() is an ASCII "k"
        return None
    code = typed.translate(_IGNORED).lower()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def selector_of(code: str) -> str:
    """Return the selector of a normalised code."""
    return code[:SELECTOR_LENGTH]


def make_hash(code: str, iterations: int) -> str:
    """Hash a normalised code's secret part with a fresh salt."""
    return BackupCodeHasher(iterations).encode(code[SELECTOR_LENGTH:], _salt())


def check(code: str, encoded: str) -> bool:
    """Check a normalised code against its stored hash: one PBKDF2 evaluation.

    The iteration count comes from the stored hash, so raising the setting later does not
    break codes already handed out. Django's verify compares in constant time.
    """
    try:
        return BackupCodeHasher(0).verify(code[SELECTOR_LENGTH:], encoded)
    except (ValueError, AssertionError):  # not a hash of ours: no match, not a 500
        return False


def burn(iterations: int) -> None:
    """Spend one hash evaluation, so a miss costs the same as a wrong code."""
    BackupCodeHasher(iterations).encode("0" * SECRET_LENGTH, _salt())


def _salt() -> str:
    return BackupCodeHasher(0).salt()
