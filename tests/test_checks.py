"""checks.py: the system check on MFA_ENROLL['ENCRYPTION_KEYS'], and its ids."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from django.core.checks import ERROR, WARNING, Tags, run_checks
from django.test import override_settings

from django_mfa_enroll import checks

KEY_A = Fernet.generate_key().decode("ascii")
KEY_B = Fernet.generate_key().decode("ascii")
BAD_KEY = "not-a-key"


def _run(keys: object) -> list:
    with override_settings(MFA_ENROLL={"ENCRYPTION_KEYS": keys}):
        return checks.check_encryption_keys()


@pytest.mark.parametrize("keys", [[], ()], ids=["empty-list", "empty-tuple"])
def test_w001_when_no_key_is_set(keys):
    messages = _run(keys)
    assert [m.id for m in messages] == [checks.W001]
    assert messages[0].level == WARNING
    assert "SECRET_KEY" in messages[0].msg


def test_w001_when_the_setting_is_missing_altogether():
    with override_settings(MFA_ENROLL={}):
        assert [m.id for m in checks.check_encryption_keys()] == [checks.W001]


@pytest.mark.parametrize(
    "keys",
    [
        [KEY_A],
        [KEY_B, KEY_A],
        (KEY_A,),
        KEY_A,  # a single key given as a string
        [KEY_A.encode("ascii")],  # bytes, as Fernet.generate_key() returns them
    ],
    ids=["one", "two", "tuple", "bare-string", "bytes"],
)
def test_nothing_when_valid_keys_are_set(keys):
    assert _run(keys) == []


@pytest.mark.parametrize(
    "keys",
    [
        [BAD_KEY],
        BAD_KEY,
        [KEY_A, BAD_KEY],
        [""],
        [KEY_A[:-4]],  # truncated
        [KEY_A, 123],
        [None],
        [KEY_A, ["nested"]],
    ],
    ids=[
        "bad",
        "bad-bare-string",
        "good-then-bad",
        "empty-string",
        "truncated",
        "int",
        "none",
        "unhashable",
    ],
)
def test_e001_for_a_malformed_or_non_string_key(keys):
    messages = _run(keys)
    assert [m.id for m in messages] == [checks.E001]
    assert messages[0].level == ERROR


def test_e001_does_not_show_the_key():
    # SECURITY.md: no key value in error messages. The valid key sits next to a bad one.
    [message] = _run([KEY_A, BAD_KEY])
    text = f"{message.msg} {message.hint}"
    assert KEY_A not in text
    assert BAD_KEY not in text


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(None, id="none"),
        pytest.param(123, id="int"),
        pytest.param([b"\xff\xfe"], id="non-utf8-bytes"),
    ],
)
def test_a_setting_of_the_wrong_shape_is_reported_not_raised(keys):
    ids = [m.id for m in _run(keys)]
    assert ids in ([checks.W001], [checks.E001])


def test_the_check_is_registered_under_the_security_tag():
    with override_settings(MFA_ENROLL={"ENCRYPTION_KEYS": []}):
        ids = [m.id for m in run_checks(tags=[Tags.security])]
    assert checks.W001 in ids
    with override_settings(MFA_ENROLL={"ENCRYPTION_KEYS": [BAD_KEY]}):
        ids = [m.id for m in run_checks(tags=[Tags.security])]
    assert checks.E001 in ids
    with override_settings(MFA_ENROLL={"ENCRYPTION_KEYS": [KEY_A]}):
        ids = [m.id for m in run_checks(tags=[Tags.security])]
    assert not [i for i in ids if i.startswith("django_mfa_enroll.")]


def test_check_ids_are_distinct_and_namespaced():
    constants = {
        name: value for name, value in vars(checks).items() if re.fullmatch(r"[EW]\d{3}", name)
    }
    assert {"E001", "W001"} <= set(constants)
    assert len(set(constants.values())) == len(constants)
    for name, value in constants.items():
        assert value == f"django_mfa_enroll.{name}"


# The other checks: authentication classes, settings in range, the throttle rate.


def _with(**mfa):
    base = {"ENCRYPTION_KEYS": [KEY_A]}
    return override_settings(MFA_ENROLL={**base, **mfa})


def test_default_settings_pass_every_check():
    with _with():
        assert checks.check_authentication_classes() == []
        assert checks.check_settings_in_range() == []
        assert checks.check_throttle_rate() == []


def test_e003_authentication_class_that_does_not_import():
    with _with(AUTHENTICATION_CLASSES=["no.such.Class"]):
        assert [m.id for m in checks.check_authentication_classes()] == [checks.E003]


def test_w003_no_jwt_authentication_class():
    with _with(AUTHENTICATION_CLASSES=["rest_framework.authentication.SessionAuthentication"]):
        assert [m.id for m in checks.check_authentication_classes()] == [checks.W003]


def test_simplejwt_own_class_counts_as_jwt():
    with _with(
        AUTHENTICATION_CLASSES=["rest_framework_simplejwt.authentication.JWTAuthentication"]
    ):
        assert checks.check_authentication_classes() == []


@pytest.mark.parametrize(
    "setting,value",
    [
        ("TOTP_DIGITS", 5),
        ("TOTP_DIGITS", 9),
        ("TOTP_DIGITS", "six"),
        ("TOTP_PERIOD", 0),
        ("TOTP_PERIOD", -30),
        ("TOTP_TOLERANCE", -1),
        ("TOTP_KEY_BYTES", 10),
        ("TOTP_ALGORITHM", "MD5"),
    ],
)
def test_e004_totp_settings_out_of_range(setting, value):
    with _with(**{setting: value}):
        messages = checks.check_settings_in_range()
    assert [m.id for m in messages] == [checks.E004]
    assert setting in messages[0].msg and messages[0].level == ERROR


@pytest.mark.parametrize(
    "setting,value",
    [
        ("BACKUP_CODE_COUNT", 0),
        ("BACKUP_CODE_COUNT", 32),
        ("BACKUP_CODE_ITERATIONS", 10),
        ("CHALLENGE_LIFETIME", 0),
        ("FAILURE_LOCK_AFTER", 100),
        ("FAILURE_LOCK_SECONDS", None),
    ],
)
def test_e005_other_settings_out_of_range(setting, value):
    with _with(**{setting: value}):
        messages = checks.check_settings_in_range()
    assert [m.id for m in messages] == [checks.E005]
    assert setting in messages[0].msg


@pytest.mark.parametrize(
    "setting,value", [("TOTP_ALGORITHM", "SHA256"), ("TOTP_PERIOD", 60), ("TOTP_DIGITS", 8)]
)
def test_w005_settings_authenticator_apps_mishandle(setting, value):
    with _with(**{setting: value}):
        assert [m.id for m in checks.check_settings_in_range()] == [checks.W005]


@pytest.mark.parametrize("rate", [None, ""])
def test_w004_no_throttle_rate(rate):
    with _with(AUTH_RATE=rate):
        assert [m.id for m in checks.check_throttle_rate()] == [checks.W004]


@pytest.mark.parametrize("rate", ["30", "x/min", "0/min", "30/fortnight", "30/"])
def test_e006_malformed_throttle_rate(rate):
    with _with(AUTH_RATE=rate):
        assert [m.id for m in checks.check_throttle_rate()] == [checks.E006]


def test_every_check_is_registered_under_security():
    from django.core.checks import registry

    security = {
        c.__name__
        for c in registry.registry.get_checks()
        if Tags.security in getattr(c, "tags", ())
    }
    assert {
        "check_encryption_keys",
        "check_backends",
        "check_authentication_classes",
        "check_settings_in_range",
        "check_throttle_rate",
    } <= security


@pytest.mark.parametrize(
    ("secret_key", "debug", "keys", "expected"),
    [
        ("django-insecure-abc123-made-by-startproject", False, [], "E011"),
        ("django-insecure-abc123-made-by-startproject", True, [], "W001"),
        ("django-insecure-abc123-made-by-startproject", False, [KEY_A], None),
        ("a-random-production-key-of-fifty-characters-or-so!", False, [], "W001"),
    ],
    ids=["insecure-debug-off", "insecure-debug-on", "insecure-with-keys", "random-key"],
)
def test_e011_a_development_key_never_encrypts_secrets_in_production(
    secret_key, debug, keys, expected
):
    with override_settings(
        SECRET_KEY=secret_key, DEBUG=debug, MFA_ENROLL={"ENCRYPTION_KEYS": keys}
    ):
        messages = checks.check_encryption_keys()
    assert [m.id for m in messages] == ([] if expected is None else [getattr(checks, expected)])
    if expected == "E011":
        assert messages[0].level == ERROR and "ENCRYPTION_KEYS" in messages[0].hint


def test_w006_names_what_notify_gets_wrong():
    with override_settings(MFA_ENROLL={"NOTIFY": ["enrolled", "enroled"]}):
        messages = checks.check_notify()
    assert [m.id for m in messages] == [checks.W006] and "enroled" in messages[0].msg
    with override_settings(MFA_ENROLL={"NOTIFY": ["enrolled", "reset"]}):
        assert checks.check_notify() == []


@pytest.mark.parametrize("days", [0, -5, "forever"])
def test_e005_event_retention_out_of_range(days):
    with override_settings(MFA_ENROLL={"EVENT_RETENTION_DAYS": days}):
        messages = checks.check_settings_in_range()
    assert checks.E005 in [m.id for m in messages]
    assert any("EVENT_RETENTION_DAYS" in m.msg for m in messages)
