"""Rules a mutation run found untested (issue 18), each as a user or an attacker sees it:
one user's code never opens another's account, refresh and challenge tokens are read
strictly, the settings a site changes are the ones used, and what operators and listeners
are told is right and holds no code."""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll import backup_codes, services, signals, totp
from django_mfa_enroll.authentication import ChallengeToken
from django_mfa_enroll.models import BackupCode, Secret

from .conftest import challenge_of, login, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def mallory(other_user, clock):
    """Another user with MFA on: their key and backup codes."""
    new = services.create_secret(other_user, issuer="Example")
    enrollment = services.enroll_secret(other_user, new.secret.pk, clock.code(new.key_base32))
    clock.next_step()
    return {"user": other_user, "key": new.key_base32, "codes": enrollment.codes}


def wrong_code(clock, key) -> str:
    return f"{(int(clock.code(key)) + 1) % 1_000_000:06d}"


# One user's code never opens another user's account.


def test_another_users_backup_code_does_not_log_in(user, clock, enrolled, mallory):
    response = redeem(APIClient(), challenge_of(APIClient()), backup_code=mallory["codes"][0])
    assert response.status_code == 401 and response.json()["code"] == "invalid_code"
    assert BackupCode.objects.filter(used_at__isnull=False).count() == 0  # mallory's unspent
    login_as_mallory = redeem(
        APIClient(), challenge_of(APIClient(), username="mallory"), backup_code=mallory["codes"][0]
    )
    assert login_as_mallory.status_code == 200


def test_another_users_codes_do_not_delete_or_regenerate(user, clock, enrolled, mallory, flow):
    secret = f"/users/me/secrets/{enrolled['id']}"
    deleted = flow.client.delete(secret, {"token": mallory["codes"][0]}, format="json")
    assert deleted.status_code == 400 and deleted.json()["code"] == "invalid_code"
    regenerated = flow.client.post(
        f"{secret}/codes", {"token": clock.code(mallory["key"])}, format="json"
    )
    if clock.code(mallory["key"]) != clock.code(enrolled["key"]):
        assert regenerated.status_code == 400 and regenerated.json()["code"] == "invalid_code"
    assert Secret.objects.filter(pk=enrolled["id"], status="active").exists()


def test_a_backup_code_check_refuses_a_foreign_or_malformed_hash():
    mine, theirs = (backup_codes.normalise(c) for c in backup_codes.generate_set(2))
    assert backup_codes.check(mine, backup_codes.make_hash(mine, 1000))
    assert not backup_codes.check(mine, backup_codes.make_hash(theirs, 1000))
    for malformed in ("", "not a hash", "pbkdf2_sha256$x$y$z", "md5$salt$abc"):
        assert not backup_codes.check(mine, malformed)


# Refresh and challenge tokens are read strictly.


