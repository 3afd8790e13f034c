"""Query budgets: the SQL each endpoint may spend on the app's tables, and its hash evaluations.

Counted as production sees them, with no test transaction around the request
(``transaction=True``), and only statements on the app's own tables ("django_mfa_enroll_" in
the SQL), as tests/test_login_mfa.py counts them: the user lookup, sessions and simplejwt's
outstanding tokens are the site's costs, with or without MFA. A budget is a ceiling: a
request over it fails CI; one under it is welcome (then lower the budget). Timings are
measured by ``benchmarks/run.py`` and never asserted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth import hashers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll.conf import mfa_settings

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Spent:
    """What one request cost: its statements on the app's tables and its PBKDF2 evaluations."""

    statements: list[str] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)

    def within(self, queries: int, hashes: int = 0) -> None:
        assert len(self.statements) <= queries, (
            f"{len(self.statements)} statements on the app's tables, budget {queries}:\n"
            + "\n".join(self.statements)
        )
        assert len(self.hashes) == hashes, f"{len(self.hashes)} hash evaluations, not {hashes}"


@pytest.fixture
def spend(monkeypatch):
    """``spend(call)`` runs one request and returns its response and what it spent."""
    hashed: list[int] = []
    real = hashers.pbkdf2

    def counting(password, salt, iterations, *args, **kwargs):
        hashed.append(iterations)
        return real(password, salt, iterations, *args, **kwargs)

    monkeypatch.setattr(hashers, "pbkdf2", counting)

    def run(call):
        hashed.clear()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        statements = [
            q["sql"] for q in captured.captured_queries if "django_mfa_enroll_" in q["sql"]
        ]
        return response, Spent(statements, list(hashed))

    return run


def redeemer(client):
    """Log in with the password now; the returned call redeems that challenge with ``body``."""
    challenge = login(client).json()["token"]
    return lambda body: client.post(
        "/auth/totp", body, format="json", HTTP_AUTHORIZATION=f"jwt {challenge}"
    )


def other_code(code: str) -> str:
    """A well-formed backup code whose secret part differs from ``code``'s."""
    plain = code.replace("-", "")
    return plain[:-1] + ("2" if plain[-1] != "2" else "3")


# The secrets endpoints. Each starts with the access token's MFA state: one indexed read of
# the user's active methods (API.md, first section), counted as STATE.

STATE = 1
# Each change and each use of a factor writes its event in the same transaction (one
# INSERT), counted as EVENT.
EVENT = 1


def test_list_secrets(spend, api_client, enrolled):
    response, spent = spend(lambda: api_client.get("/users/me/secrets"))
    assert response.status_code == 200
    # secrets with backup codes remaining (one annotated SELECT), the API keys (one SELECT)
    spent.within(queries=STATE + 2)


def test_retrieve_a_secret(spend, api_client, enrolled):
    response, spent = spend(lambda: api_client.get(f"/users/me/secrets/{enrolled['id']}"))
    assert response.status_code == 200
    spent.within(queries=STATE + 1)


def test_create_a_secret(spend, api_client):
    response, spent = spend(
        lambda: api_client.post("/users/me/secrets", {"type": "mfa"}, format="json")
    )
    assert response.status_code == 200
    spent.within(queries=STATE + 2)  # any existing secret; INSERT (the user row is the lock)


def test_qrcode_of_a_pending_secret(spend, api_client, flow):
    created = flow.create()
    response, spent = spend(lambda: api_client.get(f"/users/me/secrets/{created['id']}/qrcode"))
    assert response.status_code == 200
    spent.within(queries=STATE + 1)


def test_enroll(spend, api_client, flow, clock):
    created = flow.create()
    code = clock.code(created["secret"]["secret"])
    response, spent = spend(
        lambda: api_client.put(
            f"/users/me/secrets/{created['id']}/enroll", {"token": code}, format="json"
        )
    )
    assert response.status_code == 200
    # 404 check, SELECT FOR UPDATE, conditional UPDATE of the step, UPDATE status, the MFA
    # change's upsert, DELETE old codes, one INSERT of the new set; one hash per new code,
    # none per check.
    spent.within(queries=STATE + 7 + EVENT, hashes=mfa_settings.BACKUP_CODE_COUNT)


def test_regenerate_backup_codes(spend, api_client, enrolled, clock):
    code = clock.code(enrolled["key"])
    response, spent = spend(
        lambda: api_client.post(
            f"/users/me/secrets/{enrolled['id']}/codes", {"token": code}, format="json"
        )
    )
    assert response.status_code == 200
    # 404 check, SELECT FOR UPDATE, conditional UPDATE, DELETE the old set, INSERT the new,
    # DELETE the trusted devices (a new set revokes them)
    spent.within(queries=STATE + 6 + EVENT, hashes=mfa_settings.BACKUP_CODE_COUNT)


def test_delete_an_active_secret_with_a_totp_code(spend, api_client, enrolled, clock):
    code = clock.code(enrolled["key"])
    response, spent = spend(
        lambda: api_client.delete(
            f"/users/me/secrets/{enrolled['id']}", {"token": code}, format="json"
        )
    )
    assert response.status_code == 204
    # 404 check, SELECT FOR UPDATE, conditional UPDATE, the MFA change's upsert, DELETE the
    # codes, the trusted devices (the secret's cascade), the secret
    spent.within(queries=STATE + 7 + EVENT)


