"""The login contract once MFA is active: challenge, second factor, refresh, claims, limits."""

from __future__ import annotations

import base64
import logging

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from django_mfa_enroll import signals
from django_mfa_enroll.authentication import ChallengeToken
from django_mfa_enroll.models import BackupCode, Secret

from .conftest import PASSWORD, Flow, access_token_for, challenge_of, login, make_user, redeem

pytestmark = pytest.mark.django_db


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


# Step one: the password answers a challenge, never a token.


def test_password_login_with_mfa_answers_a_challenge_and_no_token(anon_client, enrolled):
    response = login(anon_client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"type", "token", "methods", "expires_in"}
    assert body["type"] == "CHALLENGE"
    assert body["methods"] == ["totp", "backup_code"]
    assert body["expires_in"] == 300
    assert "refresh" not in response.content.decode()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["token_type"] == "mfa_challenge"


def test_basic_get_with_mfa_answers_a_challenge(anon_client, enrolled):
    anon_client.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    )
    response = anon_client.get("/auth/password")
    assert response.json()["type"] == "CHALLENGE"


def test_a_pending_secret_does_not_ask_for_a_second_factor(anon_client, flow):
    flow.create()
    assert login(anon_client).json()["type"] == "ACCESS"


def test_the_challenge_is_not_an_access_token(anon_client, enrolled):
    challenge = challenge_of(anon_client)
    for path in ("/users/me/secrets", "/site/whoami/", "/site/sensitive/"):
        response = anon_client.get(path, HTTP_AUTHORIZATION=f"Bearer {challenge}")
        assert response.status_code == 401, path


def test_the_challenge_is_not_a_refresh_token(anon_client, enrolled):
    challenge = challenge_of(anon_client)
    response = anon_client.post("/auth/refresh", {"refresh": challenge}, format="json")
    assert response.status_code == 401


# Step two: the second factor.


