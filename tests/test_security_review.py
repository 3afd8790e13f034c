"""A security review, each point a test: logs, forged tokens, error bodies, resets."""

from __future__ import annotations

import base64
import json
import logging

import jwt
import pytest
from rest_framework.test import APIClient

from django_mfa_enroll import services
from django_mfa_enroll.models import Secret
from django_mfa_enroll.services import operators

from .conftest import PASSWORD, access_token_for, force_mfa_login, sign_in
from .conftest import login as password_login

pytestmark = pytest.mark.django_db


def login(client):
    return password_login(client).json()


def test_no_code_secret_or_token_in_any_log_record_of_a_full_flow(user, clock, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    seen: list[str] = []
    client = APIClient()
    first = login(client)
    seen += [first["token"], first["refresh"]]
    client.credentials(HTTP_AUTHORIZATION=f"jwt {first['token']}")
    created = client.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    key = created["secret"]["secret"]
    seen += [key, created["secret"]["otpauth_url"]]
    client.put(f"/users/me/secrets/{created['id']}/enroll", {"token": "000000"}, format="json")
    code = clock.code(key)
    enrolled = client.put(
        f"/users/me/secrets/{created['id']}/enroll", {"token": code}, format="json"
    ).json()
    seen += [code, *enrolled["codes"]]
    clock.next_step()
    anon = APIClient()
    challenge = login(anon)["token"]
    seen.append(challenge)
    anon.post("/auth/totp", {"challenge": challenge, "token": "999999"}, format="json")
    code = clock.code(key)
    tokens = anon.post("/auth/totp", {"challenge": challenge, "token": code}, format="json").json()
    seen += [code, tokens["token"], tokens["refresh"]]
    anon.post(
        "/auth/totp", {"challenge": login(anon)["token"], "token": code}, format="json"
    )  # replay
    anon.post(
        "/auth/totp",
        {"challenge": login(anon)["token"], "backup_code": enrolled["codes"][1]},
        format="json",
    )
    refreshed = anon.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    seen.append(refreshed["token"])
    client.credentials(HTTP_AUTHORIZATION=f"jwt {tokens['token']}")  # the password's has ended
    clock.next_step()
    code = clock.code(key)
    fresh = client.post(
        f"/users/me/secrets/{created['id']}/codes", {"token": code}, format="json"
    ).json()
    seen += [code, *fresh["codes"]]
    client.delete(f"/users/me/secrets/{created['id']}", {"token": fresh["codes"][0]}, format="json")
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "MFA login second factor accepted" in text and "MFA verification failed" in text
    leaked = [value for value in seen if value and value in text]
    assert leaked == []


def _forge(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_tampered_access_token_is_refused(user, other_user):
    token = access_token_for(user)
    for forged in (
        _forge(token, user_id=str(other_user.pk)),
        _forge(token, amr=["pwd", "otp", "mfa"]),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"jwt {forged}")
        assert client.get("/users/me/secrets").status_code == 401


def test_alg_none_access_and_refresh_tokens_are_refused(user):
    claims = jwt.decode(access_token_for(user), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key="", algorithm="none")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {unsigned}")
    assert client.get("/users/me/secrets").status_code == 401
    refresh = jwt.encode({**claims, "token_type": "refresh"}, key="", algorithm="none")
    assert APIClient().post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_a_token_signed_with_another_algorithm_is_refused(user):
    claims = jwt.decode(access_token_for(user), options={"verify_signature": False})
    from django.conf import settings

    other = jwt.encode(claims, key=settings.SECRET_KEY, algorithm="HS512")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {other}")
    assert client.get("/users/me/secrets").status_code == 401


def test_unknown_user_and_wrong_password_answer_the_same(user):
    answers = [
        APIClient().post("/auth/password", body, format="json")
        for body in (
            {"username": "alice", "password": "wrong"},
            {"username": "ghost", "password": "wrong"},
        )
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers["WWW-Authenticate"] == answers[1].headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/users/me/secrets/not-a-uuid", None),
        ("post", "/users/me/secrets", {"type": "sms"}),
        ("put", "/users/me/secrets/00000000-0000-0000-0000-000000000000/enroll", {"token": 1}),
    ],
)
def test_debug_off_error_bodies_carry_no_traceback(api_client, settings, method, path, body):
    settings.DEBUG = False
    response = getattr(api_client, method)(path, body, format="json")
    assert 400 <= response.status_code < 500
    text = response.content.decode()
    assert "Traceback" not in text and 'File "' not in text and "django_mfa_enroll/" not in text
    assert set(response.json()) <= {"code", "status", "message", "errors"}


def test_a_refresh_token_dies_with_the_secret_it_was_issued_for(user, clock, enrolled, monkeypatch):
    # As on a site without simplejwt's token_blacklist app.
    monkeypatch.setattr(operators, "blacklist_refresh_tokens", lambda user: 0)
    client = APIClient()
    challenge = login(client)["token"]
    tokens = client.post(
        "/auth/totp", {"challenge": challenge, "token": clock.code(enrolled["key"])}, format="json"
    ).json()
    assert (
        client.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code
        == 200
    )
    services.reset_mfa(user, by="test")  # no token_blacklist needed for this
    response = client.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "mfa_reset"


def test_a_refresh_token_of_an_old_secret_dies_when_mfa_is_set_up_again(
    user, clock, enrolled, flow
):
    client = APIClient()
    tokens = client.post(
        "/auth/totp",
        {"challenge": login(client)["token"], "backup_code": enrolled["codes"][0]},
        format="json",
    ).json()
    flow.client.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": enrolled["codes"][1]}, format="json"
    )
    sign_in(flow.client, user)  # a password login, as MFA is off now
    flow.enroll()
    assert Secret.objects.count() == 1
    response = client.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "mfa_reset"


