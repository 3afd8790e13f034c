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