@pytest.mark.parametrize("in_header", [True, False])
def test_totp_redeems_the_challenge_for_tokens_with_amr(
    anon_client, enrolled, clock, user, in_header
):
    challenge = challenge_of(anon_client)
    response = redeem(anon_client, challenge, header=in_header, token=clock.code(enrolled["key"]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "ACCESS" and body["user_id"] == str(user.pk)
    access = AccessToken(body["token"])
    assert access["amr"] == ["pwd", "otp", "mfa"]
    assert access["auth_time"] == int(clock.now.timestamp())
    assert RefreshToken(body["refresh"])["amr"] == ["pwd", "otp", "mfa"]
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"jwt {body['token']}")
    assert authed.get("/users/me/secrets").status_code == 200


def test_totp_as_a_json_integer(anon_client, enrolled, clock):
    challenge = challenge_of(anon_client)
    response = redeem(anon_client, challenge, token=int(clock.code(enrolled["key"])))
    assert response.status_code == 200


def test_backup_code_redeems_with_amr_pwd_mfa_once(anon_client, enrolled, user):
    code = enrolled["codes"][2]
    response = redeem(anon_client, challenge_of(anon_client), backup_code=code.upper())
    assert response.status_code == 200, response.content
    assert AccessToken(response.json()["token"])["amr"] == ["pwd", "mfa"]
    again = redeem(anon_client, challenge_of(anon_client), backup_code=code)
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_code"
    listing = APIClient()
    listing.credentials(HTTP_AUTHORIZATION=f"jwt {response.json()['token']}")
    assert listing.get("/users/me/secrets").json()[0]["backup_codes_remaining"] == 9


def test_wrong_code_is_401_and_counts(anon_client, enrolled, clock, user):
    response = redeem(
        anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"]))
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_code",
        "status": 401,
        "message": "The code is not valid.",
    }
    assert Secret.objects.get(user=user).failure_count == 1


def test_the_code_that_enrolled_cannot_log_in(anon_client, flow, clock):
    created = flow.create()
    code = clock.code(created["secret"]["secret"])
    flow.client.put(f"/users/me/secrets/{created['id']}/enroll", {"token": code}, format="json")
    response = redeem(anon_client, challenge_of(anon_client), token=code)
    assert response.status_code == 401
    assert response.json()["code"] == "code_reused"


def test_a_totp_code_logs_in_once(anon_client, enrolled, clock):
    code = clock.code(enrolled["key"])
    assert redeem(anon_client, challenge_of(anon_client), token=code).status_code == 200
    second = redeem(anon_client, challenge_of(anon_client), token=code)
    assert second.status_code == 401 and second.json()["code"] == "code_reused"


def test_drift_of_one_step_is_accepted_two_is_not(anon_client, enrolled, clock):
    clock.advance(300)
    assert (
        redeem(
            anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"], -2)
        ).status_code
        == 401
    )
    assert (
        redeem(
            anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"], -1)
        ).status_code
        == 200
    )
    assert (
        redeem(
            anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"], +1)
        ).status_code
        == 200
    )


def test_a_challenge_is_single_use(anon_client, enrolled, clock):
    challenge = challenge_of(anon_client)
    assert redeem(anon_client, challenge, token=clock.code(enrolled["key"])).status_code == 200
    clock.next_step()
    again = redeem(anon_client, challenge, token=clock.code(enrolled["key"]))
    assert again.status_code == 401
    assert again.json()["code"] == "challenge_used"
    again = redeem(anon_client, challenge, backup_code=enrolled["codes"][0])
    assert again.json()["code"] == "challenge_used"
    assert BackupCode.objects.filter(used_at__isnull=False).count() == 0  # the code was kept


def test_a_wrong_code_does_not_spend_the_challenge(anon_client, enrolled, clock):
    challenge = challenge_of(anon_client)
    assert (
        redeem(anon_client, challenge, token=wrong(clock.code(enrolled["key"]))).status_code == 401
    )
    assert redeem(anon_client, challenge, token=clock.code(enrolled["key"])).status_code == 200


def test_an_expired_challenge_is_refused(anon_client, enrolled, clock, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "CHALLENGE_LIFETIME": 1}
    token = ChallengeToken.for_secret(Secret.objects.select_related("user").get())
    token.set_exp(lifetime=__import__("datetime").timedelta(seconds=-1))
    response = redeem(anon_client, str(token), token=clock.code(enrolled["key"]))
    assert response.status_code == 401
    assert response.json()["code"] == "challenge_invalid"


def test_a_challenge_of_one_user_cannot_be_redeemed_for_another(anon_client, enrolled, clock):
    other = make_user("bob")
    other_flow = Flow(APIClient(), other, clock)
    other_flow.client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(other)}")
    bob = other_flow.enroll()
    alice_challenge = challenge_of(anon_client)
    claims = jwt.decode(alice_challenge, options={"verify_signature": False})
    # Bob's code against Alice's challenge: Alice's secret checks it, and refuses.
    response = redeem(anon_client, alice_challenge, token=clock.code(bob["key"]))
    assert response.status_code == 401
    # A forged challenge naming Bob's secret for Alice's user id is refused.
    forged = ChallengeToken()
    forged["user_id"], forged["sid"], forged["epoch"] = claims["user_id"], bob["id"], 0
    response = redeem(anon_client, str(forged), token=clock.code(bob["key"], 1))
    assert response.status_code == 401
    assert response.json()["code"] == "challenge_invalid"


@pytest.mark.parametrize(
    "challenge",
    [
        "not-a-jwt",
        jwt.encode(
            {"token_type": "mfa_challenge", "user_id": "1", "sid": "x", "epoch": 0},
            key="",
            algorithm="none",
        ),
        jwt.encode(
            {
                "token_type": "mfa_challenge",
                "user_id": "1",
                "sid": "x",
                "epoch": 0,
                "exp": 9999999999,
            },
            key="wrong-key-wrong-key-wrong-key-32b",
            algorithm="HS256",
        ),
    ],
)
def test_forged_or_unsigned_challenges_are_refused(anon_client, enrolled, clock, challenge):
    response = redeem(anon_client, challenge, token=clock.code(enrolled["key"]))
    assert response.status_code == 401
    assert response.json()["code"] == "challenge_invalid"


def test_an_access_token_is_not_a_challenge(anon_client, enrolled, clock, user):
    response = redeem(anon_client, access_token_for(user), token=clock.code(enrolled["key"]))
    assert response.status_code == 401