# From the final review.


def test_a_failed_login_signal_masks_the_second_factor(user, clock, enrolled, client):
    from django.contrib.auth.signals import user_login_failed

    user.is_staff = True  # so the admin form gets as far as the code
    user.save()
    seen = []
    receiver = lambda sender, credentials, **kw: seen.append(credentials)  # noqa: E731
    user_login_failed.connect(receiver, weak=False)
    try:
        client.post(
            "/admin/login/",
            {"username": "alice", "password": "typo", "mfa_code": enrolled["codes"][0]},
        )
        client.post(
            "/admin/login/",
            {"username": "alice", "password": PASSWORD, "mfa_code": "000000"},
        )
    finally:
        user_login_failed.disconnect(receiver)
    assert len(seen) == 2  # the wrong password, then the wrong code
    for credentials in seen:
        assert enrolled["codes"][0] not in str(credentials) and "000000" not in str(credentials)
        assert PASSWORD not in str(credentials) and "typo" not in str(credentials)
        assert credentials["username"] == "alice"
    # The code never reaches authenticate(): the password is checked first, the code last.
    assert "mfa_token" not in seen[0] and seen[1]["mfa_token"] == "********************"


def test_basic_credentials_do_not_borrow_another_logins_session(user, other_user, clock, enrolled):
    from django.test import Client

    from .conftest import PASSWORD as PW

    browser = Client()
    user.is_staff = True
    user.save()
    browser.post(
        "/admin/login/",
        {"username": "alice", "password": PW, "mfa_code": clock.code(enrolled["key"])},
    )
    assert browser.get("/site/sensitive/").status_code == 200  # her own MFA session
    basic = "Basic " + base64.b64encode(f"{other_user.get_username()}:{PW}".encode()).decode()
    response = browser.get("/site/sensitive/", HTTP_AUTHORIZATION=basic)
    assert response.status_code == 403  # mallory's password alone, whatever cookie rides along


def test_a_reset_ends_mfa_status_for_sessions_and_access_tokens(user, clock, enrolled):
    from django.test import Client

    user.is_staff = True
    user.save()
    browser = Client()
    browser.post(
        "/admin/login/",
        {"username": "alice", "password": PASSWORD, "mfa_code": clock.code(enrolled["key"])},
    )
    api = APIClient()
    clock.next_step()
    tokens = api.post(
        "/auth/totp",
        {"challenge": login(api)["token"], "token": clock.code(enrolled["key"])},
        format="json",
    ).json()
    api.credentials(HTTP_AUTHORIZATION=f"jwt {tokens['token']}")
    assert browser.get("/site/sensitive/").status_code == 200
    assert api.get("/site/sensitive/").status_code == 200
    services.reset_mfa(user, by="test")
    assert browser.get("/site/sensitive/").status_code == 401  # the session has ended
    assert "sessionid" not in browser.cookies or not browser.cookies["sessionid"].value
    response = api.get("/site/sensitive/")
    assert response.status_code == 401 and response.json()["code"] == "mfa_reset"


def test_the_admin_refuses_lookups_on_what_it_never_shows(user, clock, enrolled, client):
    user.is_staff = user.is_superuser = True
    user.save()
    force_mfa_login(client, user, enrolled["id"])
    secret = Secret.objects.get()
    base = "/admin/django_mfa_enroll/secret/"
    for lookup in (
        f"encrypted_key__startswith={secret.encrypted_key[:5]}",
        "last_step__gt=1",
        "failure_count=0",
    ):
        assert client.get(f"{base}?{lookup}").status_code == 400, lookup
    assert client.get(f"{base}?status__exact=active&type__exact=mfa&locked=no").status_code == 200


@pytest.mark.parametrize("size", ["0", "-1"])
def test_key_rotation_refuses_a_batch_size_below_one(size):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="batch-size"):
        call_command("mfa_rotate_keys", "--batch-size", size)


def test_a_model_backend_subclass_is_refused_too(settings):
    from django_mfa_enroll import checks

    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.AllowAllUsersModelBackend",
        "django_mfa_enroll.backends.MFAModelBackend",
    ]
    assert [m.id for m in checks.check_backends()] == [checks.E002]


def test_the_views_stay_outside_atomic_requests_however_they_are_mounted():
    from django_mfa_enroll import views

    for view in (
        views.SecondFactorView.as_view(),
        views.PasswordLoginView.as_view(),
        views.SecretViewSet.as_view({"put": "enroll"}),
    ):
        assert "default" in view._non_atomic_requests


def test_login_works_when_user_id_field_is_not_the_primary_key(user, clock, enrolled, settings):
    settings.SIMPLE_JWT = {"USER_ID_FIELD": "username", "USER_ID_CLAIM": "user_id"}
    client = APIClient()
    challenge = login(client)["token"]
    response = client.post(
        "/auth/totp", {"challenge": challenge, "token": clock.code(enrolled["key"])}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"jwt {response.json()['token']}")
    assert client.get("/users/me/secrets").status_code == 200
