"""Races on a real database: each state change a race could double has exactly one winner.

These only mean something where transactions run in parallel with row locks: PostgreSQL
(``DATABASE_URL=postgres://...``, as the second run of .ci/run does). Elsewhere they skip,
saying why.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from django_mfa_enroll import services
from django_mfa_enroll.models import BackupCode, Secret

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="races need PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test",
    ),
]


def race(target, n: int = THREADS) -> list:
    """Run ``target(i)`` in n threads released together; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - the result under test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def active(user, clock):
    new = services.create_secret(user, issuer="Example")
    enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    clock.next_step()
    return new.key_base32, enrollment


def test_the_same_backup_code_is_spent_once(active, clock):
    _key, enrollment = active
    code = enrollment.codes[0]
    results = race(
        lambda i: services.verify_any_code(
            Secret.objects.get(pk=enrollment.secret.pk), code, clock()
        )
    )
    assert sum(r is None for r in results) == 1, results
    assert all(r is None or isinstance(r, services.InvalidCode) for r in results)
    assert BackupCode.objects.filter(secret=enrollment.secret, used_at__isnull=False).count() == 1


def test_the_same_totp_step_is_accepted_once(active, clock):
    key, enrollment = active
    code = clock.code(key)
    results = race(
        lambda i: services.verify_any_code(
            Secret.objects.get(pk=enrollment.secret.pk), code, clock()
        )
    )
    assert sum(r is None for r in results) == 1, results
    assert all(r is None or isinstance(r, services.ReusedCode) for r in results)


def test_two_enrollments_of_one_pending_secret(user, clock):
    new = services.create_secret(user, issuer="Example")
    codes = [clock.code(new.key_base32, offset_steps=i % 2) for i in range(THREADS)]
    results = race(lambda i: services.enroll_secret(user, new.secret.pk, codes[i]))
    winners = [r for r in results if isinstance(r, services.Enrollment)]
    assert len(winners) == 1, results
    assert all(isinstance(r, (services.Enrollment, services.AlreadyEnrolled)) for r in results)
    assert Secret.objects.get().status == Secret.Status.ACTIVE
    assert BackupCode.objects.count() == 10


def test_two_creates_leave_one_secret(user, clock):
    results = race(lambda i: services.create_secret(user, issuer="Example"))
    assert all(isinstance(r, services.NewSecret) for r in results), results
    assert Secret.objects.filter(user=user).count() == 1
    assert Secret.objects.get().pk in {r.secret.pk for r in results}


def test_two_regenerations_with_one_code(active, user, clock):
    key, enrollment = active
    code = clock.code(key)
    results = race(lambda i: services.regenerate_backup_codes(user, enrollment.secret.pk, code))
    winners = [r for r in results if isinstance(r, list)]
    assert len(winners) == 1, results
    assert all(isinstance(r, (list, services.ReusedCode)) for r in results)
    assert BackupCode.objects.filter(secret=enrollment.secret).count() == 10
    # The live set is the winner's.
    secret = Secret.objects.get(pk=enrollment.secret.pk)
    assert services.verify_any_code(secret, winners[0][0], clock()) is None


def test_failures_in_parallel_are_all_counted(active, user, clock, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 1000,
        "FAILURE_LOCK_AFTER": 1000,
    }
    _key, enrollment = active
    race(lambda i: services.delete_secret(user, enrollment.secret.pk, "2222-2222-2222"))
    assert Secret.objects.get(pk=enrollment.secret.pk).failure_count == THREADS


# Login: through the HTTP door, each thread with its own challenge (or one shared).


@pytest.fixture(autouse=True)
def _no_delay(settings):
    """Losers of a race count as failures; keep the growing delay out of these results."""
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 1000}


def _challenges(n: int) -> list[str]:
    from rest_framework.test import APIClient

    from .conftest import challenge_of

    client = APIClient()
    return [challenge_of(client) for _ in range(n)]


