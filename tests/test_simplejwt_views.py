"""simplejwt's own views, routed by a site beside the app (tests/urls.py), follow the user's
MFA state through the serializers of token_serializers.py (SIMPLE_JWT in tests/settings.py),
with or without simplejwt's blacklist app; check E009 names the setting a routed view
lacks, E010 the authentication class."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll import checks, services
from django_mfa_enroll.authentication import ChallengeToken

from .conftest import PASSWORD, enroll, login, make_user, redeem

pytestmark = pytest.mark.django_db

BLACKLIST_INSTALLED = "rest_framework_simplejwt.token_blacklist" in settings.INSTALLED_APPS


def post(path: str, body: dict):
    return APIClient().post(path, body, format="json")


def obtain(username: str = "alice") -> dict:
    response = post("/api/token/", {"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def totp_tokens(enrolled, clock) -> dict:
    client = APIClient()
    response = redeem(client, login(client).json()["token"], token=clock.code(enrolled["key"]))
    assert response.status_code == 200
    clock.next_step()
    return response.json()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def refused(response, code: str) -> bool:
    return response.status_code == 401 and response.json()["code"] == code


# TokenObtainPairView and TokenObtainSlidingView.


def test_obtain_pair_says_a_password_alone_and_when(user, clock):
    tokens = obtain()
    for token in (tokens["access"], tokens["refresh"]):
        assert claims_of(token)["amr"] == ["pwd"]
        assert claims_of(token)["auth_time"] == int(clock.now.timestamp())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    # A login of now: it may set MFA up at the app's endpoints.
    assert client.post("/users/me/secrets", {"type": "mfa"}, format="json").status_code == 200


def test_obtain_pair_refuses_a_user_with_mfa(user, clock):
    enroll(user, clock)
    response = post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 401 and "access" not in response.json()


@override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"])
def test_obtain_pair_refuses_a_user_with_mfa_even_without_the_backend(user, clock):
    enroll(user, clock)
    response = post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert refused(response, "mfa_required") and "access" not in response.json()
    response = post("/api/token/sliding/", {"username": "alice", "password": PASSWORD})
    assert refused(response, "mfa_required") and "token" not in response.json()


# TokenRefreshView.


@pytest.mark.parametrize("source", ["simplejwt", "app"])
def test_a_refresh_token_from_before_enrolling_dies_at_enrolling(user, clock, source):
    refresh = obtain()["refresh"] if source == "simplejwt" else login(APIClient()).json()["refresh"]
    renewed = post("/api/token/refresh/", {"refresh": refresh})
    assert renewed.status_code == 200
    assert claims_of(renewed.json()["access"])["amr"] == ["pwd"]
    enroll(user, clock)
    assert refused(post("/api/token/refresh/", {"refresh": refresh}), "mfa_required")


def test_a_refresh_token_of_a_reset_factor_dies_with_it(user, clock):
    enrolled = enroll(user, clock)
    tokens = totp_tokens(enrolled, clock)
    renewed = post("/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert renewed.status_code == 200
    assert claims_of(renewed.json()["access"])["amr"] == ["pwd", "otp", "mfa"]
    services.reset_mfa(user, by="test")
    response = post("/api/token/refresh/", {"refresh": tokens["refresh"]})
    # The reset blacklists the token where the app is installed; where not, the state says no.
    expected = {"token_not_valid", "mfa_reset"} if BLACKLIST_INSTALLED else {"mfa_reset"}
    assert response.status_code == 401 and response.json()["code"] in expected


def test_a_refresh_keeps_auth_time(user, clock):
    refresh = obtain()["refresh"]
    first = claims_of(refresh)["auth_time"]
    clock.advance(3600)
    renewed = post("/api/token/refresh/", {"refresh": refresh}).json()
    assert claims_of(renewed["access"])["auth_time"] == first


@pytest.mark.parametrize("state", ["deleted", "inactive"])
def test_a_refresh_token_of_a_gone_user_is_401_not_500(user, state):
    refresh = str(RefreshToken.for_user(user))
    if state == "deleted":
        user.delete()
    else:
        user.is_active = False
        user.save()
    assert refused(post("/api/token/refresh/", {"refresh": refresh}), "no_active_account")


@override_settings(SIMPLE_JWT={**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": True})
def test_a_refused_refresh_rotates_nothing(user, clock):
    refresh = obtain()["refresh"]
    enroll(user, clock)
    response = post("/api/token/refresh/", {"refresh": refresh})
    assert refused(response, "mfa_required") and "refresh" not in response.json()


# TokenVerifyView.


def test_verify_follows_the_rule(user, clock):
    access = obtain()["access"]
    assert post("/api/token/verify/", {"token": access}).status_code == 200
    enrolled = enroll(user, clock)
    assert refused(post("/api/token/verify/", {"token": access}), "mfa_required")
    tokens = totp_tokens(enrolled, clock)
    for token in (tokens["token"], tokens["refresh"]):
        assert post("/api/token/verify/", {"token": token}).status_code == 200
    services.reset_mfa(user, by="test")
    assert refused(post("/api/token/verify/", {"token": tokens["token"]}), "mfa_reset")


def test_verify_says_a_login_challenge_is_no_credential(user, clock):
    enroll(user, clock)
    challenge = login(APIClient()).json()["token"]
    assert isinstance(ChallengeToken(challenge), ChallengeToken)  # a valid challenge
    response = post("/api/token/verify/", {"token": challenge})
    assert refused(response, "token_not_valid")
    assert "/auth/totp" in response.json()["message"]


def test_verify_still_refuses_a_forged_token(user):
    access = obtain()["access"]
    response = post("/api/token/verify/", {"token": access[:-3] + "AAA"})
    assert response.status_code == 401


# Sliding tokens (obtain, refresh, and use at the app's JWTAuthentication).


def test_a_sliding_token_follows_the_rule(user, clock):
    token = post("/api/token/sliding/", {"username": "alice", "password": PASSWORD}).json()
    token = token["token"]
    assert claims_of(token)["amr"] == ["pwd"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    assert client.get("/users/me/secrets").status_code == 200
    assert post("/api/token/sliding/refresh/", {"token": token}).status_code == 200
    enroll(user, clock)
    assert refused(post("/api/token/sliding/refresh/", {"token": token}), "mfa_required")
    assert refused(client.get("/users/me/secrets"), "mfa_required")


def test_another_users_tokens_are_untouched(user, clock):
    make_user("bob")
    bobs = obtain("bob")
    enroll(user, clock)
    assert post("/api/token/refresh/", {"refresh": bobs["refresh"]}).status_code == 200
    assert post("/api/token/verify/", {"token": bobs["access"]}).status_code == 200


@pytest.mark.skipif(
    not BLACKLIST_INSTALLED or os.environ.get("MFA_TEST_WITHOUT_BLACKLIST") == "1",
    reason="runs the module once more without the blacklist app; not from inside that run",
)
def test_the_same_holds_without_the_blacklist_app():
    env = {**os.environ, "MFA_TEST_WITHOUT_BLACKLIST": "1"}
    result = subprocess.run(  # noqa: S603 - the test runner, on this very module
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_without_the_blacklist_app_there_is_no_blacklist():
    if os.environ.get("MFA_TEST_WITHOUT_BLACKLIST") == "1":
        assert not BLACKLIST_INSTALLED
        assert not hasattr(RefreshToken, "blacklist")
    else:
        assert BLACKLIST_INSTALLED


# The checks.


def test_e009_is_quiet_when_every_routed_view_follows_the_state():
    assert checks.check_simplejwt_views() == []


@override_settings(ROOT_URLCONF="tests.urls_stock_simplejwt")
def test_e009_names_the_setting_of_each_stock_view():
    messages = checks.check_simplejwt_views()
    assert [m.id for m in messages] == [checks.E009, checks.E009]
    assert "SIMPLE_JWT['TOKEN_OBTAIN_SERIALIZER']" in messages[0].hint
    assert "django_mfa_enroll.token_serializers.TokenObtainPairSerializer" in messages[0].hint
    assert "api/token/refresh/" in messages[1].msg
    assert "SIMPLE_JWT['TOKEN_REFRESH_SERIALIZER']" in messages[1].hint


@override_settings(ROOT_URLCONF="tests.urls_stock_simplejwt")
def test_the_stock_refresh_is_what_e009_warns_of(user, clock):
    refresh = login(APIClient()).json()["refresh"]
    enroll(user, clock)
    assert post("/api/token/refresh/", {"refresh": refresh}).status_code == 200  # the hole


@pytest.mark.parametrize(
    "classes",
    [
        ["rest_framework_simplejwt.authentication.JWTAuthentication"],
        ["rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"],
    ],
)
def test_e010_names_simplejwts_own_class_among_the_apps_classes_too(classes):
    with override_settings(MFA_ENROLL={**settings.MFA_ENROLL, "AUTHENTICATION_CLASSES": classes}):
        messages = checks.check_default_authentication()
    assert [m.id for m in messages] == [checks.E010]
    assert "MFA_ENROLL['AUTHENTICATION_CLASSES']" in messages[0].msg


@pytest.mark.parametrize(
    ("classes", "errors"),
    [
        (["rest_framework_simplejwt.authentication.JWTAuthentication"], 1),
        (["rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"], 1),
        ([checks.OUR_JWT, "rest_framework.authentication.SessionAuthentication"], 0),
        (["rest_framework.authentication.BasicAuthentication"], 0),
    ],
)
def test_e010_names_simplejwts_own_authentication(classes, errors):
    with override_settings(REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": classes}):
        messages = checks.check_default_authentication()
    assert [m.id for m in messages] == [checks.E010] * errors
    assert all(checks.OUR_JWT in m.hint for m in messages)
