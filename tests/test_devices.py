"""Trusted devices (API.md, "Trusted devices"): remembered after a second factor, honoured
with the password, never a way around a factor or the failure count, revoked at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import UntypedToken

from django_mfa_enroll import apikeys, services
from django_mfa_enroll.models import Event, Secret, TrustedDevice

from .conftest import PASSWORD, challenge_of, login, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def trust(settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 30}


def remembered(clock, enrolled, **headers) -> dict:
    """Log in with a code and ``"remember": true``; the answer."""
    client = APIClient(**headers)
    challenge = challenge_of(client)
    response = redeem(client, challenge, token=clock.code(enrolled["key"]), remember=True)
    assert response.status_code == 200, response.content
    clock.next_step()
    return response.json()


def password_with_device(token, password=PASSWORD, header=False):
    body = {"username": "alice", "password": password}
    if header:
        return APIClient().post("/auth/password", body, format="json", HTTP_X_MFA_DEVICE=token)
    return APIClient().post("/auth/password", {**body, "device_token": token}, format="json")


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    return client


# Remembered, and honoured.


def test_remember_answers_a_device_token_once(trust, user, clock, enrolled):
    answer = remembered(clock, enrolled, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/120")
    token = answer["device_token"]
    assert apikeys.prefix_of(token, apikeys.DEVICE_TAG) is not None  # 256 random bits
    assert answer["device_expires_in"] == 30 * 86_400
    row = TrustedDevice.objects.get()
    assert row.token_hash == apikeys.hash_key(token) and token not in row.token_hash
    assert row.agent == "Firefox on Linux" and str(row.secret_id) == enrolled["id"]
    assert Event.objects.filter(type="device_added", user=user).count() == 1


def test_without_remember_or_with_trust_off_no_device(user, clock, enrolled, settings):
    client = APIClient()
    answer = redeem(client, challenge_of(client), token=clock.code(enrolled["key"])).json()
    assert "device_token" not in answer
    clock.next_step()
    answer = remembered(clock, enrolled)  # TRUST_DAYS is None: remember is ignored
    assert "device_token" not in answer and not TrustedDevice.objects.exists()


@pytest.mark.parametrize("header", [False, True])
def test_the_password_and_the_device_token_log_in_without_a_challenge(
    trust, user, clock, enrolled, header
):
    token = remembered(clock, enrolled)["device_token"]
    response = password_with_device(token, header=header)
    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == "ACCESS"
    claims = UntypedToken(answer["token"]).payload
    assert claims["amr"] == ["pwd", "device", "mfa"] and claims["sid"] == enrolled["id"]
    assert TrustedDevice.objects.get().last_used_at == clock.now
    assert Event.objects.filter(type="login", detail__method="device").count() == 1


def test_a_device_login_is_mfa_verified_but_no_step_up(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    client = with_token(password_with_device(token).json()["token"])
    assert client.get("/site/sensitive/").status_code == 200  # IsMFAVerified
    assert client.get("/site/step-up/").status_code == 403  # mfa_within(300)
    # Nor a way to new credentials that ask for a factor entered.
    made = client.post("/users/me/secrets", {"type": "apikey"}, format="json")
    assert made.status_code == 403 and made.json()["code"] == "mfa_required"


def test_the_device_token_never_replaces_the_password(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    response = password_with_device(token, password="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


# Refused: the login gets its challenge, and its codes count.


def test_a_guessed_token_gets_the_challenge_and_the_codes_still_count(trust, user, clock, enrolled):
    remembered(clock, enrolled)
    guess = apikeys.new_key(apikeys.DEVICE_TAG).key
    answer = password_with_device(guess).json()
    assert answer["type"] == "CHALLENGE"
    wrong = f"{(int(clock.code(enrolled['key'])) + 1) % 1_000_000:06d}"
    assert redeem(APIClient(), answer["token"], token=wrong).status_code == 401
    assert Secret.objects.get().failure_count == 1


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "mfad_" + "a" * 12 + "_" + "b" * 43,  # well formed, no such device
        "mfak_" + "a" * 12 + "_" + "b" * 43,  # an API key's shape
        "mfad_" + "a" * 12 + "_" + "b" * 42 + "!",
    ],
)
def test_anything_else_gets_the_challenge(trust, user, clock, enrolled, token):
    remembered(clock, enrolled)
    assert password_with_device(token).json()["type"] == "CHALLENGE"


@pytest.mark.parametrize("token", [["x"], 42, {"a": 1}, "x" * 129])
def test_a_malformed_device_token_is_a_400_naming_it(trust, user, clock, enrolled, token):
    response = APIClient().post(
        "/auth/password",
        {"username": "alice", "password": PASSWORD, "device_token": token},
        format="json",
    )
    assert response.status_code == 400
    assert "device_token" in response.json()["errors"]


def test_another_users_device_token_gets_the_challenge(trust, user, other_user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    other = services.create_secret(other_user, issuer="Example")
    services.enroll_secret(other_user, other.secret.pk, clock.code(other.key_base32))
    clock.next_step()
    response = APIClient().post(
        "/auth/password",
        {"username": "mallory", "password": PASSWORD, "device_token": token},
        format="json",
    )
    assert response.json()["type"] == "CHALLENGE"


def test_an_expired_device_gets_the_challenge(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    clock.advance(30 * 86_400 + 1)
    assert password_with_device(token).json()["type"] == "CHALLENGE"


def test_turning_trust_off_stops_honouring_devices(trust, user, clock, enrolled, settings):
    token = remembered(clock, enrolled)["device_token"]
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": None}
    assert password_with_device(token).json()["type"] == "CHALLENGE"


# Revoked: by the user, a new backup-code set, a reset, deleting the method.


def test_the_user_lists_and_revokes_devices(trust, user, clock, enrolled, flow):
    token = remembered(clock, enrolled, HTTP_USER_AGENT="Mozilla/5.0 (Macintosh) Safari/17")[
        "device_token"
    ]
    listed = flow.client.get("/users/me/devices").json()
    assert [set(device) for device in listed] == [
        {"id", "agent", "created_at", "last_used_at", "expires_at"}
    ]
    assert token not in str(listed) and listed[0]["agent"] == "Safari on macOS"
    response = flow.client.delete(f"/users/me/devices/{listed[0]['id']}")
    assert response.status_code == 204
    assert password_with_device(token).json()["type"] == "CHALLENGE"
    assert Event.objects.filter(type="device_revoked").count() == 1
    assert flow.client.delete(f"/users/me/devices/{listed[0]['id']}").status_code == 404


def test_another_users_devices_are_out_of_reach(trust, user, other_user, clock, enrolled):
    remembered(clock, enrolled)
    device = TrustedDevice.objects.get()
    mallory = with_token(login(APIClient(), "mallory").json()["token"])
    assert mallory.get(f"/users/{user.pk}/devices").status_code == 404
    assert mallory.delete(f"/users/me/devices/{device.pk}").status_code == 404
    assert mallory.delete("/users/me/devices/not-a-uuid").status_code == 404
    assert TrustedDevice.objects.exists()


def test_a_new_backup_code_set_revokes_every_device(trust, user, clock, enrolled, flow):
    token = remembered(clock, enrolled)["device_token"]
    response = flow.client.post(
        f"/users/me/secrets/{enrolled['id']}/codes",
        {"token": clock.code(enrolled["key"])},
        format="json",
    )
    assert response.status_code == 200
    assert not TrustedDevice.objects.exists()
    assert password_with_device(token).json()["type"] == "CHALLENGE"


def test_a_reset_revokes_every_device(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    services.reset_mfa(user)
    assert not TrustedDevice.objects.exists()
    # No MFA now: a password alone logs in, and the old device says nothing more.
    answer = password_with_device(token).json()
    assert answer["type"] == "ACCESS"
    assert UntypedToken(answer["token"]).payload["amr"] == ["pwd"]


def test_deleting_the_method_revokes_every_device(trust, user, clock, enrolled, flow):
    remembered(clock, enrolled)
    response = flow.client.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": enrolled["codes"][0]}, format="json"
    )
    assert response.status_code == 204
    assert not TrustedDevice.objects.exists()


def test_at_most_trust_max_devices_the_oldest_goes(trust, user, clock, enrolled, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_MAX_DEVICES": 2}
    first = remembered(clock, enrolled)["device_token"]
    clock.advance(1)
    second = remembered(clock, enrolled)["device_token"]
    clock.advance(1)
    third = remembered(clock, enrolled)["device_token"]
    assert TrustedDevice.objects.count() == 2
    assert password_with_device(first).json()["type"] == "CHALLENGE"
    assert password_with_device(second).json()["type"] == "ACCESS"
    assert password_with_device(third).json()["type"] == "ACCESS"


def test_a_device_of_an_older_secret_is_gone_with_it(trust, user, clock, enrolled, flow):
    """Bound to the secret whose code earned it: MFA off and on again leaves no device."""
    token = remembered(clock, enrolled)["device_token"]
    services.reset_mfa(user)
    new = services.create_secret(user, issuer="Example")
    services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert password_with_device(token).json()["type"] == "CHALLENGE"


def test_a_device_use_is_written_at_most_once_a_minute(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    password_with_device(token)
    first = TrustedDevice.objects.get().last_used_at
    clock.advance(30)
    password_with_device(token)
    assert TrustedDevice.objects.get().last_used_at == first
    clock.advance(31)
    password_with_device(token)
    assert TrustedDevice.objects.get().last_used_at == first + timedelta(seconds=61)


def test_the_device_token_is_never_logged_or_in_events(trust, user, clock, enrolled, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        token = remembered(clock, enrolled)["device_token"]
        password_with_device(token)
    secret_part = token.split("_", 2)[2]
    assert secret_part not in caplog.text
    assert all(secret_part not in str(event.detail) for event in Event.objects.all())


# The admin.


def test_the_admin_lists_devices_never_their_tokens_and_revokes_them(trust, user, clock, enrolled):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from .conftest import force_password_login, make_user

    token = remembered(clock, enrolled)["device_token"]
    device = TrustedDevice.objects.get()
    admin = make_user("root", is_staff=True, is_superuser=True)
    browser = Client()
    force_password_login(browser, admin)
    page = browser.get("/admin/django_mfa_enroll/trusteddevice/").content.decode()
    assert device.prefix in page
    assert token.split("_", 2)[2] not in page and device.token_hash not in page
    action = {"action": "revoke_trusted_devices", "_selected_action": [str(device.pk)]}
    confirm = browser.post("/admin/django_mfa_enroll/trusteddevice/", action)
    assert confirm.status_code == 200 and b"Revoke these devices?" in confirm.content
    done = browser.post(
        "/admin/django_mfa_enroll/trusteddevice/", {**action, "confirm": "yes"}, follow=True
    )
    assert b"Revoked 1 trusted device." in done.content
    assert not TrustedDevice.objects.exists()
    assert Event.objects.get(type="device_revoked").actor == f"user {admin.pk}"
    assert password_with_device(token).json()["type"] == "CHALLENGE"
    assert Permission.objects.filter(codename="revoke_trusted_devices").exists()


def test_non_ascii_tokens_and_keys_are_refused_not_a_500(trust, user, clock, enrolled):
    assert password_with_device("é" * 60).json()["type"] == "CHALLENGE"
    assert password_with_device("é", header=False).json()["type"] == "CHALLENGE"
    response = APIClient().get("/site/key/whoami/", HTTP_AUTHORIZATION="apikey éé")
    assert response.status_code == 401


def test_a_device_login_resets_no_one_else(trust, user, other_user, clock, enrolled):
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="reset_mfa"))
    other = services.create_secret(other_user, issuer="Example")
    services.enroll_secret(other_user, other.secret.pk, clock.code(other.key_base32))
    clock.next_step()
    token = remembered(clock, enrolled)["device_token"]
    staff = with_token(password_with_device(token).json()["token"])
    response = staff.delete(f"/users/{other_user.pk}/secrets/{other.secret.pk}")
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert Secret.objects.filter(user=other_user).exists()


def test_lowering_trust_days_shortens_devices_already_trusted(
    trust, user, clock, enrolled, settings
):
    token = remembered(clock, enrolled)["device_token"]
    clock.advance(2 * 86_400)
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 1}
    assert password_with_device(token).json()["type"] == "CHALLENGE"


def test_a_password_change_revokes_every_device(trust, user, clock, enrolled, flow):
    token = remembered(clock, enrolled)["device_token"]
    response = flow.client.post(
        "/users/me/secrets",
        {
            "type": "password",
            "secret": "a new long passphrase 8",
            "token": clock.code(enrolled["key"]),
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert not TrustedDevice.objects.exists()
    answer = (
        APIClient()
        .post(
            "/auth/password",
            {"username": "alice", "password": "a new long passphrase 8", "device_token": token},
            format="json",
        )
        .json()
    )
    assert answer["type"] == "CHALLENGE"


def test_a_huge_trust_days_is_capped_not_a_500(trust, user, clock, enrolled, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 10**9}
    answer = remembered(clock, enrolled)
    assert answer["device_expires_in"] == 3650 * 86_400


def test_the_right_prefix_with_a_wrong_secret_gets_the_challenge(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    tag, prefix, secret = token.split("_", 2)
    forged = f"{tag}_{prefix}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    assert password_with_device(forged).json()["type"] == "CHALLENGE"
    assert TrustedDevice.objects.get().last_used_at is None  # the forgery touched nothing


def test_a_device_is_trusted_until_its_expiry_not_at_it(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    expires_at = TrustedDevice.objects.get().expires_at
    clock.now = expires_at - timedelta(seconds=1)
    assert password_with_device(token).json()["type"] == "ACCESS"
    clock.now = expires_at
    assert password_with_device(token).json()["type"] == "CHALLENGE"


def test_revoking_one_device_leaves_the_others(trust, user, clock, enrolled, flow):
    first = remembered(clock, enrolled)["device_token"]
    clock.advance(1)
    second = remembered(clock, enrolled)["device_token"]
    listed = flow.client.get("/users/me/devices").json()
    assert [d["created_at"] for d in listed] == sorted(d["created_at"] for d in listed)
    assert flow.client.delete(f"/users/me/devices/{listed[1]['id']}").status_code == 204
    assert password_with_device(first).json()["type"] == "ACCESS"
    assert password_with_device(second).json()["type"] == "CHALLENGE"
    revoked = Event.objects.get(type="device_revoked")
    assert revoked.detail == {"prefix": second.split("_")[1]}
    assert str(revoked.secret_id) == enrolled["id"]


def test_a_device_login_is_recorded_on_its_secret(trust, user, clock, enrolled):
    token = remembered(clock, enrolled)["device_token"]
    clock.advance(5)
    password_with_device(token)
    event = Event.objects.get(type="login", detail__method="device")
    assert str(event.secret_id) == enrolled["id"] and event.at == clock.now


def test_a_device_logs_in_while_wrong_codes_have_locked_the_secret(trust, user, clock, enrolled):
    """The lock is on codes: a trusted device (with the password) is not a code."""
    token = remembered(clock, enrolled)["device_token"]
    Secret.objects.update(locked_until=clock.now + timedelta(hours=1), failure_count=50)
    assert password_with_device(token).json()["type"] == "ACCESS"
    challenge = challenge_of(APIClient())
    locked = redeem(APIClient(), challenge, token=clock.code(enrolled["key"]))
    assert locked.status_code == 429


def test_a_huge_trust_days_is_capped_at_login_too_not_a_500(trust, user, clock, enrolled, settings):
    token = remembered(clock, enrolled)["device_token"]
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 10**9}
    assert password_with_device(token).json()["type"] == "ACCESS"