def _redeem(challenge: str, **body):
    from rest_framework.test import APIClient

    return APIClient().post("/auth/totp", {"challenge": challenge, **body}, format="json")


def test_the_same_totp_code_logs_in_once_over_http(active, clock):
    key, _enrollment = active
    code = clock.code(key)
    challenges = _challenges(THREADS)
    results = race(lambda i: _redeem(challenges[i], token=code).status_code)
    assert sorted(results) == [200] + [401] * (THREADS - 1), results


def test_the_same_backup_code_logs_in_once_over_http(active, clock):
    _key, enrollment = active
    challenges = _challenges(THREADS)
    results = race(lambda i: _redeem(challenges[i], backup_code=enrollment.codes[0]).status_code)
    assert sorted(results) == [200] + [401] * (THREADS - 1), results
    assert BackupCode.objects.filter(used_at__isnull=False).count() == 1


def test_one_challenge_redeems_once_with_different_codes(active, clock):
    key, enrollment = active
    [challenge] = _challenges(1)
    bodies = [
        {"backup_code": enrollment.codes[i]} if i % 2 else {"token": clock.code(key, i % 3 - 1)}
        for i in range(THREADS)
    ]
    results = race(lambda i: _redeem(challenge, **bodies[i]))
    assert sorted(r.status_code for r in results) == [200] + [401] * (THREADS - 1)
    assert all(
        r.json()["code"] in ("challenge_used", "code_reused")
        for r in results
        if r.status_code == 401
    )
    # A losing backup code is not spent: only the winner's (if it was one) is used.
    assert BackupCode.objects.filter(used_at__isnull=False).count() <= 1


@pytest.mark.parametrize("kind", ["backup_code", "token"])
def test_parallel_wrong_guesses_do_not_outrun_the_delay(active, settings, user, clock, kind):
    """Each guess sees the count the one before left: 3 are checked, the rest wait. (A TOTP
    code's first try reads no lock: its count holds by a conditional UPDATE.)"""
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 3,
        "FAILURE_LOCK_AFTER": 50,
    }
    key, enrollment = active
    n = 16
    challenges = _challenges(n)
    wrong_totp = f"{(int(clock.code(key)) + 1) % 1_000_000:06d}"
    guess = {"backup_code": "2222-2222-2222", "token": wrong_totp}[kind]
    results = race(lambda i: _redeem(challenges[i], **{kind: guess}).status_code, n)
    assert sorted(results) == [401] * 3 + [429] * (n - 3), results
    assert Secret.objects.get(pk=enrollment.secret.pk).failure_count == 3


def test_parallel_wrong_codes_on_delete_do_not_outrun_the_delay(active, settings, user):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 3}
    _key, enrollment = active
    results = race(lambda i: services.delete_secret(user, enrollment.secret.pk, "2222-2222-2222"))
    assert sum(isinstance(r, services.Locked) for r in results) == THREADS - 3, results
    assert Secret.objects.get(pk=enrollment.secret.pk).failure_count == 3


def test_a_reset_during_logins_leaves_nothing_alive(active, user, clock):
    """Logins racing an admin reset: whoever wins, no secret, code or refresh outlives it."""
    _key, enrollment = active
    challenges = _challenges(THREADS - 1)

    def act(i: int):
        if i == 0:
            return services.reset_mfa(user, by="race")
        return _redeem(challenges[i - 1], backup_code=enrollment.codes[i])

    logins = _nothing_outlives_the_reset(race(act), ("challenge_invalid", "challenge_used"))
    assert all(r.status_code in (200, 401) for r in logins), [r.status_code for r in logins]


def _nothing_outlives_the_reset(results, refused_codes) -> list:
    """Thread 0 reset the user; the others' logins: no token of theirs renews, and each
    refusal says why. Returns the logins' answers."""
    from rest_framework.test import APIClient

    assert results[0] is True, results[0]
    assert not Secret.objects.exists() and not BackupCode.objects.exists()
    logins = results[1:]
    for response in logins:
        if response.status_code == 200:
            refresh = response.json()["refresh"]
            again = APIClient().post("/auth/refresh", {"refresh": refresh}, format="json")
            assert again.status_code == 401, again.content
        else:
            assert response.json()["code"] in refused_codes
    return logins


