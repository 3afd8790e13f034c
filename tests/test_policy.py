"""Who must use MFA (API.md, "Policy: who must use MFA"): a SETUP login that reaches only
the user's own secrets, to enroll; a grace; the last method kept; the admin login refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import UntypedToken

from django_mfa_enroll import services
from django_mfa_enroll.models import APIKey, MFAState, Secret

from .conftest import PASSWORD, challenge_of, login, make_user, redeem

pytestmark = pytest.mark.django_db


def only_alice(user) -> bool:
    """A site's own rule (``REQUIRED`` as a dotted path)."""
    return user.get_username() == "alice"


@pytest.fixture
def required(settings):
    def require(who="all", grace=0):
        settings.MFA_ENROLL = {**settings.MFA_ENROLL, "REQUIRED": who, "REQUIRED_GRACE": grace}

    return require


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    return client


def setup_login(username="alice") -> dict:
    response = login(APIClient(), username)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "SETUP", body
    return body


def enroll_with(client, clock) -> dict:
    created = client.post("/users/me/secrets", {"type": "mfa"}, format="json")
    assert created.status_code == 200, created.content
    created = created.json()
    response = client.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": clock.code(created["secret"]["secret"])},
        format="json",
    )
    assert response.status_code == 200, response.content
    clock.next_step()
    return {**response.json(), "key": created["secret"]["secret"]}


# Who.


def test_without_a_policy_a_password_login_is_access(user, clock):
    assert login(APIClient()).json()["type"] == "ACCESS"


@pytest.mark.parametrize(
    ("who", "staff", "setup"),
    [
        ("all", False, True),
        ("staff", False, False),
        ("staff", True, True),
        ("tests.test_policy.only_alice", False, True),
    ],
)
def test_who_must_use_mfa(user, other_user, clock, required, who, staff, setup):
    required(who)
    user.is_staff = staff
    user.save()
    assert (login(APIClient()).json()["type"] == "SETUP") is setup
    expected_other = who == "all"
    assert (login(APIClient(), "mallory").json()["type"] == "SETUP") is expected_other


def test_the_setup_answer(user, clock, required):
    required()
    body = setup_login()
    assert set(body) == {"type", "token", "user_id", "expires_in"}
    assert body["user_id"] == str(user.pk) and body["expires_in"] == 600
    from django_mfa_enroll.authentication import SetupToken

    claims = SetupToken(body["token"]).payload
    assert claims["token_type"] == "mfa_setup" and claims["amr"] == ["pwd"]
    assert claims["exp"] - claims["iat"] == 600


def test_a_user_with_mfa_gets_a_challenge_as_ever(user, clock, required, enrolled):
    required()
    assert login(APIClient()).json()["type"] == "CHALLENGE"


# What a SETUP token reaches: the user's own secrets, to enroll.


def test_a_setup_token_enrolls_and_the_answer_logs_in(user, clock, required):
    required()
    setup = with_token(setup_login()["token"])
    assert setup.get("/users/me/secrets").json() == []
    created = setup.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    assert setup.get(f"/users/me/secrets/{created['id']}").status_code == 200
    assert setup.get(f"/users/me/secrets/{created['id']}/qrcode").status_code == 200
    response = setup.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": clock.code(created["secret"]["secret"])},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "active" and len(body["codes"]) == 10
    access = body["access"]
    assert access["type"] == "ACCESS" and access["user_id"] == str(user.pk)
    assert UntypedToken(access["token"]).payload["amr"] == ["pwd", "otp", "mfa"]
    logged_in = with_token(access["token"])
    assert logged_in.get("/site/sensitive/").status_code == 200  # IsMFAVerified
    assert logged_in.get("/users/me/events").status_code == 200
    # The SETUP token was a password alone: it ends with the enrollment.
    assert setup.get("/users/me/secrets").json()["code"] == "mfa_required"


