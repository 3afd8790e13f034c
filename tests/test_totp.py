"""totp.py against RFC 6238 Appendix B and the Key URI format authenticator apps read."""

import json
import random
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from django_mfa_enroll import totp

VECTORS_PATH = Path(__file__).parent / "rfc6238_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text())
KEYS = {name: bytes.fromhex(value) for name, value in VECTORS["keys_hex"].items()}


@pytest.mark.parametrize("row", VECTORS["totp"], ids=lambda r: f"{r['algorithm']}-{r['time']}")
def test_rfc6238_vector(row):
    key = KEYS[row["algorithm"]]
    step = totp.time_step(row["time"], row["period"])
    assert totp.code_at_step(key, step, row["digits"], row["algorithm"]) == row["code"]
    assert (
        totp.verify(
            key,
            row["code"],
            row["time"],
            digits=row["digits"],
            period=row["period"],
            algorithm=row["algorithm"],
            tolerance=0,
        )
        == step
    )


def test_vectors_cover_the_2038_boundary_and_beyond():
    assert any(row["time"] >= 20_000_000_000 for row in VECTORS["totp"])


def test_new_key_is_160_bits_and_random():
    keys = {totp.new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(key) == 20 for key in keys)


def test_base32_has_no_padding_and_round_trips():
    key = totp.new_key()
    encoded = totp.key_to_base32(key)
    assert "=" not in encoded and len(encoded) == 32
    import base64

    assert base64.b32decode(encoded) == key


@pytest.mark.parametrize(
    "offset,accepted", [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_tolerance_is_one_step_either_side(offset, accepted):
    key, now = KEYS["SHA1"], 1_700_000_000
    step = totp.time_step(now) + offset
    code = totp.code_at_step(key, step)
    assert (totp.verify(key, code, now, tolerance=1) == step) is accepted


def test_tolerance_zero_accepts_current_step_only():
    key, now = KEYS["SHA1"], 1_700_000_000
    previous = totp.code_at_step(key, totp.time_step(now) - 1)
    assert totp.verify(key, previous, now, tolerance=0) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "12 345"])
def test_malformed_codes_are_refused(code):
    assert totp.verify(KEYS["SHA1"], code, 1_700_000_000) is None


def test_step_before_epoch_is_never_tried():
    key = KEYS["SHA1"]
    code = totp.code_at_step(key, 0)
    assert totp.verify(key, code, 5) == 0


def test_key_uri_is_what_authenticator_apps_read():
    key = KEYS["SHA1"]
    uri = totp.key_uri(key, issuer="Acme Corp", account="alice@example.org")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert parts.path == "/Acme%20Corp:alice%40example.org"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [VECTORS["sha1_key_base32"]],
        "issuer": ["Acme Corp"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_key_uri_escapes_colons_and_ampersands_in_labels():
    uri = totp.key_uri(b"k" * 20, issuer="A:B&C", account="x:y")
    label = urlsplit(uri).path
    assert label == "/A%3AB%26C:x%3Ay"
    assert parse_qs(urlsplit(uri).query)["issuer"] == ["A:B&C"]


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
@pytest.mark.parametrize("digits", [6, 8])
def test_codes_are_what_an_authenticator_app_computes_from_the_key_uri(algorithm, digits):
    """The codes of random keys and times, against pyotp's TOTP built from the base32 secret
    an app reads (totp.py hands pyotp the key as bytes, not the base32 text)."""
    rng = random.Random(f"{algorithm}-{digits}")
    for _ in range(100):
        key = rng.randbytes(rng.choice([16, 20, 32, 64]))
        now = rng.randrange(0, 2**33)
        app = pyotp.TOTP(totp.key_to_base32(key), digits=digits, digest=totp.ALGORITHMS[algorithm])
        step = totp.time_step(now)
        assert totp.code_at_step(key, step, digits, algorithm) == app.at(now)
        found = totp.verify(key, app.at(now), now, digits=digits, algorithm=algorithm)
        assert found == step or (  # a neighbour step's code may equal this one
            found is not None and totp.code_at_step(key, found, digits, algorithm) == app.at(now)
        )
        assert app.at(now + 30) == totp.code_at_step(key, step + 1, digits, algorithm)