def test_a_right_code_racing_wrong_ones_is_never_accepted_under_the_lock(
    active, settings, user, clock
):
    """A right TOTP code's first try reads the secret without a lock. Racing a burst of
    wrong codes that lock the secret after 3, it is accepted before the lock or refused by
    it, never past it; every wrong code is counted under the row lock."""
    from django_mfa_enroll.models import Event

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 3, "FAILURE_LOCK_AFTER": 3}
    key, enrollment = active
    before = Secret.objects.get(pk=enrollment.secret.pk).last_step
    code = clock.code(key)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    n = 12
    for _round in range(4):
        Secret.objects.update(failure_count=0, locked_until=None)
        Event.objects.all().delete()
        challenges = _challenges(n)
        tokens = [code] + [wrong] * (n - 1)
        results = race(lambda i, c=challenges, t=tokens: _redeem(c[i], token=t[i]), n)
        statuses = [r.status_code for r in results]
        assert set(statuses) <= {200, 401, 429}, statuses
        right = statuses[0]
        # A wrong code checked: at most 3 before the lock; after a login, the others'
        # challenges are spent (one epoch per secret), so they are never checked.
        checked = [r.json()["code"] for r in results[1:]].count("invalid_code")
        assert checked <= 3, statuses
        secret = Secret.objects.get(pk=enrollment.secret.pk)
        logins = Event.objects.filter(type="login").count()
        if right == 200:
            assert logins == 1 and secret.last_step > before
            assert checked < 3, statuses  # three would have locked it first
            login_id = Event.objects.get(type="login").pk
            before_it = Event.objects.filter(type__in=["wrong_code", "locked"], pk__lt=login_id)
            assert before_it.count() < 3  # in the order the database took them
            before = secret.last_step
            clock.next_step()
            code = clock.code(key)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        else:
            assert right in (401, 429)  # 401: the step was taken in an earlier round
            assert logins == 0 and secret.last_step == before
            assert checked == secret.failure_count == 3


def test_a_reset_during_totp_logins_leaves_nothing_alive(active, user, clock):
    """TOTP logins (whose first try takes no lock) racing an admin reset."""
    key, _enrollment = active
    code = clock.code(key)
    challenges = _challenges(THREADS - 1)

    def act(i: int):
        if i == 0:
            return services.reset_mfa(user, by="race")
        return _redeem(challenges[i - 1], token=code)

    refused = ("challenge_invalid", "challenge_used", "code_reused")
    logins = _nothing_outlives_the_reset(race(act), refused)
    statuses = [r.status_code for r in logins]
    assert statuses.count(200) <= 1 and statuses.count(401) == len(statuses) - statuses.count(200)


# One lock order in every path (issue 13, item 6): the user's row, then the secret's.

ROUNDS = 25


def _deadlocks(results) -> list:
    from django.db import OperationalError

    return [r for r in results if isinstance(r, OperationalError)]


def test_create_racing_enroll_of_the_same_pending_secret_never_deadlocks(user, clock):
    allowed = (
        services.NewSecret,
        services.Enrollment,
        services.SecretExists,
        services.SecretNotFound,
        services.AlreadyEnrolled,
    )
    for _round in range(ROUNDS):
        Secret.objects.filter(user=user).delete()
        new = services.create_secret(user, issuer="Example")
        code = clock.code(new.key_base32)

        def act(i: int, new=new, code=code):
            if i % 2:
                return services.enroll_secret(user, new.secret.pk, code)
            return services.create_secret(user, issuer="Example")

        results = race(act, n=4)
        assert _deadlocks(results) == [], results
        assert all(isinstance(r, allowed) for r in results), results
        assert Secret.objects.filter(user=user).count() == 1
        clock.next_step()


