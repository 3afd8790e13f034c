"""API keys (API.md, "The seed's other secret types"): made once, checked in one read,
revoked at once, and never a way to a factor, a token or MFA-verified status."""

from __future__ import annotations

import logging
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_mfa_enroll import apikeys, services
from django_mfa_enroll.models import APIKey, Event

from .conftest import access_token_for, make_user, mfa_token_for

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/users/me/secrets", {"type": "apikey", **body}, format="json")


def with_key(key: str, scheme: str = "apikey") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


@pytest.fixture
def made(api_client):
    """A key made over the API: its answer."""
    response = create(api_client, description="backup job")
    assert response.status_code == 200, response.content
    return response.json()


# The key as a value.


def test_a_key_is_a_public_prefix_and_256_random_bits():
    made = apikeys.new_key()
    tag, prefix, secret = made.key.split("_", 2)
    assert (tag, prefix) == ("mfak", made.prefix) and len(secret) == 43
    assert len(made.key) == apikeys.MAX_LENGTH
    assert made.key_hash == apikeys.hash_key(made.key) != made.key
    assert apikeys.prefix_of(made.key) == made.prefix
    assert len({apikeys.new_key().key for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mfak",
        "mfak__",
        "MFAK_" + "a" * 12 + "_" + "b" * 43,
        "mfak_" + "a" * 12 + "_" + "b" * 44,
        "mfak_" + "1" * 12 + "_" + "b" * 43,
        "mfak_" + "a" * 12 + "_" + "b" * 42 + "!",
        None,
        42,
    ],
)
def test_anything_else_is_not_a_key(text):
    assert apikeys.prefix_of(text) is None


def test_a_check_compares_hashes_and_an_unknown_prefix_is_never_right():
    made = apikeys.new_key()
    assert apikeys.check(made.key, made.key_hash)
    assert not apikeys.check(made.key, apikeys.hash_key(apikeys.new_key().key))
    assert not apikeys.check(made.key, None)
    assert not apikeys.check("x", None)


# Made over the API, shown once.


def test_create_answers_the_key_once_and_keeps_only_its_hash(api_client, made, user):
    assert made["type"] == "apikey" and made["status"] == "active"
    assert made["description"] == "backup job" and made["expires_at"] is None
    key = made["secret"]
    row = APIKey.objects.get(pk=made["id"])
    assert row.user == user and row.prefix == made["prefix"] == apikeys.prefix_of(key)
    assert row.key_hash == apikeys.hash_key(key)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {APIKey._meta.db_table}")  # noqa: S608
        assert key not in repr(cursor.fetchall())
    listing = api_client.get("/users/me/secrets").json()
    (listed,) = [item for item in listing if item["type"] == "apikey"]
    detail = api_client.get(f"/users/me/secrets/{made['id']}").json()
    for shown in (listed, detail):
        assert "secret" not in shown and key not in str(shown)
        assert shown["prefix"] == made["prefix"] and shown["last_used_at"] is None


def test_the_key_authenticates_a_sites_own_view(made, user):
    response = with_key(made["secret"]).get("/site/key/whoami/")
    assert response.status_code == 200 and response.json() == {"user": str(user.pk)}
    for scheme in ("ApiKey", "APIKEY"):
        assert with_key(made["secret"], scheme).get("/site/key/whoami/").status_code == 200


def test_expiry_is_asked_in_seconds_and_bounded(api_client, settings, clock):
    answer = create(api_client, expires_in=3600).json()
    assert answer["expires_at"].startswith("2026-11-28T13:00:00")
    for bad in (59, "soon", -1, 10**12, True):
        response = create(api_client, expires_in=bad)
        assert response.status_code == 400 and "expires_in" in response.json()["errors"]
    response = api_client.post(
        "/users/me/secrets", {"type": "mfa", "expires_in": 3600}, format="json"
    )
    assert response.status_code == 200 and "expires_at" not in response.json()["secret"]
    assert response.json()["expires_at"] is None  # only a key expires: ignored
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "API_KEY_MAX_AGE": 86_400}
    assert create(api_client, expires_in=86_401).status_code == 400
    bounded = create(api_client).json()  # none asked: the longest allowed
    assert bounded["expires_at"].startswith("2026-11-29T12:00:00")
    assert APIKey.objects.count() == 2