def test_refreshing_for_an_inactive_user_is_401(user, clock):
    answer = login(APIClient()).json()
    user.is_active = False
    user.save()
    response = APIClient().post("/auth/refresh", {"refresh": answer["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "no_active_account"


def test_a_site_minted_refresh_token_of_an_mfa_user_is_a_clear_401(user, clock, enrolled):
    """simplejwt's own RefreshToken.for_user says nothing of MFA: a password alone."""
    token = str(RefreshToken.for_user(user))
    response = APIClient().post("/auth/refresh", {"refresh": token}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "mfa_required"


def test_with_blacklist_after_rotation_the_old_refresh_token_is_refused(user, clock, settings):
    settings.SIMPLE_JWT = {
        **getattr(settings, "SIMPLE_JWT", {}),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
    }
    old = login(APIClient()).json()["refresh"]
    first = APIClient().post("/auth/refresh", {"refresh": old}, format="json")
    assert first.status_code == 200 and first.json()["refresh"] != old
    again = APIClient().post("/auth/refresh", {"refresh": old}, format="json")
    assert again.status_code == 401
    newer = APIClient().post("/auth/refresh", {"refresh": first.json()["refresh"]}, format="json")
    assert newer.status_code == 200


@pytest.mark.parametrize("header", ["", "Token abc", "Basicx abc", "apikey"])
def test_another_scheme_falls_through_to_the_next_authenticator(user, header):
    browser = APIClient()
    browser.force_login(user)  # a session: the next authenticator after JWT's
    response = browser.get("/site/whoami/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 200 and response.json()["user"] == str(user.pk)


def test_a_bare_jwt_scheme_is_a_401_naming_the_header(user):
    response = APIClient().get("/site/whoami/", HTTP_AUTHORIZATION="jwt")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_authorization_header"


def test_the_challenge_names_its_user_secret_and_a_password_login(user, clock, enrolled):
    challenge = challenge_of(APIClient())
    claims = ChallengeToken(challenge).payload
    assert claims["token_type"] == "mfa_challenge"
    assert claims["uid"] == str(user.pk) and claims["sid"] == enrolled["id"]
    assert claims["amr"] == ["pwd"] and isinstance(claims["epoch"], int)


@pytest.mark.parametrize("epoch", ["0", None, 1.5, [0]])
def test_a_challenge_with_a_malformed_epoch_is_refused(user, clock, enrolled, epoch):
    secret = Secret.objects.select_related("user").get()
    token = ChallengeToken.for_secret(secret)
    token["epoch"] = epoch
    response = redeem(APIClient(), str(token), token=clock.code(enrolled["key"]))
    assert response.status_code == 401 and response.json()["code"] == "challenge_invalid"
    assert Secret.objects.get().last_step == secret.last_step  # nothing accepted


# What a login accepts.


def test_a_backup_code_login_notes_when_the_secret_was_last_used(user, clock, enrolled):
    assert Secret.objects.get().last_used_at is not None  # the enroll's code
    clock.advance(3600)
    response = redeem(APIClient(), challenge_of(APIClient()), backup_code=enrolled["codes"][0])
    assert response.status_code == 200
    assert Secret.objects.get().last_used_at == clock.now


def test_a_spaced_totp_code_logs_in(user, clock, enrolled):
    code = clock.code(enrolled["key"])
    response = redeem(APIClient(), challenge_of(APIClient()), token=f"{code[:3]} {code[3:]}")
    assert response.status_code == 200


def test_enroll_and_delete_on_a_locked_secret_are_429(user, clock, flow, settings):
    created = flow.create()
    Secret.objects.filter(pk=created["id"]).update(locked_until=clock.now.replace(year=2100))
    enroll = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": clock.code(created["secret"]["secret"])},
        format="json",
    )
    assert enroll.status_code == 429 and enroll.json()["code"] == "too_many_failures"
    assert Secret.objects.get().status == "pending"


def test_delete_of_a_locked_active_secret_is_429(user, clock, enrolled, flow):
    Secret.objects.update(locked_until=clock.now.replace(year=2100))
    response = flow.client.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": clock.code(enrolled["key"])}, format="json"
    )
    assert response.status_code == 429 and "Retry-After" in response
    assert Secret.objects.filter(status="active").exists()


@pytest.mark.parametrize("where", ["codes", "delete"])
def test_a_wrong_code_sends_verification_failed_with_its_reason_and_count(
    user, clock, enrolled, flow, where
):
    heard = []

    def receiver(sender, secret, user, reason, **kwargs):
        heard.append((user.pk, reason, secret.failure_count))

    signals.verification_failed.connect(receiver, dispatch_uid="edges")
    try:
        path = f"/users/me/secrets/{enrolled['id']}"
        for _ in range(2):
            if where == "codes":
                body = {"token": wrong_code(clock, enrolled["key"])}
                flow.client.post(f"{path}/codes", body, format="json")
            else:
                flow.client.delete(
                    path, {"token": wrong_code(clock, enrolled["key"])}, format="json"
                )
    finally:
        signals.verification_failed.disconnect(dispatch_uid="edges")
    assert heard == [(user.pk, "invalid_code", 1), (user.pk, "invalid_code", 2)]


# The settings a site changes are the ones used.


def test_non_default_totp_settings_are_the_ones_enrolled_and_checked(user, clock, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "TOTP_DIGITS": 8,
        "TOTP_PERIOD": 60,
        "TOTP_ALGORITHM": "SHA256",
        "TOTP_TOLERANCE": 2,
    }
    new = services.create_secret(user, issuer="Example")
    query = dict(p.split("=") for p in urlsplit(new.otpauth_url).query.split("&"))
    assert (query["digits"], query["period"], query["algorithm"]) == ("8", "60", "SHA256")
    enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert len(clock.code(new.key_base32)) == 8 and enrollment.secret.status == "active"
    # Two 60-second steps ahead is within a tolerance of 2, and the login takes it; three
    # is not.
    ahead = clock.code(new.key_base32, offset_steps=3)
    refused = redeem(APIClient(), challenge_of(APIClient()), token=ahead)
    assert refused.status_code == 401
    ahead = clock.code(new.key_base32, offset_steps=2)
    assert redeem(APIClient(), challenge_of(APIClient()), token=ahead).status_code == 200


def test_the_default_tolerance_refuses_two_steps_off():
    key, now = totp.new_key(), 1_800_000_000.0
    step = totp.time_step(now)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp.code_at_step(key, step + offset)
        assert (totp.verify(key, code, now) == step + offset) is accepted, offset


def test_a_slash_or_space_in_issuer_or_account_is_percent_encoded():
    uri = totp.key_uri(b"k" * 20, issuer="ACME / Corp", account="ann lee/ops")
    label = urlsplit(uri).path.lstrip("/")
    assert label == "ACME%20%2F%20Corp:ann%20lee%2Fops"
    assert unquote(label) == "ACME / Corp:ann lee/ops"
    assert "issuer=ACME%20%2F%20Corp" in uri


# What operators and listeners are told.


def test_a_reset_blacklists_the_users_refresh_tokens_and_says_who(
    user, other_user, clock, enrolled
):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    login(APIClient())  # MFA on: a challenge, no refresh token
    RefreshToken.for_user(user)  # one the site minted
    RefreshToken.for_user(other_user)  # someone else's stays
    heard = []
    signals.mfa_reset.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="edges")
    try:
        services.reset_mfa(user, by=other_user)
    finally:
        signals.mfa_reset.disconnect(dispatch_uid="edges")
    mine = OutstandingToken.objects.filter(user=user)
    assert mine.exists() and BlacklistedToken.objects.filter(token__in=mine).count() == mine.count()
    assert not BlacklistedToken.objects.filter(token__user=other_user).exists()
    [kw] = heard
    assert kw["user"] == user and kw["by"] == other_user
    assert [str(s.pk) for s in kw["secrets"]] == [enrolled["id"]]


def test_logs_name_the_actor_and_ids_never_a_code(user, other_user, clock, enrolled, caplog):
    with caplog.at_level(logging.INFO, logger="django_mfa_enroll"):
        wrong = wrong_code(clock, enrolled["key"])
        redeem(APIClient(), challenge_of(APIClient()), token=wrong)
        services.reset_mfa(user, by=other_user)
    assert f"secret={enrolled['id']}" in caplog.text and f"user={user.pk}" in caplog.text
    assert f"by=user {other_user.pk}" in caplog.text
    for secret in (wrong, enrolled["key"], *enrolled["codes"]):
        assert secret not in caplog.text


def test_a_session_login_in_the_admin_is_told_apart_from_an_api_one(user, clock):
    """The session a backend login writes carries a password login's amr (sessions follow
    the same rules as tokens)."""
    browser = Client()
    assert browser.login(username="alice", password="correct horse battery staple")
    session = browser.session
    assert session["django_mfa_enroll.amr"] == ["pwd"]
    assert isinstance(session["django_mfa_enroll.auth_time"], int)


# What a person reads when a credential is malformed (each message says what to do).


def basic(raw: bytes | str) -> str:
    import base64

    data = raw.encode() if isinstance(raw, str) else raw
    return "Basic " + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("header", "status", "code", "message"),
    [
        (
            None,
            401,
            "credentials_required",
            "Send credentials with 'Authorization: Basic', or POST them as JSON.",
        ),
        (
            "Basic !!!",
            400,
            "parse_error",
            "Malformed Basic credentials: not base64 of 'username:password'.",
        ),
        (
            "Basic YWxpY2U6cGFzcw==junk",
            400,
            "parse_error",
            "Malformed Basic credentials: not base64 of 'username:password'.",
        ),
        (
            basic("alice"),
            400,
            "parse_error",
            "Malformed Basic credentials: no ':' between username and password.",
        ),
        (
            basic("alice:pa\x00ss"),
            400,
            "parse_error",
            "Malformed Basic credentials: a NUL character.",
        ),
    ],
)
def test_malformed_basic_credentials_say_what_is_wrong(user, header, status, code, message):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = APIClient().get("/auth/password", **extra)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"] == message


def test_a_password_with_colons_logs_in_over_basic(user):
    user.set_password("pass:word:with:colons")
    user.save()
    response = APIClient().get(
        "/auth/password", HTTP_AUTHORIZATION=basic("alice:pass:word:with:colons")
    )
    assert response.status_code == 200 and response.json()["type"] == "ACCESS"


def test_a_refused_api_key_says_what_to_do(user):
    response = APIClient().get(
        "/site/key/whoami/", HTTP_AUTHORIZATION="apikey mfak_aaaaaaaaaaaa_" + "b" * 43
    )
    assert response.status_code == 401
    assert response.json()["message"] == services.APIKeyInvalid.message


@pytest.mark.parametrize("user_id", [{"a": 1}, ["1"]])
def test_a_refresh_token_naming_no_user_is_401_in_words(user, user_id):
    token = RefreshToken.for_user(user)
    token["user_id"] = user_id
    response = APIClient().post("/auth/refresh", {"refresh": str(token)}, format="json")
    assert response.status_code == 401
    assert response.json()["message"] == "No active account found for this token."


def test_an_expired_refresh_token_says_so(user, clock):
    from datetime import timedelta

    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    response = APIClient().post("/auth/refresh", {"refresh": str(token)}, format="json")
    assert response.status_code == 401 and "expired" in response.json()["message"]


def test_rotation_without_blacklist_keeps_the_old_refresh_token(user, clock, settings):
    settings.SIMPLE_JWT = {
        **getattr(settings, "SIMPLE_JWT", {}),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": False,
    }
    old = login(APIClient()).json()["refresh"]
    assert APIClient().post("/auth/refresh", {"refresh": old}, format="json").status_code == 200
    assert APIClient().post("/auth/refresh", {"refresh": old}, format="json").status_code == 200


# What the history records.


def test_a_wrong_code_at_login_is_recorded_on_its_secret_at_its_time(user, clock, enrolled):
    from django_mfa_enroll.models import Event

    clock.advance(7)
    redeem(APIClient(), challenge_of(APIClient()), token=wrong_code(clock, enrolled["key"]))
    event = Event.objects.get(type="wrong_code")
    assert str(event.secret_id) == enrolled["id"] and event.at == clock.now
    assert event.detail == {"reason": "invalid_code", "failures": 1}
    assert Secret.objects.get().last_failure_at == clock.now


def test_a_password_change_asks_the_users_own_factor_not_anothers(user, clock, mallory):
    """Alice has no MFA; Mallory has: Alice's change needs no code, and is hers alone."""
    from django_mfa_enroll.models import Event

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {login(client).json()['token']}")
    heard = []
    signals.password_changed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="e")
    try:
        response = client.post(
            "/users/me/secrets",
            {"type": "password", "secret": "a brand new long passphrase"},
            format="json",
        )
    finally:
        signals.password_changed.disconnect(dispatch_uid="e")
    assert response.status_code == 200, response.content
    event = Event.objects.get(type="password_changed")
    assert event.user_id == user.pk and event.at == clock.now and event.detail == {}
    [kw] = heard
    assert kw["user"].pk == user.pk and kw["sender"] is type(user)


