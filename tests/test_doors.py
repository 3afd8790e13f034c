"""Every credential follows the user's MFA state at the doors a Django site has besides the
app's own endpoints: its sessions (admin, DRF's SessionAuthentication, login_required,
async views) through MFASessionMiddleware. Tokens at the app's doors: test_credentials.py."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.checks import ERROR
from django.db import connection, connections
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_mfa_enroll import checks, services
from django_mfa_enroll.claims import SESSION_AMR, SESSION_SID
from django_mfa_enroll.models import Secret

from .conftest import PASSWORD, enroll, make_user, sign_in

pytestmark = pytest.mark.django_db

SESSION_PAGES = ("/admin/", "/site/members/", "/site/whoami/", "/users/me/secrets")


def admin_login(browser: Client, username: str, code: str = "") -> None:
    response = browser.post(
        "/admin/login/", {"username": username, "password": PASSWORD, "mfa_code": code}
    )
    assert response.status_code == 302, response.content  # logged in, redirected


def staff(username: str = "alice"):
    return make_user(username, is_staff=True, is_superuser=True)


def logged_in(browser: Client, path: str) -> bool:
    response = browser.get(path)
    if path.startswith("/admin/"):
        return response.status_code == 200
    if path == "/site/members/":
        return response.status_code == 200 and response.content.startswith(b"member ")
    return response.status_code == 200


def test_a_password_session_ends_when_its_user_enrolls(clock):
    user = staff()
    browser = Client()
    admin_login(browser, "alice")
    assert browser.session[SESSION_AMR] == ["pwd"]
    assert all(logged_in(browser, path) for path in SESSION_PAGES)
    enroll(user, clock)
    response = browser.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert browser.get("/site/members/").status_code == 302  # login_required redirects
    assert browser.get("/site/whoami/").status_code in (401, 403)
    assert browser.get("/users/me/secrets").json()["code"] == "not_authenticated"
    assert not browser.session.get("_auth_user_id")  # flushed, not merely hidden


def test_an_mfa_session_survives_enrollment_elsewhere_and_ends_with_a_reset(clock):
    user = staff()
    enrolled = enroll(user, clock)
    browser = Client()
    admin_login(browser, "alice", clock.code(enrolled["key"]))
    assert browser.session[SESSION_SID] == enrolled["id"]
    assert all(logged_in(browser, path) for path in SESSION_PAGES)
    services.reset_mfa(user, by="test")
    assert not any(logged_in(browser, path) for path in SESSION_PAGES)


def test_an_mfa_session_ends_when_its_secret_is_deleted(clock):
    user = staff()
    enrolled = enroll(user, clock)
    browser = Client()
    admin_login(browser, "alice", clock.code(enrolled["key"]))
    clock.next_step()
    owner = APIClient()
    sign_in(owner, user, enrolled["id"])
    response = owner.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": enrolled["codes"][0]}, format="json"
    )
    assert response.status_code == 204
    assert not logged_in(browser, "/admin/")


def test_a_password_session_stays_ended_when_mfa_goes_off_again(clock):
    user = staff()
    browser = Client()
    admin_login(browser, "alice")
    clock.advance(5)
    enroll(user, clock)  # the session is not used meanwhile, so nothing flushed it yet
    services.reset_mfa(user, by="test")
    assert not Secret.objects.exists()
    assert not logged_in(browser, "/admin/")
    admin_login(browser, "alice")  # a login of now, MFA being off: welcome
    assert logged_in(browser, "/admin/")


def test_the_browsable_apis_session_login_follows_too(clock):
    user = make_user("alice")
    browser = Client()
    response = browser.post(
        "/api-auth/login/", {"username": "alice", "password": PASSWORD, "next": "/site/whoami/"}
    )
    assert response.status_code == 302
    assert browser.get("/site/whoami/").status_code == 200
    enroll(user, clock)
    assert browser.get("/site/whoami/").status_code in (401, 403)


def test_a_session_that_says_nothing_of_mfa_counts_as_a_password_alone(clock):
    user = staff()
    browser = Client()
    browser.force_login(user)  # no amr in the session: a password alone, or older than us
    assert logged_in(browser, "/admin/")
    enroll(user, clock)
    assert not logged_in(browser, "/admin/")


def test_another_users_session_is_untouched(clock):
    alice, bob = staff("alice"), staff("bob")
    browser = Client()
    admin_login(browser, "bob")
    enroll(alice, clock)
    assert logged_in(browser, "/admin/")
    services.reset_mfa(alice, by="test")
    assert logged_in(browser, "/admin/")
    assert browser.session["_auth_user_id"] == str(bob.pk)


@pytest.mark.django_db(transaction=True)  # the async view reads from another thread
def test_an_async_view_sees_the_session_end(clock):
    user = staff()
    browser = Client()
    admin_login(browser, "alice")
    asynchronous = AsyncClient()
    asynchronous.cookies = browser.cookies

    async def page() -> bytes:
        return (await asynchronous.get("/site/async/")).content

    try:
        assert asyncio.run(page()) == f"user {user.pk}".encode()
        enroll(user, clock)
        assert asyncio.run(page()) == b"anonymous"
    finally:
        # The async view's queries ran in asgiref's thread: close its connection, or it
        # holds the test database open past the run.
        asyncio.run(sync_to_async(connections.close_all)())


def test_the_check_costs_one_read_and_only_where_the_user_is_looked_at(clock):
    staff()
    browser = Client()
    admin_login(browser, "alice")

    def ours(call) -> list[str]:
        with CaptureQueriesContext(connection) as seen:
            call()
        return [q["sql"] for q in seen.captured_queries if Secret._meta.db_table in q["sql"]]

    assert len(ours(lambda: browser.get("/site/members/"))) == 1  # the state, one read
    wrong = {"username": "alice", "password": "wrong"}
    assert (
        ours(lambda: browser.post("/auth/password", wrong, content_type="application/json")) == []
    )


# The system check (E008).


@pytest.mark.parametrize(
    ("middleware", "refused"),
    [
        (["django.contrib.sessions.middleware.SessionMiddleware", checks.AUTH_MIDDLEWARE], True),
        (
            [
                "django.contrib.sessions.middleware.SessionMiddleware",
                checks.SESSION_MIDDLEWARE,
                checks.AUTH_MIDDLEWARE,
            ],
            True,
        ),
        (
            [
                "django.contrib.sessions.middleware.SessionMiddleware",
                checks.AUTH_MIDDLEWARE,
                checks.SESSION_MIDDLEWARE,
            ],
            False,
        ),
        (["django.middleware.common.CommonMiddleware"], False),  # no session logins at all
    ],
    ids=["missing", "before", "after", "no-sessions"],
)
def test_e008_names_the_middleware(middleware, refused):
    with override_settings(MIDDLEWARE=middleware):
        messages = checks.check_session_middleware()
    assert [m.id for m in messages] == ([checks.E008] if refused else [])
    if refused:
        assert messages[0].level == ERROR
        assert checks.SESSION_MIDDLEWARE in messages[0].hint


class SiteAuthenticationMiddleware(AuthenticationMiddleware):
    """A site's own subclass: it logs sessions in all the same."""


def test_e008_sees_a_subclass_of_authentication_middleware():
    sessions = "django.contrib.sessions.middleware.SessionMiddleware"
    subclass = f"{__name__}.SiteAuthenticationMiddleware"
    with override_settings(MIDDLEWARE=[sessions, subclass]):
        assert [m.id for m in checks.check_session_middleware()] == [checks.E008]
    with override_settings(MIDDLEWARE=[sessions, subclass, checks.SESSION_MIDDLEWARE]):
        assert checks.check_session_middleware() == []


def test_the_middleware_refuses_to_run_without_authentication_middleware():
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(
            MIDDLEWARE=[
                "django.contrib.sessions.middleware.SessionMiddleware",
                checks.SESSION_MIDDLEWARE,
            ]
        ),
        pytest.raises(ImproperlyConfigured),
    ):
        Client().get("/site/members/")