def test_a_challenge_dies_with_its_secret(anon_client, enrolled, clock, api_client):
    challenge = challenge_of(anon_client)
    api_client.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": enrolled["codes"][0]}, format="json"
    )
    response = redeem(anon_client, challenge, token=clock.code(enrolled["key"]))
    assert response.status_code == 401 and response.json()["code"] == "challenge_invalid"


def test_a_challenge_of_a_deactivated_user_is_refused(anon_client, enrolled, clock, user):
    challenge = challenge_of(anon_client)
    user.is_active = False
    user.save()
    assert redeem(anon_client, challenge, token=clock.code(enrolled["key"])).status_code == 401


@pytest.mark.parametrize(
    "body,headers,status,field",
    [
        ({"token": "123456"}, {}, 401, None),  # no challenge anywhere
        ({}, "challenge", 400, "non_field_errors"),
        (
            {"token": "123456", "backup_code": "aaaa-aaaa-aaaa"},
            "challenge",
            400,
            "non_field_errors",
        ),
        ({"token": "12345"}, "challenge", 400, "token"),
        ({"token": None}, "challenge", 400, "token"),
        ({"backup_code": 12345}, "challenge", 400, "backup_code"),
        ({"backup_code": "x" * 65}, "challenge", 400, "backup_code"),
        ({"token": "123456", "challenge": ["x"]}, {}, 400, "challenge"),
    ],
)
def test_bad_second_factor_requests(anon_client, enrolled, user, body, headers, status, field):
    kwargs = {}
    if headers == "challenge":
        kwargs["HTTP_AUTHORIZATION"] = f"jwt {challenge_of(anon_client)}"
    before = list(Secret.objects.values_list("failure_count", "last_step", "challenge_epoch"))
    response = anon_client.post("/auth/totp", body, format="json", **kwargs)
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["errors"]
    assert (
        list(Secret.objects.values_list("failure_count", "last_step", "challenge_epoch")) == before
    )


def test_malformed_backup_code_is_a_wrong_code(anon_client, enrolled, user):
    response = redeem(anon_client, challenge_of(anon_client), backup_code="not-a-backup-code")
    assert response.status_code == 401
    assert Secret.objects.get(user=user).failure_count == 1


# Refresh keeps the claims.