def test_an_expired_key_is_refused_and_says_so(api_client, clock):
    key = create(api_client, expires_in=60).json()["secret"]
    assert with_key(key).get("/site/key/whoami/").status_code == 200
    clock.advance(60)
    response = with_key(key).get("/site/key/whoami/")
    assert response.status_code == 401 and response.json()["code"] == "api_key_expired"


def test_at_most_api_key_max_keys(api_client, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "API_KEY_MAX": 2}
    assert create(api_client).status_code == create(api_client).status_code == 200
    response = create(api_client)
    assert response.status_code == 409 and response.json()["code"] == "api_key_limit"
    assert APIKey.objects.count() == 2


def test_making_a_key_needs_a_recent_login(user):
    client = APIClient()
    old = int(time.time()) - 3600
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user, auth_time=old)}")
    response = create(client)
    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert not APIKey.objects.exists()


def test_with_mfa_on_making_a_key_needs_the_second_factor(flow, enrolled, user, clock):
    with pytest.raises(services.SecondFactorRequired):
        services.create_api_key(user, amr=["pwd"], auth_time=int(clock.now.timestamp()))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {mfa_token_for(user, enrolled['id'])}")
    assert create(client).status_code == 200


# Revoked at once.


def test_delete_revokes_the_key_at_once(api_client, made):
    key = with_key(made["secret"])
    assert key.get("/site/key/whoami/").status_code == 200
    assert api_client.delete(f"/users/me/secrets/{made['id']}").status_code == 204
    response = key.get("/site/key/whoami/")
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"
    assert api_client.delete(f"/users/me/secrets/{made['id']}").status_code == 404


def test_another_users_key_is_a_404_to_read_or_delete(made, other_user):
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(other_user)}")
    assert stranger.get(f"/users/me/secrets/{made['id']}").status_code == 404
    assert stranger.delete(f"/users/me/secrets/{made['id']}").status_code == 404
    assert APIKey.objects.filter(pk=made["id"]).exists()


def test_the_key_of_an_inactive_or_deleted_user_is_refused(made, user):
    user.is_active = False
    user.save()
    response = with_key(made["secret"]).get("/site/key/whoami/")
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"
    user.delete()
    assert with_key(made["secret"]).get("/site/key/whoami/").status_code == 401


# Refused everywhere a login is asked for.


@pytest.mark.parametrize(
    "raw",
    ["", "mfak_", "not a key", "mfak_" + "a" * 12 + "_" + "b" * 43, "x" * 5000],
    ids=["empty", "tag", "spaces", "unknown-prefix", "huge"],
)
def test_malformed_or_unknown_keys_are_401_and_name_the_problem(raw):
    response = with_key(raw).get("/site/key/whoami/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"
    assert response["WWW-Authenticate"] == 'ApiKey realm="api"'


def test_a_wrong_secret_with_a_real_prefix_is_refused(made):
    key = made["secret"]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert with_key(wrong).get("/site/key/whoami/").status_code == 401


def test_a_guess_costs_the_same_whether_or_not_its_prefix_exists(made, monkeypatch):
    """One indexed read and one hash comparison, for an unknown prefix as for a wrong key."""
    compared = []
    real = apikeys.hmac.compare_digest
    monkeypatch.setattr(
        apikeys.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b)
    )
    unknown = "mfak_" + "a" * 12 + "_" + "b" * 43
    wrong = made["secret"][:-1] + ("A" if made["secret"][-1] != "A" else "B")
    for guess in (unknown, wrong):
        compared.clear()
        with CaptureQueriesContext(connection) as captured:
            assert with_key(guess).get("/site/key/whoami/").status_code == 401
        assert len(captured.captured_queries) == 1 and compared == [1]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/site/key/sensitive/", 403), ("/site/key/step-up/", 403), ("/site/key/recent/", 401)],
)
def test_a_key_is_never_mfa_verified_nor_a_recent_login(made, user, path, status):
    response = with_key(made["secret"]).get(path)
    assert response.status_code == status
    jwt = APIClient()
    jwt.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    assert jwt.get("/site/key/recent/").status_code == 200  # the same view takes a login


def test_an_admin_reset_of_mfa_leaves_keys_alone(flow, enrolled, user, clock):
    new = services.create_api_key(user, amr=["pwd", "mfa"], auth_time=int(clock.now.timestamp()))
    services.reset_mfa(user, by="test")
    assert with_key(new.key).get("/site/key/whoami/").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/users/me/secrets"),
        ("post", "/users/me/secrets"),
        ("get", "/users/me/events"),
        ("post", "/auth/totp"),
        ("get", "/auth/password"),
        ("post", "/auth/refresh"),
    ],
)
def test_a_key_opens_none_of_the_apps_endpoints(made, method, path):
    response = getattr(with_key(made["secret"]), method)(path, {"type": "apikey"}, format="json")
    assert response.status_code in (400, 401), response.content
    assert APIKey.objects.count() == 1


