"""The security history (services/events.py) and its mail (services/notify.py): one event
per change or use of a factor, in that change's transaction, never a secret."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from django_mfa_enroll import backup_codes, services
from django_mfa_enroll.models import Event, Secret
from django_mfa_enroll.services import events, notify

from .conftest import challenge_of, make_user, redeem, sign_in

pytestmark = pytest.mark.django_db

SECRETS = "/users/me/secrets"


def kinds(user) -> list[str]:
    """The user's events, oldest first."""
    return list(Event.objects.filter(user=user).order_by("id").values_list("type", flat=True))


def last(user) -> Event:
    return Event.objects.filter(user=user).order_by("-id").first()


# Each flow writes its event.


def test_create_writes_nothing_and_enroll_writes_enrolled(user, flow):
    created = flow.create()
    assert kinds(user) == []
    flow.enroll(created)
    assert kinds(user) == ["enrolled"]
    assert str(last(user).secret_id) == created["id"] and last(user).actor == ""


def test_a_wrong_code_at_enroll_is_written_with_its_count(user, flow):
    created = flow.create()
    response = flow.client.put(
        f"{SECRETS}/{created['id']}/enroll", {"token": "000000"}, format="json"
    )
    assert response.status_code == 400
    event = last(user)
    assert (event.type, event.detail) == ("wrong_code", {"reason": "invalid_code", "failures": 1})
    assert Secret.objects.get().failure_count == 1  # committed together, though refused


def test_logins_write_the_method_and_backup_codes_what_is_left(user, clock, enrolled):
    client = APIClient()
    assert (
        redeem(client, challenge_of(client), token=clock.code(enrolled["key"])).status_code == 200
    )
    assert (last(user).type, last(user).detail) == ("login", {"method": "totp"})
    assert redeem(client, challenge_of(client), backup_code=enrolled["codes"][0]).status_code == 200
    assert (last(user).type, last(user).detail) == (
        "backup_code_used",
        {"method": "backup_code", "codes_left": 9},
    )
    assert redeem(client, challenge_of(client), token="000000").status_code == 401
    assert last(user).type == "wrong_code"


def test_the_lock_is_written(user, clock, enrolled, settings):
    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "FAILURE_DELAY_AFTER": 100,
        "FAILURE_LOCK_AFTER": 2,
    }
    client = APIClient()
    for _ in range(2):
        redeem(client, challenge_of(client), token="000000")
    assert kinds(user)[-2:] == ["wrong_code", "locked"]
    assert last(user).detail == {"reason": "invalid_code", "failures": 2}


def test_regenerate_and_delete_are_written(user, clock, enrolled, flow):
    response = flow.client.post(
        f"{SECRETS}/{enrolled['id']}/codes", {"token": clock.code(enrolled["key"])}, format="json"
    )
    assert response.status_code == 200
    assert last(user).type == "codes_regenerated"
    response = flow.client.delete(
        f"{SECRETS}/{enrolled['id']}", {"token": response.json()["codes"][0]}, format="json"
    )
    assert response.status_code == 204
    assert last(user).type == "method_removed" and str(last(user).secret_id) == enrolled["id"]


def test_deleting_a_pending_secret_writes_nothing(user, flow):
    created = flow.create()
    assert flow.client.delete(f"{SECRETS}/{created['id']}").status_code == 204
    assert kinds(user) == []


def test_operators_are_named(user, enrolled, other_user):
    secret = Secret.objects.get()
    Secret.objects.update(failure_count=3)
    services.unlock(secret, by=other_user)
    services.revoke_backup_codes(secret, by=other_user)
    services.reset_mfa(user, by="manage.py mfa_reset")
    assert kinds(user)[-3:] == ["unlocked", "codes_revoked", "reset"]
    actors = list(Event.objects.filter(user=user).order_by("id").values_list("actor", flat=True))
    assert actors[-3:] == [f"user {other_user.pk}", f"user {other_user.pk}", "manage.py mfa_reset"]
    assert last(user).detail == {"secrets": 1}


def test_unlocking_what_was_not_locked_writes_nothing(user, enrolled, other_user):
    services.unlock(Secret.objects.get(), by=other_user)
    assert kinds(user) == ["enrolled"]


# The transaction: no change, no event.


def test_a_rolled_back_enroll_leaves_no_event(user, flow, monkeypatch):
    created = flow.create()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(backup_codes, "make_hash", broken)  # after the event, in the same txn
    client = flow.client
    client.raise_request_exception = False
    response = client.put(
        f"{SECRETS}/{created['id']}/enroll",
        {"token": flow.clock.code(created["secret"]["secret"])},
        format="json",
    )
    assert response.status_code == 500
    assert kinds(user) == [] and Secret.objects.get().status == "pending"


