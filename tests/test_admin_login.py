"""The admin login (and MFAAuthenticationForm): password and account first, the code last,
one message for every refusal, and the per-IP counters of /auth/* (issue 13, item 5)."""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from django_mfa_enroll.forms import MFAAuthenticationForm
from django_mfa_enroll.models import BackupCode, Secret

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

GENERIC = "Please enter a correct username, password and authentication code."
LOCKED = "Too many wrong codes; try again later."


def admin_login(username="alice", password=PASSWORD, code="", address="10.9.8.7"):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "mfa_code": code, "next": "/admin/"},
    )


def errors_of(response) -> list[str]:
    """The form's non-field errors as a person reads them."""
    return [str(error) for error in response.context["form"].non_field_errors()]


def state(user) -> tuple:
    secret = Secret.objects.get(user=user)
    unused = BackupCode.objects.filter(secret=secret, used_at__isnull=True).count()
    return secret.last_step, secret.failure_count, secret.locked_until, unused


def make_staff(user):
    user.is_staff = True
    user.save()


def test_a_non_staff_users_code_is_never_checked_nor_spent(user, clock, enrolled):
    before = state(user)
    for code in (enrolled["codes"][0], clock.code(enrolled["key"]), "000000"):
        response = admin_login(code=code)
        assert response.status_code == 200  # the form again, not logged in
        assert errors_of(response)[0].startswith(GENERIC[:40])
    assert state(user) == before  # no code spent, no step taken, no failure counted


def test_every_refusal_reads_the_same(user, clock, enrolled, other_user):
    make_staff(user)
    refusals = [
        admin_login(password="wrong", code=clock.code(enrolled["key"])),  # wrong password
        admin_login(code="000000"),  # staff, right password, wrong code
        admin_login(code=""),  # staff, right password, no code
        admin_login(username="mallory", code=""),  # not staff, right password, no MFA
        admin_login(username="nobody"),  # no such user
    ]
    messages = [errors_of(response) for response in refusals]
    assert all(message == messages[0] for message in messages), messages
    assert messages[0][0].startswith(GENERIC[:40])


def test_an_inactive_staff_user_reads_the_same(user, clock, enrolled):
    make_staff(user)
    user.is_active = False
    user.save()
    response = admin_login(code=clock.code(enrolled["key"]))
    assert errors_of(response)[0].startswith(GENERIC[:40])


def test_a_staff_user_with_the_password_and_a_code_logs_in(user, clock, enrolled):
    make_staff(user)
    browser = Client()
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": PASSWORD, "mfa_code": enrolled["codes"][2]},
    )
    assert response.status_code == 302 and browser.get("/admin/").status_code == 200
    assert state(user)[3] == 9  # that code is spent now, and only now


def test_a_lock_is_said_only_for_a_right_password_and_one_way(user, clock, enrolled, settings):
    make_staff(user)
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 1}
    admin_login(code="000000")  # one wrong code: the next try must wait
    right_code = admin_login(code=clock.code(enrolled["key"]))
    wrong_code = admin_login(code="111111")
    assert errors_of(right_code) == errors_of(wrong_code) == [LOCKED]
    wrong_password = admin_login(password="wrong", code="000000")
    assert errors_of(wrong_password)[0].startswith(GENERIC[:40])


def test_a_locked_non_staff_user_is_not_told_of_the_lock(user, clock, enrolled, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "FAILURE_DELAY_AFTER": 1}
    Secret.objects.filter(user=user).update(failure_count=5)
    response = admin_login(code="000000")
    assert errors_of(response)[0].startswith(GENERIC[:40])


def test_the_admin_login_counts_in_the_same_counters_as_auth(user, settings, monkeypatch):
    import time

    start = time.time() // 60 * 60 + 1  # the start of a window: no edge mid-test
    monkeypatch.setattr(time, "time", lambda: start)
    from django_mfa_enroll.throttling import AuthRateThrottle

    monkeypatch.setattr(AuthRateThrottle, "timer", lambda self: start)
    make_staff(user)
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "3/min"}
    address = "10.20.30.40"
    assert admin_login(password="wrong", address=address).status_code == 200
    assert admin_login(password="wrong", address=address).status_code == 200
    api = APIClient(REMOTE_ADDR=address)
    body = {"username": "alice", "password": "wrong"}
    assert api.post("/auth/password", body, format="json").status_code == 401  # the third
    throttled = admin_login(address=address)  # the right password, but the fourth attempt
    assert throttled.status_code == 200
    [message] = errors_of(throttled)
    assert re.fullmatch(
        r"Too many sign-in attempts from your network; try again in \d+ seconds?\.", message
    )
    assert api.post("/auth/password", body, format="json").status_code == 429
    assert admin_login(address="10.20.30.41").status_code == 302  # another address


def test_a_sites_own_login_form_checks_the_account_before_the_code(user, clock, enrolled):
    user.is_active = False
    user.save()
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.1")
    form = MFAAuthenticationForm(
        request,
        data={"username": "alice", "password": PASSWORD, "mfa_code": enrolled["codes"][0]},
    )
    before = state(user)
    assert not form.is_valid()
    assert state(user) == before


def test_a_sites_own_login_form_logs_in_with_a_code(user, clock, enrolled):
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.1.1.2")
    form = MFAAuthenticationForm(
        request,
        data={"username": "alice", "password": PASSWORD, "mfa_code": clock.code(enrolled["key"])},
    )
    assert form.is_valid(), form.errors
    user = form.get_user()
    assert user.mfa_amr == ["pwd", "otp", "mfa"] and user.mfa_secret_id == enrolled["id"]


def test_refreshing_tokens_never_uses_up_the_login_budget(user, settings):
    make_staff(user)
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": "3/min"}
    address = "10.20.30.50"
    api = APIClient(REMOTE_ADDR=address)
    refreshes = [
        api.post("/auth/refresh", {"refresh": "junk"}, format="json").status_code for _ in range(5)
    ]
    assert refreshes == [401, 401, 401, 429, 429]  # refresh has counters of its own
    body = {"username": "alice", "password": "wrong"}
    assert api.post("/auth/password", body, format="json").status_code == 401  # not 429
    assert admin_login(address=address).status_code == 302  # the admin logs in
