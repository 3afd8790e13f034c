"""Every credential follows the user's MFA state (API.md, first section): access tokens,
refreshes and recent authentication. Sessions and simplejwt's own views: test_doors.py."""

from __future__ import annotations

import jwt
import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll import services
from django_mfa_enroll.models import Secret

from .conftest import access_token_for, login, make_user, redeem, sign_in

pytestmark = pytest.mark.django_db

SECRETS = "/users/me/secrets"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def totp_login(client, enrolled, clock) -> dict:
    """A whole login with password and TOTP code; the ACCESS answer. Moves the clock on."""
    clock.next_step()
    response = redeem(client, login(client).json()["token"], token=clock.code(enrolled["key"]))
    assert response.status_code == 200, response.content
    return response.json()


def state_of(user, enrolled) -> tuple:
    codes = services.get_secret(user, enrolled["id"]).backup_codes.values_list("code_hash")
    return list(Secret.objects.values()), sorted(codes)


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    return client


# The rule itself, as a table.


@pytest.mark.parametrize(
    ("amr", "sid_is_active", "has_mfa", "refused"),
    [
        (["pwd"], False, False, None),
        (["pwd"], False, True, services.MFARequired),
        (None, False, True, services.MFARequired),  # simplejwt's own tokens carry no amr
        ("mfa", False, True, services.MFARequired),  # a string is not a list of methods
        (["pwd", "otp", "mfa"], True, True, None),
        (["pwd", "otp", "mfa"], False, True, services.MFAReset),  # another secret's sid
        (["pwd", "mfa"], False, False, services.MFAReset),  # its secret is gone
    ],
)
def test_the_rule(user, clock, flow, amr, sid_is_active, has_mfa, refused):
    sid = flow.enroll()["id"] if has_mfa else None
    if not sid_is_active:
        sid = "7f2b2f0e-6f4e-4a8e-9a53-7d1c2d0e9b11"
    now = int(clock.now.timestamp())  # a login of now, after any change
    if refused is None:
        services.check_credential(user.pk, amr, sid, now)
    else:
        with pytest.raises(refused):
            services.check_credential(user.pk, amr, sid, now)


def test_a_pending_secret_is_not_mfa(user, flow):
    flow.create()
    services.check_credential(user.pk, ["pwd"], None, None)  # no active method, no change
    assert services.active_method_ids(user.pk) == []


@pytest.mark.parametrize(
    "auth_time", [None, "1700000000", 1.5e9, True, -1], ids=["none", "text", "float", "bool", "old"]
)
def test_a_login_from_before_the_last_change_is_refused_whatever_else(
    user, clock, enrolled, auth_time
):
    sid = enrolled["id"]
    services.check_credential(user.pk, ["pwd", "otp", "mfa"], sid, int(clock.now.timestamp()))
    with pytest.raises(services.MFAReset):
        services.check_credential(user.pk, ["pwd", "otp", "mfa"], sid, auth_time)


# A password-only credential from before an enrollment stays dead when MFA goes off again
# (the review of issue 13 found it came back).


@pytest.mark.parametrize("how", ["delete", "reset"])
def test_a_password_token_from_before_enrolling_stays_dead_after_mfa_is_off(user, clock, flow, how):
    before = login(APIClient()).json()
    clock.advance(5)
    enrolled = flow.enroll()
    clock.advance(5)
    if how == "delete":
        response = flow.client.delete(
            f"{SECRETS}/{enrolled['id']}", {"token": enrolled["codes"][0]}, format="json"
        )
        assert response.status_code == 204
    else:
        services.reset_mfa(user, by="test")
    assert not Secret.objects.exists()  # MFA is off again
    response = bearer(before["token"]).get(SECRETS)
    assert response.status_code == 401 and response.json()["code"] == "mfa_reset"
    refreshed = APIClient().post("/auth/refresh", {"refresh": before["refresh"]}, format="json")
    # A reset also blacklists refresh tokens where simplejwt's blacklist app is installed.
    codes = {"mfa_reset"} if how == "delete" else {"mfa_reset", "token_not_valid"}
    assert refreshed.status_code == 401 and refreshed.json()["code"] in codes
    fresh = login(APIClient()).json()  # a password login of now works, MFA being off
    assert bearer(fresh["token"]).get(SECRETS).status_code == 200


def test_a_pending_secret_created_and_deleted_changes_nothing(user, clock, flow):
    before = login(APIClient()).json()
    clock.advance(5)
    created = flow.create()
    assert flow.client.delete(f"{SECRETS}/{created['id']}").status_code == 204
    assert bearer(before["token"]).get(SECRETS).status_code == 200  # MFA never changed


