"""The password as a secret type (API.md, "The seed's other secret types"): set through the
site's validators, with a recent login and, with MFA on, a current code; every session,
token and login challenge of the user ends, the asking one included."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from django_mfa_enroll import services, signals
from django_mfa_enroll.models import Event, Secret

from .conftest import PASSWORD, access_token_for, challenge_of, login, redeem

pytestmark = pytest.mark.django_db

NEW = "a new and long passphrase 42"
VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


@pytest.fixture(autouse=True)
def _validators(settings):
    settings.AUTH_PASSWORD_VALIDATORS = VALIDATORS


def set_password(client, password=NEW, **body):
    return client.post(
        "/users/me/secrets", {"type": "password", "secret": password, **body}, format="json"
    )


def logged_in(username="alice", password=PASSWORD) -> tuple[APIClient, dict]:
    """A client with a real password login's tokens (no MFA): the client and the answer."""
    client = APIClient()
    answer = login(client, username, password).json()
    assert answer["type"] == "ACCESS", answer
    client.credentials(HTTP_AUTHORIZATION=f"jwt {answer['token']}")
    return client, answer


def logged_in_with_code(user, clock, key) -> tuple[APIClient, dict]:
    """A client with a real TOTP login's tokens."""
    client = APIClient()
    answer = redeem(client, challenge_of(client), token=clock.code(key)).json()
    assert answer["type"] == "ACCESS", answer
    clock.next_step()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {answer['token']}")
    return client, answer


def refresh(token: str):
    return APIClient().post("/auth/refresh", {"refresh": token}, format="json")


def password_of(user):
    return get_user_model().objects.get(pk=user.pk)


# Without MFA.