def test_an_event_detail_is_counts_and_reasons_only(user):
    with pytest.raises(ValueError, match="not an event detail"):
        services.record(user.pk, Event.Type.LOGIN, code="123456")
    assert kinds(user) == []


def test_no_event_holds_a_key_code_hash_or_token(user, clock, flow):
    created = flow.create()
    key = created["secret"]["secret"]
    enrolled = flow.enroll(created)
    client = APIClient()
    tokens = redeem(client, challenge_of(client), token=clock.code(key)).json()
    redeem(client, challenge_of(client), backup_code=enrolled["codes"][1])
    dumped = json.dumps(list(Event.objects.values()), default=str)
    secret_hashes = list(Secret.objects.values_list("encrypted_key", flat=True))
    for needle in [key, *enrolled["codes"], tokens["token"], tokens["refresh"], *secret_hashes]:
        assert needle not in dumped
    assert len(kinds(user)) == 3


# Where it came from.


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32.3", "Python"),
        ("", ""),
        ("a-bot/1.0 (+tracking-id-8f3a)", ""),  # unknown: nothing of it is kept
    ],
)
def test_the_device_label_keeps_a_name_and_nothing_else(agent, label):
    assert services.agent_label(agent) == label


def test_the_http_door_says_where_a_change_came_from(user, flow):
    flow.client.credentials(
        HTTP_AUTHORIZATION=flow.client._credentials["HTTP_AUTHORIZATION"],
        HTTP_USER_AGENT="curl/8.5.0",
        REMOTE_ADDR="203.0.113.7",
    )
    flow.enroll()
    event = last(user)
    assert (event.ip, event.agent) == ("203.0.113.7", "curl")


def test_an_address_that_is_no_address_is_not_recorded():
    request = RequestFactory().get("/", REMOTE_ADDR="not-an-address")
    assert events.origin_of(request) == events.Origin(None, "")


def test_outside_any_request_there_is_no_origin(user, enrolled):
    services.reset_mfa(user, by="manage.py mfa_reset")
    assert (last(user).ip, last(user).agent) == (None, "")


# The mail.


