"""Shared fixtures: users, clients with JWT, a controllable clock, codes as an app makes them."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll import services, totp
from django_mfa_enroll.conf import mfa_settings

PASSWORD = "correct horse battery staple"


class Clock:
    """The services' clock, moved by hand: tests never sleep."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def next_step(self) -> None:
        self.advance(mfa_settings.TOTP_PERIOD)

    def code(self, key_base32: str, offset_steps: int = 0) -> str:
        """The code an authenticator app shows now (or ``offset_steps`` away)."""
        step = totp.time_step(self.now.timestamp(), mfa_settings.TOTP_PERIOD) + offset_steps
        return totp.code_at_step(
            base64.b32decode(key_base32 + "=" * (-len(key_base32) % 8)),
            step,
            mfa_settings.TOTP_DIGITS,
            mfa_settings.TOTP_ALGORITHM,
        )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(services.clock, "now", clock)
    return clock


def make_user(username: str = "alice", **extra: object):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD, **extra
    )


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("mallory")


def login(client, username: str = "alice", password: str = PASSWORD):
    """POST /auth/password with JSON credentials; the response."""
    return client.post(
        "/auth/password", {"username": username, "password": password}, format="json"
    )


def challenge_of(client, **kw) -> str:
    """Log in with the password of a user with MFA; the login challenge."""
    response = login(client, **kw)
    assert response.status_code == 200, response.content
    assert response.json()["type"] == "CHALLENGE"
    return response.json()["token"]


def redeem(client, challenge: str, *, header: bool = True, **body):
    """POST /auth/totp with the challenge in the Authorization header, or in the body."""
    if header:
        return client.post("/auth/totp", body, format="json", HTTP_AUTHORIZATION=f"jwt {challenge}")
    return client.post("/auth/totp", {**body, "challenge": challenge}, format="json")


def access_token_for(user, *, amr=("pwd",), sid=None, auth_time=None) -> str:
    """An access token as /auth/password (or, with ``sid``, /auth/totp) issues it, now."""
    refresh = RefreshToken.for_user(user)
    refresh["amr"] = list(amr)
    refresh["auth_time"] = int(time.time()) if auth_time is None else auth_time
    if sid is not None:
        refresh["sid"] = str(sid)
    return str(refresh.access_token)


def mfa_token_for(user, secret_id) -> str:
    """An access token as a TOTP login with the secret issues it, now."""
    return access_token_for(user, amr=("pwd", "otp", "mfa"), sid=secret_id)


def force_password_login(client, user) -> None:
    """``client.force_login`` as a password login of now (what the backend's receiver
    writes): changing others' factors in the admin needs a login this recent."""
    from django_mfa_enroll.claims import SESSION_AMR, SESSION_AUTH_TIME

    client.force_login(user)
    session = client.session
    session[SESSION_AMR] = ["pwd"]
    session[SESSION_AUTH_TIME] = int(time.time())
    session.save()


def force_mfa_login(client, user, secret_id) -> None:
    """``client.force_login`` as a login with the secret's TOTP code: what the backend's
    ``user_logged_in`` receiver writes into the session (a bare force_login is a password
    alone, which ends once the user has MFA)."""
    from django_mfa_enroll.claims import SESSION_AMR, SESSION_AUTH_TIME, SESSION_SID

    client.force_login(user)
    session = client.session
    session[SESSION_AMR] = ["pwd", "otp", "mfa"]
    session[SESSION_AUTH_TIME] = int(time.time())
    session[SESSION_SID] = str(secret_id)
    session.save()


def sign_in(client, user, secret_id=None) -> None:
    """Give the client a fresh login's access token: with ``secret_id``, a TOTP login's."""
    token = access_token_for(user) if secret_id is None else mfa_token_for(user, secret_id)
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")


@pytest.fixture
def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


def enroll(user, clock) -> dict:
    """Set MFA up for the user through the API (another client, as from another device)."""
    client = APIClient()
    sign_in(client, user)
    created = client.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    response = client.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": clock.code(created["secret"]["secret"])},
        format="json",
    )
    assert response.status_code == 200
    clock.next_step()
    return {**response.json(), "key": created["secret"]["secret"]}


class Flow:
    """The tutorial's steps through the API, for tests that need a secret in some state."""

    def __init__(self, client: APIClient, user, clock: Clock) -> None:
        self.client, self.user, self.clock = client, user, clock

    def base(self, user_id: object = "me") -> str:
        return f"/users/{user_id}/secrets"

    def create(self, **body: object) -> dict:
        response = self.client.post(self.base(), {"type": "mfa", **body}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    def enroll(self, created: dict | None = None) -> dict:
        created = created or self.create()
        response = self.client.put(
            f"{self.base()}/{created['id']}/enroll",
            {"token": self.clock.code(created["secret"]["secret"])},
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        body["key"] = created["secret"]["secret"]
        self.clock.next_step()
        # Enrolling ends the password-only token (API.md, first section): the client goes
        # on as after a login with the new factor.
        sign_in(self.client, self.user, body["id"])
        return body


@pytest.fixture
def flow(api_client, user, clock) -> Flow:
    return Flow(api_client, user, clock)


@pytest.fixture
def enrolled(flow) -> dict:
    """An active secret: the enroll answer plus ``key`` (base32), the clock one step on."""
    return flow.enroll()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