def test_where_a_site_lets_the_apps_views_read_keys_they_refuse_them(made, settings):
    from django.core.checks import run_checks

    path = "django_mfa_enroll.authentication.APIKeyAuthentication"
    classes = [path, "django_mfa_enroll.authentication.JWTAuthentication"]
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTHENTICATION_CLASSES": classes}
    response = with_key(made["secret"]).post("/users/me/secrets", {"type": "apikey"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "api_key_not_allowed"
    assert with_key(made["secret"]).get("/users/me/secrets").status_code == 403
    assert "django_mfa_enroll.E013" in {m.id for m in run_checks(include_deployment_checks=True)}
    assert APIKey.objects.count() == 1


def test_a_key_is_not_a_token_and_a_token_is_not_a_key(made, user):
    assert with_key(made["secret"], "Bearer").get("/site/key/whoami/").status_code == 401
    assert with_key(access_token_for(user)).get("/site/key/whoami/").status_code == 401


# Its use noted, rarely written.


def test_use_is_written_once_a_minute_and_from_a_new_address(made, clock):
    key = made["secret"]
    assert with_key(key).get("/site/key/whoami/", REMOTE_ADDR="192.0.2.1").status_code == 200
    row = APIKey.objects.get()
    assert row.last_used_at == clock.now and row.last_used_ip == "192.0.2.1"
    clock.advance(30)
    with CaptureQueriesContext(connection) as captured:
        assert with_key(key).get("/site/key/whoami/", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert len(captured.captured_queries) == 1  # the one read; no write
    assert APIKey.objects.get().last_used_at == row.last_used_at
    clock.advance(30)
    with_key(key).get("/site/key/whoami/", REMOTE_ADDR="192.0.2.1")
    assert APIKey.objects.get().last_used_at == clock.now
    with_key(key).get("/site/key/whoami/", REMOTE_ADDR="198.51.100.7")
    used = Event.objects.filter(type="apikey_used").order_by("id")
    assert [e.ip for e in used] == ["192.0.2.1", "198.51.100.7"]
    assert APIKey.objects.get().last_used_ip == "198.51.100.7"


def test_the_history_and_the_log_never_hold_the_key(api_client, caplog):
    caplog.set_level(logging.DEBUG, logger="django_mfa_enroll")
    made = create(api_client).json()
    with_key(made["secret"]).get("/site/key/whoami/")
    api_client.delete(f"/users/me/secrets/{made['id']}")
    kinds = list(Event.objects.order_by("id").values_list("type", "detail"))
    assert [k for k, _d in kinds] == ["apikey_created", "apikey_used", "apikey_revoked"]
    assert all(d == {"prefix": made["prefix"]} for _k, d in kinds)
    secret_part = made["secret"].split("_", 2)[2]  # the 256 bits (may hold "_" itself)
    assert secret_part not in caplog.text
    assert not any(secret_part in str(e.detail) for e in Event.objects.all())


def test_signals_carry_the_row_and_the_user(api_client, user):
    from django_mfa_enroll import signals

    seen = []

    def receiver(sender, **kwargs):
        seen.append((kwargs["key"].pk, kwargs["user"].pk))

    signals.api_key_created.connect(receiver)
    signals.api_key_revoked.connect(receiver)
    try:
        made = create(api_client).json()
        api_client.delete(f"/users/me/secrets/{made['id']}")
    finally:
        signals.api_key_created.disconnect(receiver)
        signals.api_key_revoked.disconnect(receiver)
    assert [str(k) for k, _u in seen] == [made["id"]] * 2 and {u for _k, u in seen} == {user.pk}


def test_keys_of_two_users_are_their_own(api_client, other_user):
    mine = create(api_client).json()
    theirs = services.create_api_key(other_user, amr=["pwd"], auth_time=int(time.time()))
    assert with_key(theirs.key).get("/site/key/whoami/").json() == {"user": str(other_user.pk)}
    assert with_key(mine["secret"]).get("/site/key/whoami/").json()["user"] != str(other_user.pk)
    assert make_user("carol").mfa_api_keys.count() == 0