def test_delete_an_active_secret_with_a_backup_code(spend, api_client, enrolled):
    code = enrolled["codes"][0]
    response, spent = spend(
        lambda: api_client.delete(
            f"/users/me/secrets/{enrolled['id']}", HTTP_X_MFA_TOKEN=code, format="json"
        )
    )
    assert response.status_code == 204
    # 404 check, SELECT FOR UPDATE, the code's row, spend it, UPDATE the secret, the MFA
    # change's upsert, three DELETEs (codes, trusted devices, the secret)
    spent.within(queries=STATE + 9 + EVENT, hashes=1)


# Login.


def test_password_login_without_mfa(spend, anon_client, user):
    response, spent = spend(lambda: login(anon_client))
    assert response.json()["type"] == "ACCESS"
    spent.within(queries=1)  # is there an active secret?


def test_password_login_with_mfa(spend, anon_client, enrolled):
    response, spent = spend(lambda: login(anon_client))
    assert response.json()["type"] == "CHALLENGE"
    spent.within(queries=1)


def test_password_login_of_a_user_who_must_set_mfa_up(spend, anon_client, user, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "REQUIRED": "all"}
    response, spent = spend(lambda: login(anon_client))
    assert response.json()["type"] == "SETUP"
    spent.within(queries=1)  # is there an active secret? (the policy reads no table)


def test_password_login_with_a_trusted_device(spend, anon_client, enrolled, clock, settings):
    from django_mfa_enroll import services
    from django_mfa_enroll.models import Secret

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 30}
    secret = Secret.objects.select_related("user").get()
    device = services.remember_device(secret.user, secret.pk, clock.now)
    response, spent = spend(
        lambda: anon_client.post(
            "/auth/password",
            {"username": "alice", "password": PASSWORD, "device_token": device.token},
            format="json",
        )
    )
    assert response.json()["type"] == "ACCESS"
    # The active secret, the device's row (by its prefix, its secret active), its use
    # (at most once a minute), the login's event
    spent.within(queries=4)


def test_totp_second_factor(spend, anon_client, enrolled, clock):
    redeem, code = redeemer(anon_client), clock.code(enrolled["key"])
    response, spent = spend(lambda: redeem({"token": code}))
    assert response.status_code == 200
    # One SELECT (no lock, no transaction), one conditional UPDATE (the target of issue 6),
    # the login's event (on PostgreSQL in the UPDATE's statement)
    spent.within(queries=2 + EVENT)


def test_wrong_totp_code(spend, anon_client, enrolled, clock):
    wrong = f"{(int(clock.code(enrolled['key'])) + 1) % 1_000_000:06d}"
    redeem = redeemer(anon_client)
    response, spent = spend(lambda: redeem({"token": wrong}))
    assert response.status_code == 401
    # SELECT (no lock), the conditional UPDATE of the failure count, its event
    spent.within(queries=2 + EVENT)


def test_backup_code_second_factor(spend, anon_client, enrolled):
    redeem = redeemer(anon_client)
    response, spent = spend(lambda: redeem({"backup_code": enrolled["codes"][3]}))
    assert response.status_code == 200
    # SELECT FOR UPDATE, the code's row by its selector, UPDATE the code, UPDATE the secret;
    # one hash: the selector names the row to check (SECURITY.md).
    spent.within(queries=4 + 1 + EVENT, hashes=1)  # and the codes left, for the event


@pytest.mark.parametrize("selector_matches", [True, False], ids=["row", "no-row"])
def test_wrong_backup_code_against_a_full_set(spend, anon_client, enrolled, selector_matches):
    if selector_matches:
        typed = other_code(enrolled["codes"][3])
    else:
        taken = {code[0] for code in enrolled["codes"]}
        free = next(ch for ch in "23456789abcdefghjkmnpqrstuvwxyz" if ch not in taken)
        typed = free + enrolled["codes"][3].replace("-", "")[1:]
    redeem = redeemer(anon_client)
    response, spent = spend(lambda: redeem({"backup_code": typed}))
    assert response.status_code == 401
    # Exactly one hash, whether or not a row matched: a miss burns one, so it costs the same.
    spent.within(queries=3 + EVENT, hashes=1)


def test_the_last_unused_backup_code(spend, anon_client, enrolled):
    for code in enrolled["codes"][:-1]:
        assert redeemer(anon_client)({"backup_code": code}).status_code == 200
    redeem = redeemer(anon_client)
    response, spent = spend(lambda: redeem({"backup_code": enrolled["codes"][-1]}))
    assert response.status_code == 200
    spent.within(queries=4 + 1 + EVENT, hashes=1)


def test_refresh(spend, anon_client, user):
    refresh = RefreshToken.for_user(user)
    refresh["amr"] = ["pwd"]
    response, spent = spend(
        lambda: anon_client.post("/auth/refresh", {"refresh": str(refresh)}, format="json")
    )
    assert response.status_code == 200
    spent.within(queries=1)  # a password-only token: has the user enrolled since?
