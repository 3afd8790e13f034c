"""crypto.py (Fernet under a rotating key list) and the keys the services put in force."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.fernet import Fernet

from django_mfa_enroll import crypto, services

KEY_A = Fernet.generate_key().decode("ascii")
KEY_B = Fernet.generate_key().decode("ascii")
PLAINTEXT = bytes.fromhex("3132333435363738393031323334353637383930")  # RFC 6238 SHA1 key


def test_round_trip():
    token = crypto.encrypt(PLAINTEXT, (KEY_A,))
    assert isinstance(token, str)
    assert token != PLAINTEXT.decode()
    assert crypto.decrypt(token, (KEY_A,)) == PLAINTEXT


def test_each_encryption_is_fresh():
    assert crypto.encrypt(PLAINTEXT, (KEY_A,)) != crypto.encrypt(PLAINTEXT, (KEY_A,))


@pytest.mark.parametrize(
    "encoding",
    [
        lambda b: b.decode("ascii"),
        lambda b: b.hex(),
        lambda b: b.hex().upper(),
        lambda b: base64.b32encode(b).decode().rstrip("="),
        lambda b: base64.b32encode(b).decode().rstrip("=").lower(),
        lambda b: base64.b64encode(b).decode().rstrip("="),
        lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
    ],
    ids=["raw", "hex", "HEX", "base32", "base32-lower", "base64", "urlsafe-base64"],
)
def test_ciphertext_does_not_contain_the_plaintext(encoding):
    token = crypto.encrypt(PLAINTEXT, (KEY_A,))
    assert encoding(PLAINTEXT) not in token


def test_a_token_made_under_the_old_key_decrypts_with_the_new_key_in_front():
    token = crypto.encrypt(PLAINTEXT, (KEY_A,))
    assert crypto.decrypt(token, (KEY_B, KEY_A)) == PLAINTEXT


def test_the_first_key_encrypts():
    token = crypto.encrypt(PLAINTEXT, (KEY_B, KEY_A))
    assert crypto.decrypt(token, (KEY_B,)) == PLAINTEXT
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token, (KEY_A,))


def test_rotate_moves_a_token_to_the_first_key():
    old = crypto.encrypt(PLAINTEXT, (KEY_A,))
    new = crypto.rotate(old, (KEY_B, KEY_A))
    assert new != old
    assert crypto.decrypt(new, (KEY_B,)) == PLAINTEXT
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(new, (KEY_A,))


def test_a_token_under_a_dropped_key_is_refused():
    token = crypto.encrypt(PLAINTEXT, (KEY_A,))
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token, (KEY_B,))


def test_a_tampered_token_is_refused():
    token = crypto.encrypt(PLAINTEXT, (KEY_A,))
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[-40] ^= 1  # a ciphertext byte, before the 32-byte HMAC
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(base64.urlsafe_b64encode(bytes(raw)).decode(), (KEY_A,))


def test_invalid_token_is_cryptography_s():
    from cryptography.fernet import InvalidToken

    assert crypto.InvalidToken is InvalidToken


# --- derive_key ----------------------------------------------------------------------------


def test_derive_key_is_deterministic():
    assert crypto.derive_key("secret-one") == crypto.derive_key("secret-one")


@pytest.mark.parametrize(
    ("first", "second"),
    [("secret-one", "secret-two"), ("a", "b"), ("secret", "secret ")],
)
def test_derive_key_differs_across_secret_keys(first, second):
    assert crypto.derive_key(first) != crypto.derive_key(second)


@pytest.mark.parametrize("secret_key", ["short", "x" * 200, "ünïcødé-sécret"])
def test_derive_key_makes_a_valid_fernet_key(secret_key):
    key = crypto.derive_key(secret_key)
    assert isinstance(key, str)
    assert len(base64.urlsafe_b64decode(key)) == 32
    Fernet(key)  # raises ValueError for a malformed key
    assert crypto.decrypt(crypto.encrypt(PLAINTEXT, (key,)), (key,)) == PLAINTEXT


def test_derive_key_is_not_the_secret_key_itself():
    secret_key = base64.urlsafe_b64encode(b"k" * 32).decode()  # a SECRET_KEY shaped like a key
    assert crypto.derive_key(secret_key) != secret_key


# --- fernet_for ----------------------------------------------------------------------------


def test_fernet_for_refuses_no_keys():
    with pytest.raises(ValueError):
        crypto.fernet_for(())


@pytest.mark.parametrize(
    "keys",
    [
        ("not-a-key",),
        ("",),
        (base64.urlsafe_b64encode(b"k" * 31).decode(),),  # 31 bytes, not 32
        (KEY_A, "not-a-key"),
    ],
    ids=["garbage", "empty", "short", "one-bad-among-good"],
)
def test_fernet_for_refuses_a_malformed_key(keys):
    with pytest.raises(ValueError):
        crypto.fernet_for(keys)


@pytest.mark.parametrize("operation", [crypto.encrypt, crypto.decrypt])
def test_encrypt_and_decrypt_refuse_an_empty_key_list(operation):
    with pytest.raises(ValueError):
        operation(b"x" if operation is crypto.encrypt else "x", ())


# --- services.encryption_keys --------------------------------------------------------------


def test_configured_keys_come_first_as_given_then_the_derived_ones(settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [KEY_B, KEY_A]}
    settings.SECRET_KEY_FALLBACKS = ["an-older-secret-key"]
    assert services.encryption_keys() == (
        KEY_B,
        KEY_A,
        crypto.derive_key(settings.SECRET_KEY),
        crypto.derive_key("an-older-secret-key"),
    )


def test_configured_keys_win_over_secret_key(settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [KEY_A]}
    token = crypto.encrypt(PLAINTEXT, services.encryption_keys())
    assert crypto.decrypt(token, (KEY_A,)) == PLAINTEXT  # new secrets go under KEY_A
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token, (crypto.derive_key(settings.SECRET_KEY),))


def test_without_keys_they_are_derived_from_secret_key_then_fallbacks(settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": []}
    settings.SECRET_KEY = "the-current-secret-key"
    settings.SECRET_KEY_FALLBACKS = ["an-older-secret-key", "the-oldest-secret-key"]
    assert services.encryption_keys() == (
        crypto.derive_key("the-current-secret-key"),
        crypto.derive_key("an-older-secret-key"),
        crypto.derive_key("the-oldest-secret-key"),
    )


def test_a_secret_survives_secret_key_moving_to_the_fallbacks(settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": []}
    settings.SECRET_KEY = "old-secret-key"
    settings.SECRET_KEY_FALLBACKS = []
    token = crypto.encrypt(PLAINTEXT, services.encryption_keys())

    settings.SECRET_KEY = "new-secret-key"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key"]
    assert crypto.decrypt(token, services.encryption_keys()) == PLAINTEXT
    # New secrets go under the key derived from the new SECRET_KEY.
    fresh = crypto.encrypt(PLAINTEXT, services.encryption_keys())
    assert crypto.decrypt(fresh, (crypto.derive_key("new-secret-key"),)) == PLAINTEXT

    # Dropping the old key from the fallbacks makes the old secret unreadable (hence W001).
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token, services.encryption_keys())


# --- moving from the derived key to ENCRYPTION_KEYS (issue 13, item 7) ---------------------


@pytest.mark.django_db
def test_moving_from_the_derived_key_to_encryption_keys_loses_no_login(settings, user, clock):
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from django_mfa_enroll import checks
    from django_mfa_enroll.models import Secret

    from .conftest import enroll, login, redeem

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": []}
    enrolled = enroll(user, clock)  # under the key derived from SECRET_KEY
    stored = Secret.objects.get().encrypted_key
    assert crypto.decrypt(stored, (crypto.derive_key(settings.SECRET_KEY),))

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [KEY_A]}
    assert checks.check_secrets_decrypt() == []  # nothing for E007 to block

    def totp_login() -> int:
        client = APIClient()
        response = redeem(client, login(client).json()["token"], token=clock.code(enrolled["key"]))
        clock.next_step()
        return response.status_code

    assert totp_login() == 200  # before the rotation: no 503
    call_command("mfa_rotate_keys", stdout=open(os.devnull, "w"))  # noqa: SIM115
    rotated = Secret.objects.get().encrypted_key
    assert rotated != stored and crypto.decrypt(rotated, (KEY_A,))
    assert totp_login() == 200


@pytest.mark.django_db
def test_e007_hint_names_both_ways_back(settings, user, clock):
    from django_mfa_enroll import checks

    from .conftest import enroll

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [KEY_A]}
    enroll(user, clock)
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [KEY_B]}  # KEY_A dropped
    [error] = checks.check_secrets_decrypt()
    assert error.id == checks.E007
    assert "ENCRYPTION_KEYS" in error.hint and "SECRET_KEY_FALLBACKS" in error.hint
    assert "mfa_rotate_keys" in error.hint
