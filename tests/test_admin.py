"""The admin door, clicked through as a site admin would, and the operator's commands."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from django_mfa_enroll import services, signals
from django_mfa_enroll.models import BackupCode, Secret

from .conftest import (
    Flow,
    access_token_for,
    challenge_of,
    force_password_login,
    make_user,
    redeem,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_mfa_enroll/secret/"


def user_changelist():
    from django.contrib.auth import get_user_model

    meta = get_user_model()._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/"


@pytest.fixture
def alice(user, clock):
    """Alice has MFA: her secret's state plus her key and codes, which no page may show."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    enrolled = Flow(client, user, clock).enroll()
    return enrolled


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser):
    client = Client()
    force_password_login(client, superuser)
    return client


def staff_client(*codenames):
    staff = make_user(f"staff{len(codenames)}{'-'.join(codenames)}"[:30], is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_secret", *codenames]))
    client = Client()
    force_password_login(client, staff)
    return client


def secret_material(alice) -> list[str]:
    stored = list(BackupCode.objects.values_list("code_hash", flat=True))
    stored += list(Secret.objects.values_list("encrypted_key", flat=True))
    return [alice["key"], *alice["codes"], *stored]


def act(client, action, secrets, confirm=True, path=CHANGELIST):
    data = {"action": action, "_selected_action": [str(s.pk) for s in secrets]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(path, data)


# Seeing.


def test_secret_changelist_shows_state_never_secrets(admin_client, alice, user):
    Secret.objects.update(locked_until=services.clock.now() + timedelta(hours=1))
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert user.get_username() in html
    assert "active" in html.lower()
    assert "icon-yes" in html  # locked
    assert ">10<" in html  # backup codes remaining
    for needle in secret_material(alice):
        assert needle not in html


def test_secret_change_page_is_read_only_and_shows_no_key(admin_client, alice):
    secret = Secret.objects.get()
    response = admin_client.get(f"{CHANGELIST}{secret.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="description"' not in html and 'name="encrypted_key"' not in html
    for needle in secret_material(alice):
        assert needle not in html
    # Nothing to post: the page is read-only.
    assert (
        admin_client.post(f"{CHANGELIST}{secret.pk}/change/", {"description": "x"}).status_code
        == 403
    )


def test_no_add_and_no_plain_delete(admin_client, alice):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    secret = Secret.objects.get()
    assert admin_client.get(f"{CHANGELIST}{secret.pk}/delete/").status_code == 403
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


def test_filters_and_search(admin_client, alice, clock):
    bob = make_user("bob")
    services.create_secret(bob, issuer="Example")
    html = admin_client.get(CHANGELIST + "?status__exact=pending").content.decode()
    assert "bob" in html and "alice" not in html.split("result_list")[1]
    html = admin_client.get(CHANGELIST + "?q=alice@example.org").content.decode()
    assert "alice" in html.split("result_list")[1] and "bob" not in html.split("result_list")[1]
    assert admin_client.get(CHANGELIST + "?type__exact=mfa&locked=no").status_code == 200
    assert admin_client.get(CHANGELIST + "?locked=yes").status_code == 200


def test_user_changelist_has_mfa_column_and_filter(admin_client, alice):
    make_user("bob")
    response = admin_client.get(user_changelist())
    html = response.content.decode()
    assert response.status_code == 200
    assert "column-mfa_enrolled" in html
    enrolled = admin_client.get(user_changelist() + "?mfa=enrolled").content.decode()
    assert "alice" in enrolled and ">bob<" not in enrolled
    none = admin_client.get(user_changelist() + "?mfa=none").content.decode()
    assert ">bob<" in none and ">alice<" not in none
    for needle in secret_material(alice):
        assert needle not in html


# Acting: reset, revoke, unlock.


def test_reset_asks_first_then_resets_logs_and_signals(admin_client, alice, user, superuser):
    secret = Secret.objects.get()
    page = act(admin_client, "reset_mfa", [secret], confirm=False)
    assert page.status_code == 200 and b"Yes, I" in page.content
    assert Secret.objects.exists()  # nothing yet
    seen = []
    receiver = lambda sender, **kw: seen.append((kw["user"].pk, kw["by"].pk))  # noqa: E731
    signals.mfa_reset.connect(receiver, weak=False)
    try:
        response = act(admin_client, "reset_mfa", [secret])
    finally:
        signals.mfa_reset.disconnect(receiver)
    assert response.status_code == 302
    assert not Secret.objects.exists() and not BackupCode.objects.exists()
    assert seen == [(user.pk, superuser.pk)]
    entry = LogEntry.objects.get()
    assert entry.user_id == superuser.pk and entry.object_id == str(user.pk)
    assert "Reset MFA" in entry.get_change_message()


def test_reset_blacklists_refresh_tokens(admin_client, alice, clock):
    anon = APIClient()
    tokens = redeem(anon, challenge_of(anon), header=False, token=clock.code(alice["key"])).json()
    assert (
        anon.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 200
    )
    act(admin_client, "reset_mfa", [Secret.objects.get()])
    response = anon.post("/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401


def test_reset_mails_the_user_as_notify_says(
    admin_client, alice, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, "reset_mfa", [Secret.objects.get()])
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]
    assert "reset" in mail.outbox[0].body
    for needle in secret_material(alice):
        assert needle not in mail.outbox[0].body
        assert needle not in mail.outbox[0].alternatives[0][0]
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "NOTIFY": []}
    carol = make_user("carol")
    services.create_secret(carol, issuer="Example")
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, "reset_mfa", [Secret.objects.get(user=carol)])
    assert len(mail.outbox) == 1


def test_the_user_can_enroll_again_after_a_reset(admin_client, alice, user, clock):
    act(admin_client, "reset_mfa", [Secret.objects.get()])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {access_token_for(user)}")
    again = Flow(client, user, clock).enroll()
    assert again["status"] == "active"
    for old in alice["codes"]:
        assert services.verify_any_code(Secret.objects.get(), old, clock()) is not None


def test_revoke_backup_codes_keeps_the_secret(admin_client, alice, superuser):
    secret = Secret.objects.get()
    assert act(admin_client, "revoke_backup_codes", [secret], confirm=False).status_code == 200
    assert BackupCode.objects.count() == 10
    act(admin_client, "revoke_backup_codes", [secret])
    assert Secret.objects.get().status == "active" and BackupCode.objects.count() == 0
    assert LogEntry.objects.get().object_id == str(secret.pk)


def test_unlock_clears_the_lock(admin_client, alice):
    Secret.objects.update(failure_count=50, locked_until=services.clock.now() + timedelta(days=1))
    secret = Secret.objects.get()
    assert act(admin_client, "unlock", [secret], confirm=False).status_code == 200
    assert Secret.objects.get().failure_count == 50
    act(admin_client, "unlock", [secret])
    secret.refresh_from_db()
    assert secret.failure_count == 0 and secret.locked_until is None
    assert LogEntry.objects.count() == 1


def test_reset_from_the_user_admin(admin_client, alice, user):
    data = {"action": "reset_mfa", "_selected_action": [str(user.pk)]}
    assert admin_client.post(user_changelist(), data).status_code == 200  # confirmation
    assert Secret.objects.exists()
    response = admin_client.post(user_changelist(), {**data, "confirm": "yes"})
    assert response.status_code == 302 and not Secret.objects.exists()
    assert LogEntry.objects.get().object_id == str(user.pk)


@pytest.mark.parametrize(
    "action,needs",
    [
        ("reset_mfa", "reset_mfa"),
        ("revoke_backup_codes", "revoke_backup_codes"),
        ("unlock", "unlock_mfa"),
    ],
)
def test_each_action_needs_its_permission(alice, action, needs):
    secret = Secret.objects.get()
    Secret.objects.update(locked_until=services.clock.now() + timedelta(days=1))
    without = staff_client()
    assert without.get(CHANGELIST).status_code == 200  # may look
    assert action not in without.get(CHANGELIST).content.decode()
    act(without, action, [secret])
    assert Secret.objects.filter(status="active").count() == 1
    assert BackupCode.objects.count() == 10 and Secret.objects.get().locked_until is not None
    assert not LogEntry.objects.exists()
    allowed = staff_client(needs)
    assert action in allowed.get(CHANGELIST).content.decode()
    assert act(allowed, action, [secret]).status_code == 302
    assert LogEntry.objects.count() == 1


def test_user_admin_reset_needs_the_permission(alice, user):
    staff = make_user("helpdesk", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    client = Client()
    force_password_login(client, staff)
    assert "reset_mfa" not in client.get(user_changelist()).content.decode()
    client.post(
        user_changelist(),
        {"action": "reset_mfa", "_selected_action": [str(user.pk)], "confirm": "yes"},
    )
    assert Secret.objects.exists()


# Commands.


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_mfa_status_lists_and_details(alice, user, clock):
    bob = make_user("bob")
    services.create_secret(bob, issuer="Example")
    Secret.objects.filter(user=user).update(locked_until=services.clock.now() + timedelta(hours=1))
    out = run("mfa_status")
    assert "alice\tactive, locked until" in out and "bob\tpending" in out
    assert "1 enrolled, 1 pending, 1 locked" in out
    assert "backup codes left 10" in out
    assert "alice" in run("mfa_status", str(user.pk)) and "bob" not in run("mfa_status", "alice")
    dave = make_user("dave")
    assert run("mfa_status", "dave").strip() == "dave: no MFA, API keys 0"
    now = int(clock.now.timestamp())
    for owner in (dave, user, user):
        services.create_api_key(owner, amr=["pwd", "mfa"], auth_time=now)
    assert run("mfa_status", "dave").strip() == "dave: no MFA, API keys 1"
    out = run("mfa_status")
    assert "backup codes left 10\tAPI keys 2" in out and out.strip().endswith("; 3 API keys")
    for needle in secret_material(alice):
        assert needle not in out


def test_commands_refuse_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user"):
        run("mfa_status", "nobody")
    with pytest.raises(CommandError, match="No user"):
        run("mfa_reset", "12345678-not-a-pk", yes=True)


def test_mfa_reset_by_username_and_by_pk(alice, user):
    out = run("mfa_reset", "alice", yes=True)
    assert "Reset MFA of alice" in out and not Secret.objects.exists()
    services.create_secret(user, issuer="Example")
    run("mfa_reset", str(user.pk), yes=True)
    assert not Secret.objects.exists()
    assert "nothing to reset" in run("mfa_reset", "alice", yes=True)


def test_mfa_reset_asks_unless_yes(alice, monkeypatch):
    from django_mfa_enroll.management.commands import mfa_reset

    monkeypatch.setattr(mfa_reset.Command, "stdin_is_tty", lambda self: False)
    with pytest.raises(CommandError, match="--yes"):
        run("mfa_reset", "alice")
    monkeypatch.setattr(mfa_reset.Command, "stdin_is_tty", lambda self: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Not reset"):
        run("mfa_reset", "alice")
    assert Secret.objects.exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    run("mfa_reset", "alice")
    assert not Secret.objects.exists()


def test_mfa_rotate_keys_reencrypts_and_can_run_again(alice, settings, clock):
    from cryptography.fernet import Fernet

    from django_mfa_enroll import crypto

    old_key = settings.MFA_ENROLL["ENCRYPTION_KEYS"][0]
    new_key = Fernet.generate_key().decode()
    bob = make_user("bob")
    services.create_secret(bob, issuer="Example")
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [new_key, old_key]}
    assert "Re-encrypted 2 secrets; 0 were already current" in run("mfa_rotate_keys", batch_size=1)
    assert "Re-encrypted 0 secrets; 2 were already current" in run("mfa_rotate_keys")
    for token in Secret.objects.values_list("encrypted_key", flat=True):
        crypto.decrypt(token, (new_key,))  # readable under the new key alone
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ENCRYPTION_KEYS": [new_key]}
    secret = Secret.objects.get(user__username="alice")
    assert services.verify_any_code(secret, clock.code(alice["key"]), clock()) is None


def test_mfa_rotate_keys_stops_on_an_unknown_key(alice, settings):
    from cryptography.fernet import Fernet

    settings.MFA_ENROLL = {
        **settings.MFA_ENROLL,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    with pytest.raises(CommandError, match="none of the configured keys"):
        run("mfa_rotate_keys")


def test_mfa_cleanup_deletes_old_pending_only(alice, clock, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "PENDING_MAX_AGE": 3600}
    old, fresh = make_user("old"), make_user("fresh")
    services.create_secret(old, issuer="Example")
    Secret.objects.filter(user=old).update(created_at=services.clock.now() - timedelta(hours=2))
    services.create_secret(fresh, issuer="Example")
    Secret.objects.filter(user__username="alice").update(
        created_at=services.clock.now() - timedelta(days=9)
    )
    assert "Deleted 1 pending" in run("mfa_cleanup")
    assert set(Secret.objects.values_list("user__username", flat=True)) == {"alice", "fresh"}


# Changing another user's factors needs a recent login, in the admin as through the API.


@pytest.mark.parametrize(
    "action,path",
    [
        ("reset_mfa", CHANGELIST),
        ("revoke_backup_codes", CHANGELIST),
        ("unlock", CHANGELIST),
        ("reset_mfa", None),
    ],
)
def test_an_old_admin_session_changes_no_ones_factors(alice, user, superuser, action, path):
    from django_mfa_enroll.claims import SESSION_AUTH_TIME

    Secret.objects.update(locked_until=services.clock.now() + timedelta(days=1))
    client = Client()
    force_password_login(client, superuser)
    session = client.session
    session[SESSION_AUTH_TIME] = int(services.clock.now().timestamp()) - 601
    session.save()
    before = (list(Secret.objects.values()), BackupCode.objects.count())
    target = [Secret.objects.get()] if path else [user]
    response = act(client, action, target, path=path or user_changelist())
    assert response.status_code == 302
    assert (list(Secret.objects.values()), BackupCode.objects.count()) == before
    assert not LogEntry.objects.exists()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("needs a recent login" in m and "log in again" in m for m in shown), shown
    # Without confirming either: no confirmation page for a stale login.
    assert (
        act(client, action, target, confirm=False, path=path or user_changelist()).status_code
        == 302
    )


def test_an_admin_session_that_never_said_when_changes_nothing(alice, superuser):
    client = Client()
    client.force_login(superuser)  # no login time in the session
    assert act(client, "reset_mfa", [Secret.objects.get()]).status_code == 302
    assert Secret.objects.filter(status="active").count() == 1


# The security history in the admin (read-only).


def test_the_secrets_page_shows_its_users_history_without_secrets(admin_client, alice, user):
    secret = Secret.objects.get()
    Secret.objects.update(failure_count=3)
    services.unlock(secret, by="helpdesk")
    page = admin_client.get(f"{CHANGELIST}{secret.pk}/change/").content.decode()
    assert "Security history of the user" in page  # the label, capitalised by the admin
    assert "MFA turned on" in page and "Unlocked" in page and "helpdesk" in page
    for needle in secret_material(alice):
        assert needle not in page


def test_the_users_page_shows_the_history(admin_client, alice, user):
    page = admin_client.get(f"{user_changelist()}{user.pk}/change/").content.decode()
    assert "Security history" in page and "MFA turned on" in page
    add_page = admin_client.get(f"{user_changelist()}add/")
    assert add_page.status_code == 200 and "Security history" not in add_page.content.decode()


def test_the_event_list_reads_and_changes_nothing(admin_client, alice, user):
    base = "/admin/django_mfa_enroll/event/"
    listing = admin_client.get(f"{base}?type__exact=enrolled")
    assert listing.status_code == 200 and "MFA turned on" in listing.content.decode()
    event = user.mfa_events.get()
    assert admin_client.get(f"{base}{event.pk}/change/").status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert user.mfa_events.count() == 1


def test_an_empty_history_says_so(admin_client, user):
    page = admin_client.get(f"{user_changelist()}{user.pk}/change/").content.decode()
    assert "No security events yet." in page


def test_mfa_cleanup_deletes_old_events_in_batches(alice, user, settings, clock):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "EVENT_RETENTION_DAYS": 30}
    for days in (40, 35, 31, 29, 1):
        services.record(user.pk, "login", at=clock.now - timedelta(days=days), method="totp")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as seen:
        out = run("mfa_cleanup", "--batch-size", "2")
    assert "Deleted 3 security events older than 30 days." in out
    deletes = [
        q for q in seen.captured_queries if q["sql"].startswith("DELETE") and "event" in q["sql"]
    ]
    assert len(deletes) == 2  # three old events, two to a batch
    assert user.mfa_events.count() == 3  # the two recent logins and the enrollment


def test_mfa_cleanup_keeps_every_event_when_told_to(alice, user, settings, clock):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "EVENT_RETENTION_DAYS": None}
    services.record(user.pk, "login", at=clock.now - timedelta(days=4000), method="totp")
    assert "Kept every security event" in run("mfa_cleanup")
    assert user.mfa_events.count() == 2


def test_deleting_a_user_takes_their_mfa_rows_with_them(admin_client, alice, user):
    services.unlock(Secret.objects.get(), by="x")  # not locked: no event, but a secret stays
    assert user.mfa_events.exists() and Secret.objects.filter(user=user).exists()
    page = admin_client.get(f"{user_changelist()}{user.pk}/delete/")
    assert page.status_code == 200 and "permission to delete" not in page.content.decode()
    assert (
        admin_client.post(f"{user_changelist()}{user.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Secret.objects.exists() and not BackupCode.objects.exists()


def test_the_history_needs_the_view_event_permission(alice, user):
    model = get_user_model()._meta.model_name
    viewer = staff_client(f"view_{model}", f"change_{model}")
    secret_page = viewer.get(f"{CHANGELIST}{Secret.objects.get().pk}/change/").content.decode()
    user_page = viewer.get(f"{user_changelist()}{user.pk}/change/").content.decode()
    assert "MFA turned on" not in secret_page and "MFA turned on" not in user_page
    allowed = staff_client(f"view_{model}", f"change_{model}", "view_event")
    assert "MFA turned on" in allowed.get(f"{user_changelist()}{user.pk}/change/").content.decode()


def test_retention_walks_from_the_oldest(alice, user, settings, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "EVENT_RETENTION_DAYS": 30}
    services.record(user.pk, "login", at=clock.now - timedelta(days=40), method="totp")
    with CaptureQueriesContext(connection) as seen:
        services.delete_old_events()
    [select, *_] = [
        q["sql"] for q in seen.captured_queries if "django_mfa_enroll_event" in q["sql"]
    ]
    assert 'ORDER BY "django_mfa_enroll_event"."id" ASC' in select


# API keys.

KEYS = "/admin/django_mfa_enroll/apikey/"


def user_perms(*actions: str) -> list[str]:
    from django.contrib.auth import get_user_model

    return [f"{action}_{get_user_model()._meta.model_name}" for action in actions]


@pytest.fixture
def keys(user, clock):
    now = int(clock.now.timestamp())
    return [
        services.create_api_key(user, amr=["pwd"], auth_time=now, description=f"job {n}")
        for n in range(2)
    ]


def test_the_key_list_shows_prefixes_never_keys_or_hashes(admin_client, keys):
    from django_mfa_enroll.models import APIKey

    page = admin_client.get(KEYS).content.decode()
    detail = admin_client.get(f"{KEYS}{keys[0].row.pk}/change/").content.decode()
    for shown in (page, detail):
        for made in keys:
            assert made.key not in shown and made.row.key_hash not in shown
    assert all(made.row.prefix in page for made in keys) and "job 1" in page
    assert admin_client.get(f"{KEYS}add/").status_code == 403
    assert admin_client.post(f"{KEYS}{keys[0].row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert APIKey.objects.count() == 2


def test_revoke_asks_first_then_revokes_records_and_logs(admin_client, keys, superuser):
    from django_mfa_enroll.models import APIKey, Event

    first = keys[0].row
    assert (
        act(admin_client, "revoke_api_keys", [first], confirm=False, path=KEYS).status_code == 200
    )
    assert APIKey.objects.count() == 2
    assert act(admin_client, "revoke_api_keys", [first], path=KEYS).status_code == 302
    assert list(APIKey.objects.values_list("pk", flat=True)) == [keys[1].row.pk]
    event = Event.objects.get(type="apikey_revoked")
    assert event.secret_id == first.pk and event.actor == f"user {superuser.pk}"
    assert LogEntry.objects.get().object_id == str(first.user_id)


def test_revoke_from_the_user_admin_and_its_permission(keys, user):
    from django_mfa_enroll.models import APIKey

    data = {"action": "revoke_api_keys", "_selected_action": [str(user.pk)], "confirm": "yes"}
    helpdesk = make_user("helpdesk", is_staff=True)
    helpdesk.user_permissions.add(
        *Permission.objects.filter(codename__in=user_perms("view", "change"))
    )
    client = Client()
    force_password_login(client, helpdesk)
    page = client.get(user_changelist())
    assert page.status_code == 200 and "revoke_api_keys" not in page.content.decode()
    client.post(user_changelist(), data)
    assert APIKey.objects.count() == 2
    helpdesk.user_permissions.add(Permission.objects.get(codename="revoke_api_keys"))
    client = Client()
    force_password_login(client, helpdesk)
    assert client.post(user_changelist(), data).status_code == 302
    assert not APIKey.objects.exists()


def test_deleting_a_user_with_keys_needs_no_permission_on_keys(keys, user):
    from django.contrib.auth import get_user_model

    staff = make_user("janitor", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=user_perms("view", "delete"))
    )
    client = Client()
    force_password_login(client, staff)
    response = client.post(f"{user_changelist()}{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
