"""MFAModelBackend: every door that takes a password refuses it alone once MFA is active."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from django_mfa_enroll import checks
from django_mfa_enroll.models import Secret

from .conftest import PASSWORD, challenge_of, login, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(user):
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def basic(password=PASSWORD, username="alice"):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def admin_login(client, code=None, password=PASSWORD):
    data = {"username": "alice", "password": password, "next": "/admin/"}
    if code is not None:
        data["mfa_code"] = code
    return client.post("/admin/login/?next=/admin/", data)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# authenticate() itself.


def test_authenticate_without_mfa_is_the_password(user):
    assert authenticate(None, username="alice", password=PASSWORD) == user
    assert authenticate(None, username="alice", password="wrong") is None


def test_authenticate_with_mfa_needs_the_second_factor(user, enrolled, clock):
    assert authenticate(None, username="alice", password=PASSWORD) is None
    assert authenticate(None, username="alice", password=PASSWORD, mfa_token="000000") is None
    logged = authenticate(
        None, username="alice", password=PASSWORD, mfa_token=clock.code(enrolled["key"])
    )
    assert logged == user and logged.mfa_amr == ["pwd", "otp", "mfa"]
    backup = authenticate(None, username="alice", password=PASSWORD, mfa_token=enrolled["codes"][0])
    assert backup == user and backup.mfa_amr == ["pwd", "mfa"]


def test_a_code_without_the_right_password_is_nothing(user, enrolled, clock):
    assert (
        authenticate(
            None, username="alice", password="wrong", mfa_token=clock.code(enrolled["key"])
        )
        is None
    )
    assert Secret.objects.get().last_step < clock.now.timestamp() // 30  # the code is unspent


def test_password_stage_only_for_the_sentinel(user, enrolled):
    assert authenticate(None, username="alice", password=PASSWORD, mfa_stage="password") is None
    assert authenticate(None, username="alice", password=PASSWORD, mfa_stage=True) is None


# Django admin.


def test_admin_login_without_mfa(client, staff):
    response = admin_login(client)
    assert response.status_code == 302 and logged_in(client)


def test_admin_login_page_shows_the_code_field(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="mfa_code"' in html and 'autocomplete="one-time-code"' in html


def test_admin_refuses_the_password_alone(client, staff, enrolled):
    response = admin_login(client)
    assert response.status_code == 200 and not logged_in(client)
    assert "authentication code" in response.content.decode()


def test_admin_with_the_password_and_a_code(client, staff, enrolled, clock):
    response = admin_login(client, code=clock.code(enrolled["key"]))
    assert response.status_code == 302 and logged_in(client)
    assert client.session["django_mfa_enroll.amr"] == ["pwd", "otp", "mfa"]


def test_admin_with_a_backup_code(client, staff, enrolled):
    response = admin_login(client, code=enrolled["codes"][1])
    assert response.status_code == 302 and logged_in(client)


def test_admin_wrong_code_and_wrong_password_look_the_same(client, staff, enrolled, clock):
    wrong_code = admin_login(Client(), code="000000").content.decode()
    wrong_password = admin_login(
        Client(), password="nope", code=clock.code(enrolled["key"])
    ).content.decode()
    marker = "Please enter a correct"
    assert marker in wrong_code and marker in wrong_password


def test_admin_says_when_locked(client, staff, enrolled, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 1}
    admin_login(Client(), code="000000")
    response = admin_login(Client(), code="000000")
    assert "Too many wrong codes" in response.content.decode()


def test_the_stock_admin_form_also_refuses(staff, enrolled, clock):
    """Even without use_mfa_login, the backend keeps the admin closed."""
    from django.contrib.admin.forms import AdminAuthenticationForm

    form = AdminAuthenticationForm(None, data={"username": "alice", "password": PASSWORD})
    assert not form.is_valid()


# DRF and simplejwt.


def test_drf_basic_authentication_refuses_the_password_alone(anon_client, enrolled):
    anon_client.credentials(HTTP_AUTHORIZATION=basic())
    assert anon_client.get("/site/whoami/").status_code == 401


def test_drf_basic_authentication_without_mfa(anon_client, user):
    anon_client.credentials(HTTP_AUTHORIZATION=basic())
    assert anon_client.get("/site/whoami/").status_code == 200


def test_drf_session_login_refuses_the_password_alone(client, enrolled):
    response = client.post("/api-auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and not logged_in(client)


def test_drf_session_login_without_mfa(client, user):
    response = client.post(
        "/api-auth/login/", {"username": "alice", "password": PASSWORD, "next": "/site/whoami/"}
    )
    assert response.status_code == 302 and logged_in(client)


def test_simplejwt_token_view_refuses_the_password_alone(anon_client, enrolled):
    response = anon_client.post(
        "/api/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401
    assert "access" not in response.json()


def test_simplejwt_token_view_without_mfa(anon_client, user):
    response = anon_client.post(
        "/api/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200 and "access" in response.json()


def test_own_login_answers_a_challenge(anon_client, enrolled):
    response = login(anon_client)
    assert response.status_code == 200 and response.json()["type"] == "CHALLENGE"


def test_own_login_asks_even_if_the_site_kept_model_backend(anon_client, enrolled, settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    response = login(anon_client)
    assert response.json()["type"] == "CHALLENGE"


# Permission classes.


def tokens_after(anon_client, clock, enrolled, **second):
    return redeem(anon_client, challenge_of(anon_client), header=False, **second).json()["token"]


def test_is_mfa_verified_needs_a_second_factor_token(user, clock, flow):
    pwd_only = APIClient()
    pwd_only.credentials(HTTP_AUTHORIZATION=f"jwt {AccessToken.for_user(user)}")
    response = pwd_only.get("/site/sensitive/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    enrolled = flow.enroll()
    token = tokens_after(APIClient(), clock, enrolled, token=clock.code(enrolled["key"]))
    mfa = APIClient()
    mfa.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    assert mfa.get("/site/sensitive/").status_code == 200


def test_step_up_needs_a_recent_second_factor(user, clock, flow, monkeypatch):
    enrolled = flow.enroll()
    token = tokens_after(APIClient(), clock, enrolled, backup_code=enrolled["codes"][0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    import django_mfa_enroll.permissions as permissions

    auth_time = AccessToken(token)["auth_time"]
    monkeypatch.setattr(permissions.time, "time", lambda: auth_time + 299)
    assert client.get("/site/step-up/").status_code == 200
    monkeypatch.setattr(permissions.time, "time", lambda: auth_time + 301)
    response = client.get("/site/step-up/")
    assert response.status_code == 403 and response.json()["code"] == "mfa_too_old"


def test_session_login_with_a_code_counts_as_mfa(client, staff, enrolled, clock):
    admin_login(client, code=clock.code(enrolled["key"]))
    assert client.get("/site/sensitive/").status_code == 200


def test_session_login_without_mfa_is_not_mfa(client, staff):
    admin_login(client)
    assert client.get("/site/whoami/").status_code == 200
    assert client.get("/site/sensitive/").status_code == 403


# System checks of the backend setting.


def test_check_model_backend_beside_ours_is_an_error(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "django_mfa_enroll.backends.MFAModelBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert [m.id for m in checks.check_backends()] == [checks.E002]


def test_check_our_backend_missing_is_a_warning(settings):
    settings.AUTHENTICATION_BACKENDS = ["some.other.Backend"]
    assert [m.id for m in checks.check_backends()] == [checks.W002]


def test_check_our_backend_alone_is_fine(settings):
    assert checks.check_backends() == []