def test_delete_racing_create_and_cleanup_never_deadlocks(user, clock, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "PENDING_MAX_AGE": 0}
    for _round in range(ROUNDS):
        Secret.objects.filter(user=user).delete()
        new = services.create_secret(user, issuer="Example")
        clock.advance(1)

        def act(i: int, new=new):
            if i == 0:
                return services.delete_secret(user, new.secret.pk, None)
            if i == 1:
                return services.delete_stale_pending()
            return services.create_secret(user, issuer="Example")

        results = race(act, n=4)
        assert _deadlocks(results) == [], results
        assert not [
            r
            for r in results
            if isinstance(r, Exception)
            and not isinstance(r, (services.SecretNotFound, services.SecretExists))
        ], results


def test_cleanup_racing_enroll_never_deletes_the_enrolled_secret(user, clock, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "PENDING_MAX_AGE": 0}
    for _round in range(ROUNDS):
        Secret.objects.filter(user=user).delete()
        new = services.create_secret(user, issuer="Example")
        code = clock.code(new.key_base32)
        clock.advance(1)  # stale now

        def act(i: int, new=new, code=code):
            if i == 0:
                return services.enroll_secret(user, new.secret.pk, code)
            return services.delete_stale_pending()

        results = race(act, n=3)
        assert _deadlocks(results) == [], results
        assert all(isinstance(r, int) for r in results[1:]), results  # cleanups ran through
        if isinstance(results[0], services.Enrollment):
            secret = Secret.objects.get(pk=new.secret.pk)  # still there, whole
            assert secret.status == Secret.Status.ACTIVE
            assert BackupCode.objects.filter(secret=secret).count() == 10
        else:
            assert isinstance(results[0], services.SecretNotFound), results
            assert not Secret.objects.filter(user=user).exists()
        clock.next_step()


def test_over_http_create_racing_enroll_answers_no_5xx(user, clock):
    from rest_framework.test import APIClient

    from .conftest import access_token_for

    token = access_token_for(user)
    statuses = []
    for _round in range(ROUNDS):
        Secret.objects.filter(user=user).delete()
        new = services.create_secret(user, issuer="Example")
        code = clock.code(new.key_base32)

        def act(i: int, new=new, code=code):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
            if i % 2:
                path = f"/users/me/secrets/{new.secret.pk}/enroll"
                return client.put(path, {"token": code}, format="json").status_code
            return client.post("/users/me/secrets", {"type": "mfa"}, format="json").status_code

        statuses += race(act, n=4)
        clock.next_step()
    assert all(isinstance(s, int) and s < 500 for s in statuses), statuses
    assert {200} <= set(statuses) <= {200, 404, 409}


def test_the_same_totp_step_at_login_writes_one_login_event(active, user, clock):
    from django_mfa_enroll.models import Event

    key, enrollment = active
    code = clock.code(key)
    secret = Secret.objects.get(pk=enrollment.secret.pk)
    epochs = [secret.challenge_epoch] * THREADS
    results = race(
        lambda i: _returns(
            lambda: services.verify_second_factor(
                user.pk, secret.pk, code, method="totp", epoch=epochs[i]
            )
        )
    )
    assert sum(isinstance(r, services.SecondFactor) for r in results) == 1, results
    assert Event.objects.filter(user=user, type="login").count() == 1


def _returns(call):
    try:
        return call()
    except services.MFAError as error:
        return error


def test_parallel_creates_never_pass_the_api_key_limit(user, clock, settings):
    from django_mfa_enroll.models import APIKey

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "API_KEY_MAX": 3}
    auth_time = int(clock.now.timestamp())
    results = race(lambda i: services.create_api_key(user, amr=["pwd"], auth_time=auth_time))
    made = [r for r in results if isinstance(r, services.NewAPIKey)]
    refused = [r for r in results if isinstance(r, services.APIKeyLimit)]
    assert (len(made), len(refused)) == (3, THREADS - 3), results
    assert APIKey.objects.filter(user=user).count() == 3


