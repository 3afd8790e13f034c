"""Hypothesis properties over the pure rooms: codes, TOTP, backup codes, encryption."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_mfa_enroll import backup_codes, crypto, totp

KEYS = st.binary(min_size=16, max_size=64)
TIMES = st.integers(min_value=0, max_value=2**40)
DIGITS = st.integers(min_value=6, max_value=8)
PERIODS = st.sampled_from([15, 30, 60, 90])
ALGORITHMS = st.sampled_from(sorted(totp.ALGORITHMS))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(KEYS, TIMES, DIGITS, PERIODS, ALGORITHMS, st.integers(min_value=-1, max_value=1))
def test_a_code_verifies_at_its_own_step_within_the_drift(
    key, now, digits, period, algorithm, drift
):
    step = totp.time_step(now, period) + drift
    code = totp.code_at_step(key, max(step, 0), digits, algorithm)
    assert len(code) == digits and code.isdigit()
    matched = totp.verify(
        key, code, now, digits=digits, period=period, algorithm=algorithm, tolerance=1
    )
    # The step that made the code, or (rarely) a neighbour whose code collides with it.
    assert matched is not None and abs(matched - totp.time_step(now, period)) <= 1


@FAST
@given(KEYS, TIMES, PERIODS, st.integers(min_value=2, max_value=50))
def test_a_code_far_outside_the_drift_is_refused_unless_it_collides(key, now, period, distance):
    step = totp.time_step(now, period)
    code = totp.code_at_step(key, step + distance)
    window = {totp.code_at_step(key, s) for s in range(max(step - 1, 0), step + 2)}
    expected = None if code not in window else totp.verify(key, code, now, period=period)
    assert totp.verify(key, code, now, period=period, tolerance=1) == expected


@FAST
@given(KEYS, st.text(max_size=12))
def test_verify_never_raises_on_any_text(key, typed):
    result = totp.verify(key, typed, 1_700_000_000)
    assert result is None or (typed.isascii() and typed.isdigit() and len(typed) == 6)


@FAST
@given(KEYS)
def test_key_base32_round_trips(key):
    encoded = totp.key_to_base32(key)
    assert "=" not in encoded
    assert base64.b32decode(encoded + "=" * (-len(encoded) % 8)) == key


@FAST
@given(st.integers(min_value=1, max_value=backup_codes.MAX_SET_SIZE))
def test_a_generated_set_normalises_back_to_itself(count):
    codes = backup_codes.generate_set(count)
    assert len({backup_codes.selector_of(backup_codes.normalise(c)) for c in codes}) == count
    for code in codes:
        plain = backup_codes.normalise(code)
        assert plain == code.replace("-", "")
        assert backup_codes.display(plain) == code


@FAST
@given(
    st.lists(st.sampled_from(backup_codes.ALPHABET), min_size=12, max_size=12).map("".join),
    st.lists(st.sampled_from([" ", "-", "\t", ""]), min_size=13, max_size=13),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_normalise_ignores_case_spaces_and_hyphens(code, separators, upper):
    typed = (
        "".join(
            sep + (ch.upper() if up else ch)
            for sep, ch, up in zip(separators, code, upper, strict=False)
        )
        + separators[-1]
    )
    assert backup_codes.normalise(typed) == code


@FAST
@given(st.text(max_size=40))
def test_normalise_returns_a_code_or_none(typed):
    result = backup_codes.normalise(typed)
    assert result is None or (
        len(result) == backup_codes.CODE_LENGTH and set(result) <= set(backup_codes.ALPHABET)
    )


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(backup_codes.generate_set(backup_codes.MAX_SET_SIZE)), st.integers(0, 10))
def test_a_hash_checks_its_code_and_only_its_code(code, flip):
    plain = backup_codes.normalise(code)
    encoded = backup_codes.make_hash(plain, 1000)
    assert backup_codes.check(plain, encoded)
    position = 1 + flip  # a secret-part symbol
    other = backup_codes.ALPHABET[(backup_codes.ALPHABET.index(plain[position]) + 1) % 31]
    assert not backup_codes.check(plain[:position] + other + plain[position + 1 :], encoded)


ROTATION = st.lists(st.just(None), min_size=1, max_size=4).map(
    lambda keys: [Fernet.generate_key().decode() for _ in keys]
)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64), ROTATION, ROTATION)
def test_encryption_round_trips_across_rotation(plaintext, old_keys, new_keys):
    token = crypto.encrypt(plaintext, tuple(old_keys))
    assert len(plaintext) < 8 or plaintext not in token.encode()  # short ones may occur by chance
    both = tuple(new_keys + old_keys)
    assert crypto.decrypt(token, both) == plaintext
    rotated = crypto.rotate(token, both)
    assert crypto.decrypt(rotated, tuple(new_keys[:1])) == plaintext