def test_notify_events_are_mailed_after_the_commit(
    user, clock, flow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        flow.enroll()
    assert mail.outbox == [] and len(callbacks) == 1  # not before the commit
    callbacks[0]()
    [sent] = mail.outbox
    assert sent.to == ["alice@example.org"]
    assert sent.subject == "Security notice: MFA turned on"
    assert "Two-step verification was turned on for your account." in sent.body
    html, kind = sent.alternatives[0]
    assert kind == "text/html" and "<p>Two-step verification was turned on" in html


def test_events_outside_notify_are_not_mailed(
    user, clock, enrolled, django_capture_on_commit_callbacks
):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        redeem(client, challenge_of(client), token=clock.code(enrolled["key"]))
    assert last(user).type == "login" and mail.outbox == []


def test_a_backup_code_mail_says_how_many_are_left(
    user, enrolled, django_capture_on_commit_callbacks
):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        redeem(client, challenge_of(client), backup_code=enrolled["codes"][0])
    assert "9 backup codes remain." in mail.outbox[0].body


def test_the_mail_speaks_the_requests_language(
    user, clock, flow, django_capture_on_commit_callbacks
):
    flow.client.credentials(
        HTTP_AUTHORIZATION=flow.client._credentials["HTTP_AUTHORIZATION"],
        HTTP_ACCEPT_LANGUAGE="de",
    )
    with django_capture_on_commit_callbacks(execute=True):
        flow.enroll()
    assert mail.outbox[0].subject == "Sicherheitshinweis: MFA eingeschaltet"
    assert "Hallo alice," in mail.outbox[0].body


def test_users_without_an_address_get_no_mail(user, flow, django_capture_on_commit_callbacks):
    user.email = ""
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        flow.enroll()
    assert mail.outbox == [] and last(user).type == "enrolled"


@override_settings(EMAIL_BACKEND="tests.test_events.BrokenMailBackend")
def test_a_failing_mail_backend_fails_nothing(
    user, flow, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrolled = flow.enroll()
    assert enrolled["status"] == "active" and Secret.objects.get().status == "active"
    assert "MFA notice not sent" in caplog.text and "ConnectionRefusedError" in caplog.text


class BrokenMailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_a_site_overrides_a_types_template(
    user, flow, tmp_path, settings, django_capture_on_commit_callbacks
):
    folder = tmp_path / "django_mfa_enroll" / "email"
    folder.mkdir(parents=True)
    (folder / "enrolled.txt").write_text("Custom text for {{ user.get_username }}.")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    with django_capture_on_commit_callbacks(execute=True):
        flow.enroll()
    assert mail.outbox[0].body == "Custom text for alice."
    assert "Two-step verification" in mail.outbox[0].alternatives[0][0]  # the default HTML


def test_no_mail_holds_a_code_or_key(user, clock, flow, django_capture_on_commit_callbacks):
    created = flow.create()
    with django_capture_on_commit_callbacks(execute=True):
        enrolled = flow.enroll(created)
        client = APIClient()
        redeem(client, challenge_of(client), backup_code=enrolled["codes"][0])
    assert len(mail.outbox) == 2
    for sent in mail.outbox:
        text = sent.subject + sent.body + sent.alternatives[0][0]
        for needle in [created["secret"]["secret"], *enrolled["codes"]]:
            assert needle not in text
    assert notify.send_event_mail(last(user)) is True  # the same mail, sent again by hand


# The other doors say where a change came from too.

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_the_admin_login_and_a_second_one_on_its_session(user, clock, enrolled):
    from django.test import Client

    from .conftest import PASSWORD

    user.is_staff = True
    user.save()
    browser = Client(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT=FIREFOX)

    def admin_login() -> int:
        clock.next_step()
        data = {"username": "alice", "password": PASSWORD, "mfa_code": clock.code(enrolled["key"])}
        return browser.post("/admin/login/", data).status_code

    assert admin_login() == 302
    assert kinds(user)[-1] == "login"
    assert (last(user).ip, last(user).agent) == ("198.51.100.4", "Firefox on Linux")
    assert admin_login() == 302  # on the same session: a reauthentication
    assert kinds(user)[-2:] == ["login", "reauthenticated"]
    assert (last(user).ip, last(user).agent) == ("198.51.100.4", "Firefox on Linux")


def test_an_admin_action_says_where_the_admin_was(user, enrolled):
    from django.test import Client

    from .conftest import force_password_login, make_user

    root = make_user("root", is_staff=True, is_superuser=True)
    browser = Client(REMOTE_ADDR="192.0.2.9", HTTP_USER_AGENT="curl/8.5.0")
    force_password_login(browser, root)
    data = {
        "action": "reset_mfa",
        "_selected_action": [str(Secret.objects.get().pk)],
        "confirm": "yes",
    }
    assert browser.post("/admin/django_mfa_enroll/secret/", data).status_code == 302
    event = last(user)
    assert (event.type, event.actor, event.ip, event.agent) == (
        "reset",
        f"user {root.pk}",
        "192.0.2.9",
        "curl",
    )


# GET /users/:userId/events


def many_events(user, count: int) -> None:
    for index in range(count):
        services.record(user.pk, Event.Type.WRONG_CODE, reason="invalid_code", failures=index)


def test_the_owner_reads_their_history_newest_first_by_cursor(user, api_client, other_user):
    many_events(user, 25)
    many_events(other_user, 3)
    first = api_client.get("/users/me/events")
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 20 and page["previous"] is None
    assert [e["detail"]["failures"] for e in page["results"]] == list(range(24, 4, -1))
    assert set(page["results"][0]) == {
        "id",
        "type",
        "at",
        "secret_id",
        "ip",
        "agent",
        "detail",
        "operator",
    }
    many_events(user, 2)  # newer events do not shift the next page
    second = api_client.get(page["next"]).json()
    assert [e["detail"]["failures"] for e in second["results"]] == [4, 3, 2, 1, 0]
    assert second["next"] is None
    assert first["Cache-Control"] == "no-store"


def test_an_operators_name_is_not_shown_to_the_user(user, api_client, enrolled, other_user):
    services.reset_mfa(user, by=other_user)
    sign_in(api_client, user)  # the reset ended the login of the old factor
    [reset] = [
        e for e in api_client.get("/users/me/events").json()["results"] if e["type"] == "reset"
    ]
    assert reset["operator"] is True and "actor" not in reset
    assert f"user {other_user.pk}" not in json.dumps(reset)
    assert Event.objects.get(type="reset").actor == f"user {other_user.pk}"  # kept for staff


def test_another_users_history_is_404(user, api_client, other_user):
    many_events(other_user, 1)
    for user_id in (other_user.pk, "not-a-key", "99999999999999999999999", ""):
        response = api_client.get(f"/users/{user_id}/events")
        assert response.status_code == 404, user_id
        assert response.json()["code"] == "not_found"


def test_staff_with_the_view_permission_read_anyones(user, other_user):
    from django.contrib.auth.models import Permission

    many_events(other_user, 2)
    staff = make_user("helpdesk", is_staff=True)
    client = APIClient()
    sign_in(client, staff)
    assert client.get(f"/users/{other_user.pk}/events").status_code == 404
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    response = client.get(f"/users/{other_user.pk}/events")
    assert response.status_code == 200 and len(response.json()["results"]) == 2


@pytest.mark.parametrize(
    "cursor", ["garbage", "cD0xMjM", "%00", "cD0tMQ==", "bz0xJnI9MSZwPTk5OTk5OTk5OTk5OTk5OTk5OTk5"]
)
def test_a_bad_cursor_is_404_never_500(user, api_client, cursor):
    many_events(user, 3)
    response = api_client.get(f"/users/me/events?cursor={cursor}")
    assert response.status_code in (200, 404), response.content
    assert response["Content-Type"] == "application/json"
    if response.status_code == 404:
        assert response.json()["code"] == "not_found"


def test_the_history_needs_a_login(anon_client, user):
    response = anon_client.get("/users/me/events")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_the_history_reads_in_two_statements(user, api_client, django_assert_max_num_queries):
    many_events(user, 3)
    with django_assert_max_num_queries(3):  # the user, their MFA state, one page
        assert api_client.get("/users/me/events").status_code == 200


# Found by the review of the history.


@pytest.mark.parametrize("position", ["abc", "1.5", "2026-01-01", "%00", str(2**63), "-1"])
def test_a_forged_cursor_position_is_404_never_500(user, api_client, position):
    import base64

    many_events(user, 3)
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    response = api_client.get("/users/me/events", {"cursor": cursor})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_where_an_operator_was_is_not_the_users_to_see(
    user, enrolled, django_capture_on_commit_callbacks
):
    from django.test import Client

    from .conftest import force_password_login

    root = make_user("root", is_staff=True, is_superuser=True)
    browser = Client(REMOTE_ADDR="192.0.2.77", HTTP_USER_AGENT="curl/8.5.0")
    force_password_login(browser, root)
    data = {"action": "reset_mfa", "_selected_action": [enrolled["id"]], "confirm": "yes"}
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post("/admin/django_mfa_enroll/secret/", data).status_code == 302
    assert Event.objects.get(type="reset").ip == "192.0.2.77"  # the admin keeps it
    client = APIClient()
    sign_in(client, user)
    [reset] = [e for e in client.get("/users/me/events").json()["results"] if e["type"] == "reset"]
    assert (reset["ip"], reset["agent"], reset["operator"]) == (None, "", True)
    [sent] = [m for m in mail.outbox if "reset" in m.body]
    assert "192.0.2.77" not in sent.body and "curl" not in sent.body
    assert "192.0.2.77" not in sent.alternatives[0][0]


def test_a_reset_of_a_setup_never_finished_is_no_event_and_no_mail(
    user, flow, django_capture_on_commit_callbacks
):
    flow.create()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reset_mfa(user, by="manage.py mfa_reset") is True
    assert kinds(user) == [] and mail.outbox == []


def test_a_reset_names_the_secret_it_ended(user, enrolled):
    services.reset_mfa(user, by="manage.py mfa_reset")
    assert str(last(user).secret_id) == enrolled["id"]


def test_a_removal_says_which_factor_allowed_it(user, clock, enrolled, flow):
    response = flow.client.delete(
        f"{SECRETS}/{enrolled['id']}", {"token": enrolled["codes"][0]}, format="json"
    )
    assert response.status_code == 204
    assert (last(user).type, last(user).detail) == ("method_removed", {"method": "backup_code"})


def test_a_german_mail_says_it_is_german(user, flow, django_capture_on_commit_callbacks):
    flow.client.credentials(
        HTTP_AUTHORIZATION=flow.client._credentials["HTTP_AUTHORIZATION"],
        HTTP_ACCEPT_LANGUAGE="de",
    )
    with django_capture_on_commit_callbacks(execute=True):
        flow.enroll()
    assert '<html lang="de">' in mail.outbox[0].alternatives[0][0]


class _SplitRouter:
    def db_for_write(self, model, **hints):
        return "other" if model.__name__ == "Event" else None


def test_e012_events_in_another_database_than_secrets(settings):
    from django_mfa_enroll import checks

    assert checks.check_events_beside_secrets() == []
    settings.DATABASE_ROUTERS = [f"{__name__}._SplitRouter"]
    assert [m.id for m in checks.check_events_beside_secrets()] == [checks.E012]