def test_a_trusted_device_is_recorded_with_its_secret_and_a_short_label(
    user, clock, enrolled, settings
):
    from django_mfa_enroll.models import Event, TrustedDevice

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "TRUST_DAYS": 30}
    client = APIClient(HTTP_USER_AGENT="x" * 500)
    response = redeem(
        client, challenge_of(client), token=clock.code(enrolled["key"]), remember=True
    )
    assert response.status_code == 200
    device = TrustedDevice.objects.get()
    assert len(device.agent) <= 200
    event = Event.objects.get(type="device_added")
    assert str(event.secret_id) == enrolled["id"] and event.detail == {"prefix": device.prefix}
    assert event.at == clock.now


def test_revoking_backup_codes_says_how_many_were_unused(user, clock, enrolled):
    redeem(APIClient(), challenge_of(APIClient()), backup_code=enrolled["codes"][0])
    secret = Secret.objects.get()
    assert services.revoke_backup_codes(secret, by="manage.py test") == 9
    assert not BackupCode.objects.exists()


def test_a_reset_of_one_active_secret_is_recorded_on_it(user, other_user, clock, enrolled):
    from django_mfa_enroll.models import Event

    services.reset_mfa(user, by=other_user)
    event = Event.objects.get(type="reset")
    assert str(event.secret_id) == enrolled["id"] and event.actor == f"user {other_user.pk}"
    assert event.detail == {"secrets": 1}