# Access tokens at the app's JWTAuthentication.


def test_enrolling_ends_the_password_only_access_token(user, clock, flow):
    before = login(APIClient()).json()
    assert bearer(before["token"]).get(SECRETS).status_code == 200
    flow.enroll()  # through another client: the user sets MFA up
    for path in (SECRETS, "/site/whoami/"):
        response = bearer(before["token"]).get(path)
        assert response.status_code == 401, path
        assert response.json() == {
            "code": "mfa_required",
            "status": 401,
            "message": "This account now requires a second factor; log in again.",
        }
    assert 'Bearer realm="api"' in bearer(before["token"]).get(SECRETS)["WWW-Authenticate"]


def test_simplejwts_own_tokens_follow_the_rule_too(user, clock, flow):
    stock = str(RefreshToken.for_user(user).access_token)  # no amr: a password alone
    assert bearer(stock).get(SECRETS).status_code == 200
    flow.enroll()
    assert bearer(stock).get(SECRETS).json()["code"] == "mfa_required"


def test_a_reset_ends_the_access_tokens_of_the_old_secret(user, clock, enrolled):
    tokens = totp_login(APIClient(), enrolled, clock)
    assert bearer(tokens["token"]).get(SECRETS).status_code == 200
    services.reset_mfa(user, by="test")
    for path in (SECRETS, "/site/whoami/"):
        response = bearer(tokens["token"]).get(path)
        assert response.status_code == 401 and response.json()["code"] == "mfa_reset"


def test_a_new_secret_does_not_revive_the_old_secrets_tokens(user, clock, enrolled, flow):
    tokens = totp_login(APIClient(), enrolled, clock)
    services.reset_mfa(user, by="test")
    sign_in(flow.client, user)
    again = flow.enroll()
    assert bearer(tokens["token"]).get(SECRETS).json()["code"] == "mfa_reset"
    fresh = totp_login(APIClient(), {"key": again["key"]}, clock)
    assert bearer(fresh["token"]).get(SECRETS).status_code == 200


def test_the_tokens_of_another_user_are_untouched(user, clock, enrolled):
    other = make_user("bob")
    token = access_token_for(other)
    services.reset_mfa(user, by="test")
    assert bearer(token).get(SECRETS).status_code == 200


# Refresh tokens at /auth/refresh (simplejwt's TokenRefreshView: test_doors.py).


