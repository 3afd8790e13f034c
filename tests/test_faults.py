"""Faults: what breaks half-way leaves the previous state whole, and answers in JSON."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import OperationalError
from rest_framework.test import APIClient

from django_mfa_enroll import backup_codes, checks, services
from django_mfa_enroll.models import BackupCode, Secret
from django_mfa_enroll.services import operators

from .conftest import access_token_for, challenge_of, login, redeem

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def state():
    return (
        sorted(Secret.objects.values_list("id", "status", "last_step", "encrypted_key")),
        sorted(BackupCode.objects.values_list("code_hash", "used_at")),
    )


def failing_after(monkeypatch, target, attribute, calls: int):
    """Make ``target.attribute`` raise on its ``calls``-th call (the work half done)."""
    real = getattr(target, attribute)
    count = {"n": 0}

    def flaky(*args, **kwargs):
        count["n"] += 1
        if count["n"] >= calls:
            raise Boom("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, attribute, flaky)


def test_a_fault_mid_enroll_leaves_the_secret_pending_without_codes(user, clock, monkeypatch):
    new = services.create_secret(user, issuer="Example")
    before = state()
    failing_after(monkeypatch, backup_codes, "make_hash", 5)  # after the status changed
    with pytest.raises(Boom):
        services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert state() == before
    assert Secret.objects.get().status == "pending"


def test_a_fault_mid_regenerate_keeps_the_old_set(user, clock, monkeypatch, enrolled):
    before = state()
    failing_after(monkeypatch, backup_codes, "make_hash", 7)  # after the old set was deleted
    with pytest.raises(Boom):
        services.regenerate_backup_codes(user, enrolled["id"], clock.code(enrolled["key"]))
    assert state() == before
    secret = Secret.objects.get()
    assert services.verify_any_code(secret, enrolled["codes"][0], clock()) is None


def test_a_fault_mid_reset_keeps_mfa_whole(user, clock, monkeypatch, enrolled):
    before = state()
    failing_after(monkeypatch, operators, "blacklist_refresh_tokens", 1)  # secrets deleted
    with pytest.raises(Boom):
        services.reset_mfa(user)
    assert state() == before


def test_a_fault_mid_backup_code_login_leaves_the_code_unspent(user, clock, monkeypatch, enrolled):
    from django.db import connection

    secret = Secret.objects.get()
    table = Secret._meta.db_table

    def fail_the_secrets_update(execute, sql, params, many, context):
        # The statement after the code's UPDATE: the secret's, which spends the challenge.
        if sql.startswith("UPDATE") and table in sql and "challenge_epoch" in sql:
            raise Boom("injected after the code's UPDATE")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_the_secrets_update), pytest.raises(Boom):
        services.verify_second_factor(
            user.pk, secret.pk, enrolled["codes"][0], epoch=secret.challenge_epoch
        )
    assert not BackupCode.objects.filter(used_at__isnull=False).exists()
    factor = services.verify_second_factor(
        user.pk, secret.pk, enrolled["codes"][0], epoch=secret.challenge_epoch
    )
    assert factor.method == "backup_code"


def test_an_injected_fault_answers_500_without_a_traceback(user, clock, monkeypatch, settings):
    settings.DEBUG = False
    failing_after(monkeypatch, services, "create_secret", 1)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    response = client.post("/users/me/secrets", {"type": "mfa"}, format="json")
    assert response.status_code == 500
    assert b"Traceback" not in response.content and b"injected" not in response.content


@pytest.mark.parametrize("error", [OperationalError("server closed the connection")])
def test_the_database_going_away_answers_json_503(api_client, monkeypatch, error, caplog):
    def gone(*args, **kwargs):
        raise error

    monkeypatch.setattr(services, "secrets_of", gone)
    response = api_client.get("/users/me/secrets")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    assert "server closed" not in response.content.decode()


def test_a_wrong_key_answers_503_and_logs_no_secret(user, clock, enrolled, settings, caplog):
    caplog.set_level(logging.ERROR, logger="django_mfa_enroll")
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    client = APIClient()
    response = redeem(client, challenge_of(client), header=False, token=clock.code(enrolled["key"]))
    assert response.status_code == 503
    assert response.json()["code"] == "key_unavailable"
    assert "cannot be decrypted" in caplog.text and enrolled["key"] not in caplog.text
    assert Secret.objects.get().failure_count == 0  # not the user's fault


def test_a_wrong_key_is_a_system_check_error_at_start_up(user, clock, enrolled, settings):
    assert checks.check_secrets_decrypt() == []
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    messages = checks.check_secrets_decrypt()
    assert [m.id for m in messages] == [checks.E007]
    assert "1 of the newest" in messages[0].msg


def test_the_key_check_waits_for_migrations(settings, monkeypatch):
    monkeypatch.setattr(checks, "_tables_ready", lambda: False)
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    assert checks.check_secrets_decrypt() == []


class BrokenCache:
    """A cache backend whose server is gone: every call raises."""

    def __getattr__(self, name):
        def broken(*args, **kwargs):
            raise ConnectionError("cache server gone")

        return broken


def test_with_the_cache_gone_the_per_user_limit_still_holds(
    user, clock, enrolled, monkeypatch, settings, caplog
):
    from rest_framework.throttling import SimpleRateThrottle

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "2/min", "FAILURE_LOCK_AFTER": 3}
    monkeypatch.setattr(SimpleRateThrottle, "cache", BrokenCache())
    client = APIClient()
    statuses = []
    for _ in range(5):  # more than the (dead) IP throttle would allow
        challenge = login(client)
        assert challenge.status_code == 200
        statuses.append(
            client.post(
                "/auth/totp",
                {"challenge": challenge.json()["token"], "token": "000000"},
                format="json",
            ).status_code
        )
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    assert "cache unavailable" in caplog.text