def test_parallel_uses_of_a_key_write_its_use_once(user, clock):
    from django_mfa_enroll.models import APIKey, Event

    new = services.create_api_key(user, amr=["pwd"], auth_time=int(clock.now.timestamp()))
    results = race(lambda i: services.authenticate_api_key(new.key)[0].pk)
    assert results == [user.pk] * THREADS, results
    assert APIKey.objects.get().last_used_at == clock.now
    assert Event.objects.filter(type="apikey_used").count() <= 1


def test_after_one_shared_read_one_first_try_wins_and_the_rest_queue(
    active, settings, user, clock, monkeypatch
):
    """Guesses that all read the secret at once: of their first tries' UPDATEs one wins
    (a right code's or a wrong one's); every other guess is decided under the lock, in the
    failures' queue, as it was before the first try existed."""
    import threading

    from django_mfa_enroll.services import first_try

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 3}
    key, enrollment = active
    code = clock.code(key)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    n = 8
    read_together = threading.Barrier(n)
    real_read, real_success, real_count = (
        first_try.locked_for_login,
        first_try.record_success,
        first_try._count_failure,
    )
    won = []

    def read(*args, **kwargs):
        secret = real_read(*args, **kwargs)
        read_together.wait(timeout=30)
        return secret

    def success(*args, **kwargs):
        result = real_success(*args, **kwargs)
        won.append(("right", result))
        return result

    def count(*args, **kwargs):
        result = real_count(*args, **kwargs)
        won.append(("wrong", result))
        return result

    monkeypatch.setattr(first_try, "locked_for_login", read)
    monkeypatch.setattr(first_try, "record_success", success)
    monkeypatch.setattr(first_try, "_count_failure", count)
    challenges = _challenges(n)
    tokens = [code] + [wrong] * (n - 1)
    results = race(lambda i, c=challenges, t=tokens: _redeem(c[i], token=t[i]).status_code, n)
    assert len(won) == n and sum(result for _kind, result in won) == 1, won
    assert results.count(200) <= 1 and set(results) <= {200, 401, 429}, results


def test_one_code_sets_the_password_once(active, user, clock):
    """Parallel password changes with one TOTP code: one wins, the rest see the code spent."""
    key, _enrollment = active
    code = clock.code(key)
    auth_time = int(clock.now.timestamp())
    results = race(
        lambda i: _returns(
            lambda: services.change_password(
                user, f"new passphrase number {i}", code=code, auth_time=auth_time
            )
        )
    )
    winners = [i for i, result in enumerate(results) if not isinstance(result, Exception)]
    assert len(winners) == 1, results
    # A loser read the old password: its login ended with the change. One that read the
    # new one finds the code spent.
    refused = (services.ReusedCode, services.PasswordChanged)
    assert all(isinstance(r, refused) for i, r in enumerate(results) if i != winners[0])
    user.refresh_from_db()
    assert user.check_password(f"new passphrase number {winners[0]}")


def test_parallel_remembers_never_pass_the_device_limit(active, user, clock, settings):
    from django_mfa_enroll.models import TrustedDevice

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 30, "TRUST_MAX_DEVICES": 3}
    _key, enrollment = active
    results = race(lambda i: services.remember_device(user, enrollment.secret.pk, clock.now))
    assert all(isinstance(r, services.NewDevice) for r in results), results
    assert TrustedDevice.objects.filter(user=user).count() == 3


def test_parallel_first_logins_start_one_grace(user, clock):
    from datetime import timedelta

    from django_mfa_enroll.models import MFAState
    from django_mfa_enroll.services.policy import grace_started

    results = race(lambda i: grace_started(user.pk, clock.now + timedelta(seconds=i)))
    assert len(set(results)) == 1, results
    assert MFAState.objects.get(user=user).setup_grace_from == results[0]