# The race-only paths, on any database: the row changes between the read and the UPDATE.


def test_a_backup_code_spent_elsewhere_after_the_read_is_not_spent_twice(
    user, clock, enrolled, monkeypatch
):
    """Two requests with one code: the other spends it between this one's read and its
    UPDATE. This one is refused as a reuse, and the other's spend stands."""
    from datetime import timedelta

    from django_mfa_enroll.services import verification

    secret = Secret.objects.get()
    elsewhere = clock.now - timedelta(seconds=3)
    real_check = backup_codes.check

    def check_while_another_spends(code, encoded):
        BackupCode.objects.filter(code_hash=encoded).update(used_at=elsewhere)
        return real_check(code, encoded)

    monkeypatch.setattr(verification.backup_codes, "check", check_while_another_spends)
    error = services.verify_any_code(secret, enrolled["codes"][0], clock.now)
    assert isinstance(error, services.ReusedCode)
    assert BackupCode.objects.filter(used_at=elsewhere).count() == 1
    assert not BackupCode.objects.filter(used_at=clock.now).exists()


def test_a_backup_code_for_a_challenge_spent_meanwhile_stays_unspent(user, clock, enrolled):
    from django_mfa_enroll.services import verification

    secret = Secret.objects.get()
    stale_epoch = secret.challenge_epoch - 1
    error = verification.consume_backup_code(secret, enrolled["codes"][0], clock.now, stale_epoch)
    assert isinstance(error, services.ChallengeUsed)
    assert not BackupCode.objects.filter(used_at__isnull=False).exists()  # rolled back