def test_refresh_keeps_amr(anon_client, enrolled, clock):
    tokens = redeem(
        anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"])
    ).json()
    response = anon_client.post("/auth/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "ACCESS"
    assert AccessToken(body["token"])["amr"] == ["pwd", "otp", "mfa"]


def test_refresh_with_rotation_returns_a_new_refresh_with_amr(
    anon_client, enrolled, clock, settings
):
    settings.SIMPLE_JWT = {"ROTATE_REFRESH_TOKENS": True}
    tokens = redeem(anon_client, challenge_of(anon_client), backup_code=enrolled["codes"][0]).json()
    body = anon_client.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    assert RefreshToken(body["refresh"])["amr"] == ["pwd", "mfa"]


def test_a_password_only_refresh_token_dies_when_mfa_is_enabled(anon_client, flow, clock):
    tokens = login(anon_client).json()
    assert tokens["type"] == "ACCESS"
    flow.enroll()
    response = anon_client.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_required"


@pytest.mark.parametrize("body", [{}, {"refresh": "garbage"}, {"refresh": 5}])
def test_bad_refresh_requests(anon_client, body):
    response = anon_client.post("/auth/refresh", body, format="json")
    assert response.status_code in (400, 401)
    assert set(response.json()) >= {"code", "status", "message"}


def test_refresh_of_a_deleted_user_is_401(anon_client, db):
    ghost = make_user("ghost")
    refresh = str(RefreshToken.for_user(ghost))
    ghost.delete()
    response = anon_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401


# Brute force: per user, across challenges and IPs; a lock; reset on success.


def test_failures_count_per_user_across_challenges_and_ips(enrolled, clock, user, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 100,
        "FAILURE_LOCK_AFTER": 4,
        "FAILURE_LOCK_SECONDS": 600,
    }
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        client = APIClient(REMOTE_ADDR=ip)
        response = redeem(client, challenge_of(client), token=wrong(clock.code(enrolled["key"])))
        assert response.status_code == 401
    client = APIClient(REMOTE_ADDR="10.0.0.5")
    locked = redeem(client, challenge_of(client), token=clock.code(enrolled["key"]))
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_failures"
    assert locked["Retry-After"] == "600"
    # Backup codes are locked out too.
    assert redeem(client, challenge_of(client), backup_code=enrolled["codes"][0]).status_code == 429
    clock.advance(600)
    assert (
        redeem(client, challenge_of(client), token=clock.code(enrolled["key"])).status_code == 200
    )
    assert Secret.objects.get(user=user).failure_count == 0


def test_growing_delay_answers_429_with_retry_after(anon_client, enrolled, clock):
    for _ in range(3):
        redeem(anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"])))
    response = redeem(anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"]))
    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    clock.advance(2)
    response = redeem(
        anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"]))
    )
    assert response.status_code == 401
    assert (
        redeem(anon_client, challenge_of(anon_client), backup_code=enrolled["codes"][0]).headers[
            "Retry-After"
        ]
        == "4"
    )


def test_the_default_lock_comes_well_before_100_failures():
    from django_mfa_enroll.conf import DEFAULTS

    assert DEFAULTS["FAILURE_LOCK_AFTER"] < 100


def test_ip_throttle_on_auth_endpoints(anon_client, settings, user):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "3/min"}
    answers = [login(anon_client, password="wrong").status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    throttled = login(anon_client)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert anon_client.post("/auth/totp", {}, format="json").status_code == 429
    assert login(APIClient(REMOTE_ADDR="10.9.9.9")).status_code == 200


# Signals and logs.


def test_signals_and_logs_of_a_login(anon_client, enrolled, clock, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    names = [
        "login_succeeded",
        "login_failed",
        "backup_code_used",
        "code_replayed",
        "verification_failed",
    ]
    receivers = {}
    for name in names:
        receivers[name] = lambda sender, name=name, **kw: seen.append(
            (name, kw.get("method") or kw.get("reason"))
        )
        getattr(signals, name).connect(receivers[name], weak=False)
    try:
        code = clock.code(enrolled["key"])
        redeem(anon_client, challenge_of(anon_client), token=wrong(code))
        redeem(anon_client, challenge_of(anon_client), token=code)
        redeem(anon_client, challenge_of(anon_client), token=code)
        redeem(anon_client, challenge_of(anon_client), backup_code=enrolled["codes"][0])
    finally:
        for name in names:
            getattr(signals, name).disconnect(receivers[name])
    assert seen == [
        ("verification_failed", "invalid_code"),
        ("login_failed", "invalid_code"),
        ("login_succeeded", "totp"),
        ("verification_failed", "code_reused"),
        ("code_replayed", None),
        ("login_failed", "code_reused"),
        ("login_succeeded", "backup_code"),
        ("backup_code_used", None),
    ]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "second factor accepted" in text
    for needle in [enrolled["key"], code, wrong(code), *enrolled["codes"]]:
        assert needle not in text


def test_the_lock_sends_a_signal(anon_client, enrolled, clock, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 100,
        "FAILURE_LOCK_AFTER": 2,
    }
    seen = []
    receiver = lambda sender, **kw: seen.append(kw["retry_after"])  # noqa: E731
    signals.secret_locked.connect(receiver, weak=False)
    try:
        for _ in range(2):
            redeem(anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"])))
    finally:
        signals.secret_locked.disconnect(receiver)
    assert seen == [django_settings.MFA_ENROLL.get("FAILURE_LOCK_SECONDS", 86400)]


def data_queries(captured) -> list[str]:
    """The statements on the app's own tables. Left out: transaction control (which SQLite
    logs and PostgreSQL does not) and simplejwt's outstanding-token bookkeeping, which the
    site pays for by installing token_blacklist, with or without MFA."""
    return [q["sql"] for q in captured if "django_mfa_enroll_" in q["sql"]]


@pytest.mark.django_db(transaction=True)  # as in production: no test transaction around it
def test_totp_second_factor_costs_three_queries(anon_client, enrolled, clock):
    challenge = challenge_of(anon_client)
    with CaptureQueriesContext(connection) as captured:
        assert redeem(anon_client, challenge, token=clock.code(enrolled["key"])).status_code == 200
    queries = data_queries(captured.captured_queries)
    assert queries[0].startswith("SELECT")  # the secret and its user, FOR UPDATE
    if connection.vendor == "postgresql":
        # The conditional UPDATE and the login's event, in one statement: the event is
        # written exactly when the UPDATE wins.
        assert len(queries) == 2, queries
        assert queries[1].startswith("WITH won AS (UPDATE") and "INSERT INTO" in queries[1]
    else:
        assert len(queries) == 3, queries
        assert queries[1].startswith("UPDATE")
        assert queries[2].startswith("INSERT") and "django_mfa_enroll_event" in queries[2]


@pytest.mark.django_db(transaction=True)
def test_backup_code_second_factor_queries(anon_client, enrolled):
    challenge = challenge_of(anon_client)
    with CaptureQueriesContext(connection) as captured:
        assert redeem(anon_client, challenge, backup_code=enrolled["codes"][0]).status_code == 200
    queries = data_queries(captured.captured_queries)
    # SELECT secret+user FOR UPDATE, SELECT the code's row, UPDATE the code, UPDATE the
    # secret, the codes left (for the event and its mail), the event
    assert len(queries) == 6, queries


# Found in review.


def test_forged_x_forwarded_for_does_not_dodge_the_ip_throttle(anon_client, settings, user):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "3/min"}
    answers = [
        anon_client.post(
            "/auth/password",
            {"username": "alice", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        ).status_code
        for i in range(5)
    ]
    assert answers == [401, 401, 401, 429, 429]


def test_num_proxies_makes_the_throttle_read_x_forwarded_for(anon_client, settings, user):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "1/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for i in range(3):
        response = anon_client.post(
            "/auth/password",
            {"username": "alice", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
        assert response.status_code == 401


@pytest.mark.parametrize(
    "header", ["Basic éééé", "Basic " + base64.b64encode(b"al\x00ice:pw").decode()]
)
def test_odd_basic_credentials_are_400(anon_client, header):
    anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = anon_client.get("/auth/password")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_every_401_names_an_authentication_scheme(anon_client, enrolled, clock):
    response = redeem(
        anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"]))
    )
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    response = redeem(anon_client, "garbage", token="123456")
    assert response.status_code == 401 and "WWW-Authenticate" in response


@pytest.mark.django_db(transaction=True)
def test_failures_count_under_atomic_requests(
    anon_client, enrolled, clock, user, monkeypatch, api_client
):
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    for _ in range(2):
        response = redeem(
            anon_client, challenge_of(anon_client), token=wrong(clock.code(enrolled["key"]))
        )
        assert response.status_code == 401
    secret_id = enrolled["id"]
    response = api_client.post(
        f"/users/me/secrets/{secret_id}/codes", {"token": "000000"}, format="json"
    )
    assert response.status_code in (400, 429)
    assert Secret.objects.get(user=user).failure_count == 3


def test_request_serializers_bind_copies_and_leave_the_declared_fields_alone():
    from django_mfa_enroll.serializers import SecondFactorSerializer

    one = SecondFactorSerializer(data={"token": "123456"})
    two = SecondFactorSerializer(data={"token": "x"})
    assert one.is_valid() and not two.is_valid()
    assert one.fields["token"] is not two.fields["token"]
    assert one.fields["token"].parent is one and two.fields["token"].parent is two
    declared = SecondFactorSerializer._declared_fields["token"]
    assert declared.parent is None and declared.field_name is None
    assert two.errors == {"token": ["Must contain only digits."]}


@pytest.mark.parametrize("blank", ["\u0085", " ", "\t\n"])
def test_a_refresh_of_white_space_is_a_token_that_does_not_verify(anon_client, blank):
    """What Schemathesis sent: a non-empty string, so valid by the schema; it must not be
    trimmed into an empty field (400) but refused as the token it is not (401)."""
    response = anon_client.post("/auth/refresh", {"refresh": blank}, format="json")
    assert response.status_code == 401, response.content
