"""The services: the rules themselves, below the HTTP door."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import hashers

from django_mfa_enroll import backup_codes, services, signals
from django_mfa_enroll.models import BackupCode, Secret

from .conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def new(user, clock):
    return services.create_secret(user, issuer="Example")


@pytest.fixture
def active(user, clock, new):
    enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    clock.next_step()
    return new.key_base32, enrollment


@pytest.fixture
def pbkdf2_calls(monkeypatch):
    """Count PBKDF2 evaluations: Django's hasher calls the module's pbkdf2() once per hash."""
    calls = []
    real = hashers.pbkdf2

    def counting(*args, **kwargs):
        calls.append(args[2] if len(args) > 2 else kwargs.get("iterations"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashers, "pbkdf2", counting)
    return calls


def spend(secret, typed, clock):
    return services.verify_any_code(Secret.objects.get(pk=secret.pk), typed, clock())


# Backup codes: one hash per check, single use.


@pytest.mark.parametrize("count", [1, 10, 31])
def test_checking_a_backup_code_costs_one_hash_whatever_the_set_size(
    user, clock, settings, pbkdf2_calls, count
):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "BACKUP_CODE_COUNT": count}
    new = services.create_secret(user, issuer="Example")
    enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    secret = enrollment.secret
    codes = enrollment.codes
    last = codes[-1]
    wrong_secret_part = last[:-1] + ("2" if last[-1] != "2" else "3")
    unused = [c for c in backup_codes.ALPHABET if all(not x.startswith(c) for x in codes)]
    cases = [
        (wrong_secret_part, services.InvalidCode),  # right selector, wrong secret part
        *[(selector + last[1:], services.InvalidCode) for selector in unused[:1]],  # no such row
        ("not a code at all", services.InvalidCode),
        (last, None),  # the last unused code
        (last, services.InvalidCode),  # spent
    ]
    for typed, expected in cases:
        pbkdf2_calls.clear()
        error = spend(secret, typed, clock)
        assert (type(error) if error else None) is expected, typed
        assert len(pbkdf2_calls) == 1, (typed, len(pbkdf2_calls))


def test_backup_code_hash_uses_the_configured_iterations(user, clock, settings, pbkdf2_calls, new):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "BACKUP_CODE_ITERATIONS": 1234}
    services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert set(pbkdf2_calls) == {1234}
    assert all(
        h.startswith("pbkdf2_sha256$1234$")
        for h in BackupCode.objects.values_list("code_hash", flat=True)
    )


def test_default_iterations_are_five_figures_and_above_2_to_64_offline():
    import math

    from django_mfa_enroll.conf import DEFAULTS

    iterations = DEFAULTS["BACKUP_CODE_ITERATIONS"]
    assert 10_000 <= iterations < 100_000
    assert backup_codes.SECRET_BITS + math.log2(iterations) >= 64


def test_a_backup_code_works_once_and_counts_down(user, clock, active):
    _key, enrollment = active
    secret, code = enrollment.secret, enrollment.codes[4]
    assert spend(secret, code.upper().replace("-", " "), clock) is None
    assert isinstance(spend(secret, code, clock), services.InvalidCode)
    assert services.get_secret(user, secret.pk).backup_codes_remaining == 9
    assert BackupCode.objects.filter(secret=secret, used_at__isnull=False).count() == 1


def test_backup_codes_are_stored_only_hashed(active):
    _key, enrollment = active
    stored = list(BackupCode.objects.values_list("selector", "code_hash"))
    assert len(stored) == 10
    for code in enrollment.codes:
        plain = backup_codes.normalise(code)
        assert all(plain[1:] not in h and code not in h for _s, h in stored)


def test_regenerate_kills_the_old_set(user, clock, active):
    key, enrollment = active
    fresh = services.regenerate_backup_codes(user, enrollment.secret.pk, clock.code(key))
    secret = Secret.objects.get(pk=enrollment.secret.pk)
    for old in enrollment.codes:
        assert isinstance(services.verify_any_code(secret, old, clock()), services.InvalidCode)
    assert services.verify_any_code(secret, fresh[0], clock()) is None


# TOTP replay (RFC 6238 5.2).


def test_a_totp_code_is_accepted_once(user, clock, active):
    key, enrollment = active
    code = clock.code(key)
    secret = enrollment.secret
    assert spend(secret, code, clock) is None
    assert isinstance(spend(secret, code, clock), services.ReusedCode)


def test_an_earlier_step_is_refused_after_a_later_one(user, clock, active):
    key, enrollment = active
    secret = enrollment.secret
    assert spend(secret, clock.code(key, offset_steps=1), clock) is None
    assert isinstance(spend(secret, clock.code(key), clock), services.ReusedCode)


def test_the_enrolling_code_cannot_be_used_again(user, clock, new):
    code = clock.code(new.key_base32)
    enrollment = services.enroll_secret(user, new.secret.pk, code)
    assert isinstance(spend(enrollment.secret, code, clock), services.ReusedCode)
    assert Secret.objects.get(pk=new.secret.pk).last_step is not None


def test_the_time_step_is_stored_as_a_big_integer_beyond_2038(user, clock, new):
    from datetime import datetime, timezone

    clock.now = datetime(2603, 10, 11, 11, 33, 20, tzinfo=timezone.utc)  # Unix 20000000000
    services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert Secret.objects.get(pk=new.secret.pk).last_step == 20_000_000_000 // 30


# Failures: per user, growing delay, lock, reset on success.


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_failures_grow_a_delay_then_lock_and_success_resets(user, clock, active, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 2,
        "FAILURE_MAX_DELAY": 60,
        "FAILURE_LOCK_AFTER": 5,
        "FAILURE_LOCK_SECONDS": 3600,
    }
    key, enrollment = active
    sid = enrollment.secret.pk
    waits = []
    for _ in range(5):
        with pytest.raises(services.InvalidCode):
            services.regenerate_backup_codes(user, sid, wrong(clock.code(key)))
        secret = Secret.objects.get(pk=sid)
        wait = (secret.locked_until - clock()).total_seconds() if secret.locked_until else 0
        waits.append(wait)
        if wait and len(waits) < 5:
            with pytest.raises(services.Locked) as locked:  # even the right code must wait
                services.regenerate_backup_codes(user, sid, clock.code(key))
            assert locked.value.retry_after == wait
            clock.advance(wait)
    # No wait for the first failure, then 2, 4, 8 seconds, then the lock.
    assert waits == [0, 2, 4, 8, 3600]
    assert secret.failure_count == 5
    # Even the right code is refused while locked...
    with pytest.raises(services.Locked):
        services.regenerate_backup_codes(user, sid, clock.code(key))
    # ...and accepted after the lock, resetting the count.
    clock.advance(3600)
    services.regenerate_backup_codes(user, sid, clock.code(key))
    secret.refresh_from_db()
    assert secret.failure_count == 0 and secret.locked_until is None


def test_backup_code_failures_count_too(user, clock, active):
    _key, enrollment = active
    with pytest.raises(services.InvalidCode):
        services.delete_secret(user, enrollment.secret.pk, "2222-2222-2222")
    assert Secret.objects.get(pk=enrollment.secret.pk).failure_count == 1


def test_a_refused_code_is_counted_even_though_its_transaction_rolled_back(user, clock, new):
    with pytest.raises(services.InvalidCode):
        services.enroll_secret(user, new.secret.pk, wrong(clock.code(new.key_base32)))
    secret = Secret.objects.get(pk=new.secret.pk)
    assert secret.failure_count == 1 and secret.status == Secret.Status.PENDING


# Signals and logs.


def test_signals_fire_with_ids_not_secrets(user, clock):
    seen = []

    def receiver(sender, **kwargs):
        seen.append((kwargs["secret"].pk, sorted(kwargs)))

    for signal in (
        signals.secret_created,
        signals.secret_enrolled,
        signals.backup_codes_regenerated,
        signals.secret_deleted,
    ):
        signal.connect(receiver, weak=False)
    try:
        new = services.create_secret(user, issuer="Example")
        enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
        clock.next_step()
        fresh = services.regenerate_backup_codes(user, new.secret.pk, clock.code(new.key_base32))
        assert enrollment.codes != fresh
        services.delete_secret(user, new.secret.pk, fresh[0])
    finally:
        for signal in (
            signals.secret_created,
            signals.secret_enrolled,
            signals.backup_codes_regenerated,
            signals.secret_deleted,
        ):
            signal.disconnect(receiver)
    assert [pk for pk, _ in seen] == [new.secret.pk] * 4
    assert all(keys == ["secret", "signal", "user"] for _, keys in seen)


def test_logs_never_hold_codes_or_keys(user, clock, caplog):
    caplog.set_level(logging.DEBUG)
    new = services.create_secret(user, issuer="Example")
    bad = wrong(clock.code(new.key_base32))
    with pytest.raises(services.InvalidCode):
        services.enroll_secret(user, new.secret.pk, bad)
    good = clock.code(new.key_base32)
    enrollment = services.enroll_secret(user, new.secret.pk, good)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "MFA verification failed" in text and "MFA secret enrolled" in text
    for needle in [new.key_base32, bad, good, *enrollment.codes]:
        assert needle not in text


def test_create_replaces_pending_but_not_active(user, clock):
    first = services.create_secret(user, issuer="Example")
    second = services.create_secret(user, issuer="Example")
    assert list(Secret.objects.values_list("pk", flat=True)) == [second.secret.pk]
    services.enroll_secret(user, second.secret.pk, clock.code(second.key_base32))
    with pytest.raises(services.SecretExists):
        services.create_secret(user, issuer="Example")
    assert first.secret.pk != second.secret.pk


def test_secrets_of_users_are_apart(user, clock):
    other = make_user("bob")
    mine = services.create_secret(user, issuer="Example")
    with pytest.raises(services.SecretNotFound):
        services.enroll_secret(other, mine.secret.pk, clock.code(mine.key_base32))
    with pytest.raises(services.SecretNotFound):
        services.get_secret(other, mine.secret.pk)