def test_the_password_is_set_and_never_answered(user, clock):
    client, _answer = logged_in()
    response = set_password(client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "password" and body["status"] == "active"
    assert body["updated_at"] and NEW not in response.content.decode()
    assert set(body) == {"type", "status", "updated_at"}
    assert password_of(user).check_password(NEW)
    assert not password_of(user).check_password(PASSWORD)


def test_no_row_is_listed_for_the_password(user, clock):
    client, _answer = logged_in()
    second, _ = logged_in()
    set_password(client)
    _client, _ = logged_in(password=NEW)
    assert _client.get("/users/me/secrets").json() == []


def test_every_token_of_the_user_ends_this_one_included(user, clock):
    client, answer = logged_in()
    other_client, other = logged_in()
    assert set_password(client).status_code == 200
    for each in (client, other_client):
        response = each.get("/users/me/secrets")
        assert response.status_code == 401
        assert response.json()["code"] == "password_changed"
        assert "log in again" in response.json()["message"]
    for token in (answer["refresh"], other["refresh"]):
        assert refresh(token).status_code == 401
    # The new password logs in, and its tokens work.
    fresh, _ = logged_in(password=NEW)
    assert fresh.get("/users/me/secrets").status_code == 200
    assert login(APIClient()).status_code == 401  # the old password no longer does


def test_the_refresh_tokens_are_blacklisted(user, clock):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    client, _answer = logged_in()
    logged_in()
    set_password(client)
    outstanding = OutstandingToken.objects.filter(user=user)
    assert outstanding.count() == 2
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == 2


def test_simplejwt_own_tokens_end_too(user, clock):
    stock = (
        APIClient()
        .post("/api/token/", {"username": "alice", "password": PASSWORD}, format="json")
        .json()
    )
    client, _answer = logged_in()
    set_password(client)
    whoami = APIClient()
    whoami.credentials(HTTP_AUTHORIZATION=f"Bearer {stock['access']}")
    assert whoami.get("/site/whoami/").status_code == 401
    assert (
        APIClient().post("/api/token/refresh/", {"refresh": stock["refresh"]}, format="json")
    ).status_code == 401
    verify = APIClient().post("/api/token/verify/", {"token": stock["access"]}, format="json")
    assert verify.status_code == 401


def test_sessions_end_too(user, clock):
    browser = Client()
    assert browser.login(username="alice", password=PASSWORD)
    assert browser.get("/site/members/").status_code == 200
    client, _answer = logged_in()
    set_password(client)
    assert browser.get("/site/members/").status_code == 302  # to the login page


def test_a_session_that_sets_the_password_ends_too(user, clock):
    browser = APIClient()
    assert browser.login(username="alice", password=PASSWORD)
    response = browser.post("/users/me/secrets", {"type": "password", "secret": NEW}, format="json")
    assert response.status_code == 200, response.content
    assert browser.get("/site/members/").status_code == 302


def test_a_password_set_at_another_door_ends_the_tokens_too(user, clock):
    """The stamp follows the password, whichever door changes it (the admin, a command)."""
    client, answer = logged_in()
    changed = password_of(user)
    changed.set_password(NEW)
    changed.save()
    assert client.get("/users/me/secrets").json()["code"] == "password_changed"
    assert refresh(answer["refresh"]).status_code == 401


def test_the_change_is_in_the_history_with_a_signal_and_a_mail(
    user, clock, django_capture_on_commit_callbacks
):
    received = []
    signals.password_changed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        client, _answer = logged_in()
        with django_capture_on_commit_callbacks(execute=True):
            set_password(client)
    finally:
        signals.password_changed.disconnect(dispatch_uid="t")
    event = Event.objects.filter(user=user).latest("at")
    assert event.type == "password_changed" and event.detail == {}
    assert [kw["user"].pk for kw in received] == [user.pk]
    assert len(mail.outbox) == 1 and "password" in mail.outbox[0].body.lower()
    assert NEW not in mail.outbox[0].body


def test_the_password_is_never_logged(user, clock, caplog):
    client, _answer = logged_in()
    with caplog.at_level(logging.DEBUG):
        set_password(client)
        set_password(client, password="short")
    assert "Password changed" in caplog.text and str(user.pk) in caplog.text
    assert NEW not in caplog.text and "short" not in caplog.text


# Refused, and nothing changed.


def test_a_weak_password_is_refused_naming_each_failure(user, clock):
    client, _answer = logged_in()
    response = set_password(client, password="12345678")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "password_invalid"
    problems = body["errors"]["secret"]
    assert any("too short" in problem for problem in problems)
    assert any("too common" in problem for problem in problems)
    assert any("entirely numeric" in problem for problem in problems)
    assert body["message"].startswith("Choose another password")
    assert password_of(user).check_password(PASSWORD)
    assert client.get("/users/me/secrets").status_code == 200  # the login still holds
    assert not Event.objects.filter(type="password_changed").exists()


def test_a_password_like_the_username_is_refused(user, clock):
    client, _answer = logged_in()
    response = set_password(client, password="alice@example.org")
    assert response.status_code == 400
    assert any("too similar" in p for p in response.json()["errors"]["secret"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "password"}, "secret"),
        ({"type": "password", "secret": 12345678901234}, "secret"),
        ({"type": "password", "secret": "x" * 4097}, "secret"),
        ({"type": "password", "secret": ""}, "secret"),
        ({"type": "password", "secret": NEW, "token": ["123456"]}, "token"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(user, clock, body, field):
    client, _answer = logged_in()
    response = client.post("/users/me/secrets", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert password_of(user).check_password(PASSWORD)


def test_an_old_login_must_log_in_again(user, clock):
    client = APIClient()
    old = access_token_for(user, auth_time=int(clock.now.timestamp()) - 601)
    client.credentials(HTTP_AUTHORIZATION=f"jwt {old}")
    response = set_password(client)
    assert response.status_code == 401
    assert response.json()["code"] == "reauthentication_required"
    assert password_of(user).check_password(PASSWORD)


def test_another_users_password_is_out_of_reach(user, other_user, clock):
    client, _answer = logged_in()
    response = client.post(
        f"/users/{other_user.pk}/secrets", {"type": "password", "secret": NEW}, format="json"
    )
    assert response.status_code == 404
    assert password_of(other_user).check_password(PASSWORD)


def test_an_api_key_cannot_set_the_password(user, clock):
    client, _answer = logged_in()
    key = client.post("/users/me/secrets", {"type": "apikey"}, format="json").json()["secret"]
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"apikey {key}")
    response = set_password(machine)
    assert response.status_code in (401, 403)
    assert password_of(user).check_password(PASSWORD)


def test_anonymous_is_401(user, clock):
    assert set_password(APIClient()).status_code == 401
    assert password_of(user).check_password(PASSWORD)


# With MFA on: a current code.


@pytest.fixture
def mfa_user(user, clock, enrolled):
    return enrolled


def test_with_mfa_a_code_is_required(user, clock, mfa_user):
    client, _answer = logged_in_with_code(user, clock, mfa_user["key"])
    response = set_password(client)
    assert response.status_code == 400
    assert response.json()["code"] == "code_required"
    assert password_of(user).check_password(PASSWORD)
    assert Secret.objects.get().failure_count == 0  # asking is not a failure


def test_with_mfa_a_wrong_code_is_refused_and_counted(user, clock, mfa_user):
    client, _answer = logged_in_with_code(user, clock, mfa_user["key"])
    right = clock.code(mfa_user["key"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = set_password(client, token=wrong)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert password_of(user).check_password(PASSWORD)
    assert Secret.objects.get().failure_count == 1
    assert Event.objects.filter(type="wrong_code").count() == 1


def test_with_mfa_a_weak_password_spends_no_code(user, clock, mfa_user):
    client, _answer = logged_in_with_code(user, clock, mfa_user["key"])
    code = clock.code(mfa_user["key"])
    assert set_password(client, password="short", token=code).status_code == 400
    assert set_password(client, token=code).status_code == 200


def test_with_mfa_a_current_code_sets_it_and_the_code_is_spent(user, clock, mfa_user):
    client, answer = logged_in_with_code(user, clock, mfa_user["key"])
    other, _ = logged_in_with_code(user, clock, mfa_user["key"])
    code = clock.code(mfa_user["key"])
    response = set_password(client, token=code)
    assert response.status_code == 200, response.content
    assert password_of(user).check_password(NEW)
    for each in (client, other):
        assert each.get("/users/me/secrets").json()["code"] == "password_changed"
    assert refresh(answer["refresh"]).status_code == 401
    event = Event.objects.filter(type="password_changed").get()
    assert event.detail == {"method": "totp"}
    # MFA stays on: the new password leads to a challenge, and the spent code is refused.
    challenge = challenge_of(APIClient(), password=NEW)
    assert redeem(APIClient(), challenge, token=code).json()["code"] == "code_reused"


def test_with_mfa_a_backup_code_sets_it(user, clock, mfa_user):
    client, _answer = logged_in_with_code(user, clock, mfa_user["key"])
    response = set_password(client, token=mfa_user["codes"][0])
    assert response.status_code == 200, response.content
    assert Event.objects.get(type="password_changed").detail == {"method": "backup_code"}


def test_a_login_challenge_in_flight_ends(user, clock, mfa_user):
    """A challenge earned with the old password is not redeemable after the change."""
    challenge = challenge_of(APIClient())
    client, _answer = logged_in_with_code(user, clock, mfa_user["key"])
    set_password(client, token=clock.code(mfa_user["key"]))
    clock.next_step()
    response = redeem(APIClient(), challenge, token=clock.code(mfa_user["key"]))
    assert response.status_code == 401
    assert response.json()["code"] in ("challenge_used", "challenge_invalid")


def test_a_password_only_token_of_an_mfa_user_cannot_set_it(user, clock, mfa_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    response = set_password(client, token=clock.code(mfa_user["key"]))
    assert response.status_code == 401
    assert password_of(user).check_password(PASSWORD)


# The stamp itself.


def test_a_token_carries_a_stamp_not_the_password(user, clock):
    from rest_framework_simplejwt.tokens import UntypedToken

    _client, answer = logged_in()
    claims = UntypedToken(answer["token"]).payload
    stamp = claims["pwd_stamp"]
    assert stamp == services.password_stamp(user) and len(stamp) == 16
    assert user.password not in answer["token"] and stamp not in user.password


@pytest.mark.parametrize("stamp", ["0" * 16, "", 42, ["x"], {"a": 1}])
def test_a_forged_or_odd_stamp_is_refused(user, stamp):
    with pytest.raises(services.PasswordChanged):
        services.check_password_stamp(user, stamp)


def test_a_token_without_a_stamp_follows_the_other_rules_only(user):
    services.check_password_stamp(user, None)  # a site's own for_user token: no stamp


# What a hostile review found, each now a rule.


def test_api_keys_keep_working_and_the_mail_says_so(
    user, clock, django_capture_on_commit_callbacks
):
    """Keys are machine credentials, not sign-ins (API.md names sessions and refresh
    tokens): they stay, and the mail tells the user to revoke any they do not know."""
    client, _answer = logged_in()
    key = client.post("/users/me/secrets", {"type": "apikey"}, format="json").json()["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        assert set_password(client).status_code == 200
    assert "API keys keep working: revoke any you do not know." in mail.outbox[-1].body
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"apikey {key}")
    assert machine.get("/site/key/whoami/").status_code == 200


def test_a_token_without_a_stamp_ends_by_its_login_time(user, clock):
    """A token from before the stamp (or a site's own for_user) ends at the app's change."""
    unstamped = APIClient()
    unstamped.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user, auth_time=0)}")
    assert unstamped.get("/site/whoami/").status_code == 200
    client, _answer = logged_in()
    set_password(client)
    assert unstamped.get("/site/whoami/").status_code == 401
    old_refresh = services_refresh_token(user, auth_time=0)
    assert refresh(old_refresh).status_code == 401


def services_refresh_token(user, auth_time):
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken.for_user(user)
    token["amr"], token["auth_time"] = ["pwd"], auth_time
    return str(token)


def test_a_challenge_earned_with_the_old_password_ends_when_it_changes_at_another_door(
    user, clock, mfa_user
):
    challenge = challenge_of(APIClient())
    changed = password_of(user)
    changed.set_password(NEW)  # the admin's form, a reset page: not the app's API
    changed.save()
    response = redeem(APIClient(), challenge, token=clock.code(mfa_user["key"]))
    assert response.status_code == 401
    assert response.json()["code"] == "password_changed"
    assert "token" not in response.json()


def test_two_changes_with_one_login_the_second_is_refused(user, clock):
    from django_mfa_enroll import services as svc

    auth_time = int(clock.now.timestamp())
    stale = password_of(user)
    svc.change_password(password_of(user), NEW, code=None, auth_time=auth_time)
    with pytest.raises(svc.PasswordChanged):
        svc.change_password(stale, "another long passphrase 9", code=None, auth_time=auth_time)
    assert password_of(user).check_password(NEW)
    assert Event.objects.filter(type="password_changed").count() == 1


def test_a_stamp_made_under_a_fallback_key_holds(user, settings):
    old = services.password_stamp(user, "the-old-secret-key")
    with pytest.raises(services.PasswordChanged):
        services.check_password_stamp(user, old)
    settings.SECRET_KEY_FALLBACKS = ["the-old-secret-key"]
    services.check_password_stamp(user, old)


def test_the_schema_marks_the_new_password_as_a_password():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    create = schema["components"]["schemas"]["CreateSecretRequest"]["properties"]["secret"]
    assert create["format"] == "password" and create["maxLength"] == 4096