def test_an_ordinary_enrollment_answers_no_tokens(user, clock, enrolled):
    assert "access" not in enrolled


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/users/me/events", None),
        ("get", "/site/whoami/", None),
        ("get", "/site/sensitive/", None),
        ("get", "/site/key/whoami/", None),
        ("post", "/users/me/secrets", {"type": "apikey"}),
        ("post", "/users/me/secrets", {"type": "password", "secret": "a long passphrase 1"}),
    ],
)
def test_a_setup_token_is_refused_everywhere_else(user, clock, required, method, path, body):
    required()
    setup = with_token(setup_login()["token"])
    response = getattr(setup, method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "mfa_setup_required"
    assert "set it up first" in response.json()["message"]
    assert not APIKey.objects.exists()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_setup_token_cannot_regenerate_codes_or_delete(user, clock, required):
    required()
    setup = with_token(setup_login()["token"])
    created = setup.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    for method, path in (
        ("post", f"/users/me/secrets/{created['id']}/codes"),
        ("delete", f"/users/me/secrets/{created['id']}"),
    ):
        response = getattr(setup, method)(path, {"token": "123456"}, format="json")
        assert response.json()["code"] == "mfa_setup_required", (method, path)
    assert Secret.objects.filter(pk=created["id"]).exists()


def test_a_setup_token_is_no_access_refresh_or_challenge_token(user, clock, required):
    required()
    token = setup_login()["token"]
    anyone = APIClient()
    assert anyone.post("/auth/refresh", {"refresh": token}, format="json").status_code == 401
    assert anyone.post("/api/token/verify/", {"token": token}, format="json").status_code == 401
    assert redeem(anyone, token, token="123456").status_code == 401


def test_a_setup_token_of_staff_reaches_no_one_elses_secrets(user, other_user, clock, required):
    from django.contrib.auth.models import Permission

    required("staff")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_secret"))
    services.create_secret(other_user, issuer="Example")
    setup = with_token(setup_login()["token"])
    assert setup.get(f"/users/{other_user.pk}/secrets").status_code == 404


def test_a_setup_token_ends_once_the_user_enrolled_elsewhere(user, clock, required):
    required()
    token = setup_login()["token"]
    enroll_with(with_token(setup_login()["token"]), clock)
    response = with_token(token).get("/users/me/secrets")
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_required"


def test_a_setup_token_expires_with_its_login(user, clock, required):
    required()
    setup = with_token(setup_login()["token"])
    clock.advance(601)
    response = setup.post("/users/me/secrets", {"type": "mfa"}, format="json")
    assert response.status_code == 401


# The grace.


def test_the_grace_lets_a_user_in_with_a_deadline_then_asks_for_setup(user, clock, required):
    required(grace=3600)
    first = login(APIClient()).json()
    assert first["type"] == "ACCESS"
    due = (clock.now + timedelta(seconds=3600)).isoformat().replace("+00:00", "Z")
    assert first["mfa_setup_due"] == due
    clock.advance(1800)
    assert login(APIClient()).json()["mfa_setup_due"] == due  # counted from the first login
    assert MFAState.objects.get(user=user).setup_grace_from == clock.now - timedelta(seconds=1800)
    clock.advance(1800)
    assert login(APIClient()).json()["type"] == "SETUP"


def test_without_the_policy_no_grace_is_started(user, clock, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "REQUIRED_GRACE": 3600}
    assert "mfa_setup_due" not in login(APIClient()).json()
    assert not MFAState.objects.filter(user=user).exists()


# The last method stays; a reset still works.


def test_the_last_method_cannot_be_deleted(user, clock, required, enrolled, flow):
    required()
    response = flow.client.delete(
        f"/users/me/secrets/{enrolled['id']}",
        {"token": clock.code(enrolled["key"])},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_required"
    assert "add another method first" in response.json()["message"]
    secret = Secret.objects.get()
    assert secret.status == "active" and secret.last_step is not None
    assert secret.failure_count == 0
    # The code was not checked, so it is not spent: the same step still logs in.
    challenge = challenge_of(APIClient())
    assert redeem(APIClient(), challenge, token=clock.code(enrolled["key"])).status_code == 200


def test_an_admin_reset_still_works(user, clock, required, enrolled):
    required()
    assert services.reset_mfa(user, by=None)
    assert not Secret.objects.exists()
    assert login(APIClient()).json()["type"] == "SETUP"


# Every other door.


def test_the_admin_login_says_how_to_set_mfa_up(user, clock, required):
    required("staff")
    user.is_staff = True
    user.save()
    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": PASSWORD, "mfa_code": "", "next": "/admin/"},
    )
    assert response.status_code == 200  # the form again, not a login
    errors = [str(e) for e in response.context["form"].non_field_errors()]
    assert errors and errors[0].startswith("Your account must use two-step verification")
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_admin_login_with_a_wrong_password_says_nothing_of_it(user, clock, required):
    required("staff")
    user.is_staff = True
    user.save()
    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": "wrong", "mfa_code": "", "next": "/admin/"},
    )
    errors = [str(e) for e in response.context["form"].non_field_errors()]
    assert not any("two-step" in error for error in errors)