def test_a_pre_enrollment_refresh_token_dies_at_enrollment(user, clock, flow):
    before = login(APIClient()).json()
    flow.enroll()
    response = APIClient().post("/auth/refresh", {"refresh": before["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "mfa_required"


def test_a_refresh_keeps_the_logins_auth_time(user, clock, enrolled):
    tokens = totp_login(APIClient(), enrolled, clock)
    first = claims_of(tokens["token"])["auth_time"]
    assert first == int(clock.now.timestamp())
    clock.advance(3600)
    renewed = APIClient().post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert renewed.status_code == 200
    assert claims_of(renewed.json()["token"])["auth_time"] == first
    assert claims_of(renewed.json()["token"])["amr"] == ["pwd", "otp", "mfa"]


def test_a_password_login_says_when_it_happened(user, clock):
    answer = login(APIClient()).json()
    assert claims_of(answer["token"])["auth_time"] == int(clock.now.timestamp())
    assert claims_of(answer["refresh"])["amr"] == ["pwd"]


@pytest.mark.parametrize("user_id", ["not-a-key", "", "12345678901234567890123456789"])
def test_a_refresh_token_naming_no_user_is_401(user, user_id):
    refresh = RefreshToken.for_user(user)
    refresh["user_id"] = user_id
    response = APIClient().post("/auth/refresh", {"refresh": str(refresh)}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "no_active_account"


# Recent authentication (REAUTH_MAX_AGE).


def test_a_fresh_login_may_change_factors(user, clock, flow):
    flow.enroll()  # create, QR code and enroll, on a login of this minute


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", SECRETS, {"type": "mfa"}),
        ("get", SECRETS + "/{pending}/qrcode", None),
        ("put", SECRETS + "/{pending}/enroll", {"token": "{code}"}),
    ],
    ids=["create", "qrcode", "enroll"],
)
def test_an_old_login_cannot_set_mfa_up(user, clock, method, path, body):
    client = APIClient()
    sign_in(client, user)
    pending = client.post(SECRETS, {"type": "mfa"}, format="json").json()
    code = clock.code(pending["secret"]["secret"])
    stale = login(APIClient()).json()["token"]
    clock.advance(601)
    before = list(Secret.objects.values())
    data = None if body is None else {k: v.format(code=code) for k, v in body.items()}
    response = getattr(bearer(stale), method)(
        path.format(pending=pending["id"]), data, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "reauthentication_required"
    assert "log in again" in response.json()["message"]
    assert response["WWW-Authenticate"]
    assert list(Secret.objects.values()) == before


@pytest.mark.parametrize("action", ["codes", "delete"])
def test_an_old_login_cannot_change_or_remove_the_factor(user, clock, enrolled, action):
    tokens = totp_login(APIClient(), enrolled, clock)
    clock.advance(601)
    clock.next_step()
    client = bearer(tokens["token"])
    before = state_of(user, enrolled)
    code = {"token": clock.code(enrolled["key"])}
    if action == "codes":
        response = client.post(f"{SECRETS}/{enrolled['id']}/codes", code, format="json")
    else:
        response = client.delete(f"{SECRETS}/{enrolled['id']}", code, format="json")
    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert state_of(user, enrolled) == before
    # Reading is not changing: the list still answers.
    assert client.get(SECRETS).status_code == 200


def test_the_limit_is_the_setting(user, clock):
    client = APIClient()
    sign_in(client, user)
    stale = login(APIClient()).json()["token"]
    clock.advance(120)
    with override_settings(MFA_ENROLL={"ISSUER": "Example", "REAUTH_MAX_AGE": 60}):
        assert bearer(stale).post(SECRETS, {"type": "mfa"}, format="json").status_code == 401
    with override_settings(MFA_ENROLL={"ISSUER": "Example", "REAUTH_MAX_AGE": 180}):
        assert bearer(stale).post(SECRETS, {"type": "mfa"}, format="json").status_code == 200


def test_a_token_that_never_said_when_is_not_recent(user):
    stock = str(RefreshToken.for_user(user).access_token)
    response = bearer(stock).post(SECRETS, {"type": "mfa"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert not Secret.objects.exists()


def test_a_stolen_refresh_token_cannot_reread_the_pending_key(user, clock):
    """The issue's attack: a pre-enrollment refresh token, refreshed later, re-reads the QR
    code of the victim's pending secret; after the victim enrolls it is refused outright."""
    victim = APIClient()
    tokens = login(victim).json()
    victim.credentials(HTTP_AUTHORIZATION=f"jwt {tokens['token']}")
    pending = victim.post(SECRETS, {"type": "mfa"}, format="json").json()
    clock.advance(601)
    thief = APIClient()
    renewed = thief.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    response = bearer(renewed["token"]).get(f"{SECRETS}/{pending['id']}/qrcode")
    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    sign_in(victim, user)
    victim.put(
        f"{SECRETS}/{pending['id']}/enroll",
        {"token": clock.code(pending["secret"]["secret"])},
        format="json",
    )
    response = thief.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "mfa_required"


def test_staff_acting_on_another_users_secrets_need_a_recent_login(user, clock, enrolled):
    from django.contrib.auth.models import Permission

    staff = make_user("root", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["reset_mfa", "view_secret"])
    )
    stale = access_token_for(staff, auth_time=int(clock.now.timestamp()) - 601)
    path = f"/users/{user.pk}/secrets/{enrolled['id']}"
    assert bearer(stale).get(f"/users/{user.pk}/secrets").status_code == 200  # reading
    response = bearer(stale).delete(path)
    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert Secret.objects.filter(pk=enrolled["id"]).exists()
    fresh = access_token_for(staff, auth_time=int(clock.now.timestamp()))
    assert bearer(fresh).delete(path).status_code == 204
    assert not Secret.objects.exists()


def test_staff_with_mfa_act_on_others_only_with_their_own_factor(user, clock, enrolled):
    from django.contrib.auth.models import Permission

    staff = make_user("root", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="reset_mfa"))
    staff_client = APIClient()
    sign_in(staff_client, staff)
    staff_flow_secret = staff_client.post(SECRETS, {"type": "mfa"}, format="json").json()
    staff_client.put(
        f"{SECRETS}/{staff_flow_secret['id']}/enroll",
        {"token": clock.code(staff_flow_secret["secret"]["secret"])},
        format="json",
    )
    path = f"/users/{user.pk}/secrets/{enrolled['id']}"
    password_only = access_token_for(staff)
    response = bearer(password_only).delete(path)
    assert response.status_code == 401 and response.json()["code"] == "mfa_required"
    assert Secret.objects.filter(pk=enrolled["id"]).exists()
    with_factor = access_token_for(staff, amr=("pwd", "otp", "mfa"), sid=staff_flow_secret["id"])
    assert bearer(with_factor).delete(path).status_code == 204
