"""POST /auth/password (and GET with Basic): the token door of the example flow."""

from __future__ import annotations

import base64

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_password_login_answers_access_tokens_that_work(anon_client, user):
    response = login(anon_client)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "ACCESS" and body["user_id"] == str(user.pk)
    access = AccessToken(body["token"])
    assert access["amr"] == ["pwd"] and str(access["user_id"]) == str(user.pk)
    assert RefreshToken(body["refresh"])["amr"] == ["pwd"]
    assert response["Cache-Control"] == "no-store"
    anon_client.credentials(HTTP_AUTHORIZATION=f"jwt {body['token']}")
    assert anon_client.get("/users/me/secrets").status_code == 200


def test_get_with_basic_authorization(anon_client, user):
    anon_client.credentials(HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    response = anon_client.get("/auth/password/")
    assert response.status_code == 200
    assert response.json()["type"] == "ACCESS"


def test_wrong_password_and_unknown_user_get_the_same_401(anon_client, user):
    wrong = anon_client.post(
        "/auth/password", {"username": "alice", "password": "nope"}, format="json"
    )
    unknown = anon_client.post(
        "/auth/password", {"username": "nobody", "password": "nope"}, format="json"
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "code": "invalid_credentials",
            "status": 401,
            "message": "Wrong username or password.",
        }
    )


def test_inactive_user_cannot_log_in(anon_client, user):
    user.is_active = False
    user.save()
    response = login(anon_client)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": 5, "password": PASSWORD}, "username"),
        ({"username": "alice", "password": None}, "password"),
        ({"username": ["alice"], "password": PASSWORD}, "username"),
        ({"username": "a" * 256, "password": PASSWORD}, "username"),
    ],
)
def test_bad_login_bodies_are_400(anon_client, user, body, field):
    response = anon_client.post("/auth/password", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "header,status",
    [
        (None, 401),
        ("Bearer abc", 401),
        ("Basic", 401),
        ("Basic !!!not-base64", 400),
        ("Basic " + base64.b64encode(b"no-colon").decode(), 400),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), 400),
    ],
)
def test_bad_basic_headers(anon_client, header, status):
    if header:
        anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = anon_client.get("/auth/password")
    assert response.status_code == status
    assert set(response.json()) == {"code", "status", "message"}
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Basic")


def test_the_tutorials_malformed_json_at_login_is_400(anon_client):
    response = anon_client.generic(
        "POST",
        "/auth/password",
        '{"username": "alice", "password": "x",}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "trailing comma" in response.json()["message"]