def test_django_authenticate_and_simplejwt_views_refuse_such_a_user(user, clock, required):
    required()
    assert authenticate(None, username="alice", password=PASSWORD) is None
    response = APIClient().post(
        "/api/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401
    assert not Client().login(username="alice", password=PASSWORD)


def test_within_the_grace_the_other_doors_let_the_user_in(user, clock, required):
    required(grace=3600)
    assert authenticate(None, username="alice", password=PASSWORD) is not None


def test_existing_tokens_follow_the_credential_rules(user, clock, required):
    """A token from before the policy holds as any password-only token does, until MFA
    goes on (API.md: the first section)."""
    before = login(APIClient()).json()["token"]
    required()
    assert with_token(before).get("/site/whoami/").status_code == 200


def test_a_policy_function_that_is_not_there_fails_loudly(user, clock, required):
    required("tests.test_policy.no_such_rule")
    with pytest.raises(ImportError):
        services.must_use_mfa(make_user("bob"))


@pytest.mark.parametrize("value", ["Staff", "everyone", "tests.test_policy.no_such_rule", "os.sep"])
def test_a_policy_that_names_no_rule_is_a_system_check_error(settings, value):
    from django_mfa_enroll.checks import E014, check_required

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "REQUIRED": value}
    assert [error.id for error in check_required()] == [E014]


@pytest.mark.parametrize("value", [None, "staff", "all", "tests.test_policy.only_alice"])
def test_a_policy_that_names_a_rule_passes_the_check(settings, value):
    from django_mfa_enroll.checks import check_required

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "REQUIRED": value}
    assert check_required() == []


# What a hostile review found, each now a rule.


def test_the_grace_binds_its_tokens_and_their_refreshes_too(user, clock, required, settings):
    required(grace=3600)
    answer = login(APIClient()).json()
    assert answer["type"] == "ACCESS"
    client = with_token(answer["token"])
    assert client.get("/site/whoami/").status_code == 200
    clock.advance(3601)
    response = client.get("/site/whoami/")
    assert response.status_code == 401 and response.json()["code"] == "mfa_setup_required"
    refreshed = APIClient().post("/auth/refresh", {"refresh": answer["refresh"]}, format="json")
    assert refreshed.status_code == 401
    assert refreshed.json()["code"] == "mfa_setup_required"


def test_a_grace_login_that_enrolled_goes_on(user, clock, required):
    required(grace=3600)
    answer = login(APIClient()).json()
    client = with_token(answer["token"])
    enroll_with(client, clock)  # enrolling ends the password-only token anyway
    clock.advance(3601)
    challenge = challenge_of(APIClient())
    assert challenge


def test_the_grace_binds_its_sessions(user, clock, required):
    required(grace=3600)
    browser = Client()
    assert browser.login(username="alice", password=PASSWORD)
    assert browser.get("/site/members/").status_code == 200
    clock.advance(3601)
    assert browser.get("/site/members/").status_code == 302


def test_no_api_key_before_mfa_when_it_is_required(user, clock, required):
    required(grace=3600)
    client = with_token(login(APIClient()).json()["token"])
    response = client.post("/users/me/secrets", {"type": "apikey"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_setup_required"
    assert not APIKey.objects.exists()


def test_a_policy_that_fails_says_yes_and_is_logged(user, clock, required, caplog):
    required("tests.test_policy.broken_rule")
    assert login(APIClient()).json()["type"] == "SETUP"
    assert "MFA policy failed" in caplog.text


def broken_rule(user) -> bool:
    raise RuntimeError("the site's rule is broken")


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRUST_DAYS", 0), ("TRUST_DAYS", 10**9), ("TRUST_MAX_DEVICES", 0), ("REQUIRED_GRACE", -1)],
)
def test_trust_and_grace_out_of_range_are_a_check_error(settings, name, value):
    from django_mfa_enroll.checks import E015, check_trust_and_grace

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, name: value}
    assert [error.id for error in check_trust_and_grace()] == [E015]


def test_a_grace_once_begun_costs_a_login_one_read(user, clock, required):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_mfa_enroll.services.policy import grace_started

    first = grace_started(user.pk, clock.now)
    clock.advance(10)
    with CaptureQueriesContext(connection) as captured:
        assert grace_started(user.pk, clock.now) == first
    assert len(captured.captured_queries) == 1
