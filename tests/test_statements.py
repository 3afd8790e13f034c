"""The second factor's hand-written statements (services/statements.py) against what the ORM does.

A TOTP login runs two statements written out rather than compiled by the ORM each time:
the active secret and its user with the secret's row locked, and the conditional UPDATE
that accepts the code. These tests hold them to the ORM: the same instances, field by
field, on SQLite and PostgreSQL, with Django's user and a UUID user; nothing found for
keys that are not keys; the lock taken; and the ORM's own path where the written one does
not apply.
"""

from __future__ import annotations

import gc
import threading
import uuid
import weakref
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import connection, connections, models, transaction
from django.test.utils import CaptureQueriesContext, isolate_apps

from django_mfa_enroll.conf import mfa_settings
from django_mfa_enroll.models import MFAState, Secret
from django_mfa_enroll.services import event_statements, statements

from .conftest import challenge_of, make_user, redeem


def _orm(secret_pk, user_pk) -> Secret:
    return Secret.objects.select_related("user").get(pk=secret_pk, user_id=user_pk)


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def _written(secret_id, user_id):
    with transaction.atomic():
        return statements.locked_for_login("default", secret_id, user_id)


def test_the_written_select_loads_what_the_orm_loads(anon_client, enrolled, user, clock):
    # A login first, so that last_step, last_used_at and the epoch are set (and the user's
    # last_login, a datetime through the converters).
    redeem(anon_client, challenge_of(anon_client), token=clock.code(enrolled["key"]))
    get_user_model().objects.filter(pk=user.pk).update(last_login=clock.now)
    secret = Secret.objects.get()
    loaded = _written(secret.pk, user.pk)
    expected = _orm(secret.pk, user.pk)
    assert type(loaded) is Secret and type(loaded.user) is get_user_model()
    assert _fields(loaded) == _fields(expected)
    assert _fields(loaded.user) == _fields(expected.user)
    assert loaded.last_step is not None and loaded.user.last_login is not None
    assert loaded.last_used_at.tzinfo is not None  # aware, as the ORM gives it
    assert (loaded._state.db, loaded._state.adding) == ("default", False)
    assert (loaded.user._state.db, loaded.user._state.adding) == ("default", False)
    assert loaded.user_id == loaded.user.pk
    with CaptureQueriesContext(connection) as captured:
        assert loaded.user.get_username() == "alice"  # cached: no query
    assert not captured.captured_queries


OURS = object()  # the enrolled secret's or user's own key


@pytest.mark.parametrize(
    "secret_id, user_id",
    [
        ("not-a-uuid", OURS),
        ("", OURS),
        (uuid.uuid4(), OURS),
        (OURS, "not-a-key"),
        (OURS, "99999999999999999999999999"),  # beyond any integer column
        (OURS, ""),
        (OURS, []),
        (OURS, None),
    ],
)
def test_keys_that_name_nothing_load_nothing(enrolled, user, secret_id, user_id):
    secret = Secret.objects.get()
    secret_id = secret.pk if secret_id is OURS else secret_id
    assert _written(secret_id, user.pk if user_id is OURS else user_id) is None


def test_another_users_secret_and_a_pending_one_load_nothing(enrolled, user, flow):
    secret = Secret.objects.get()
    other = make_user("mallory")
    assert _written(secret.pk, other.pk) is None
    Secret.objects.update(status=Secret.Status.PENDING)
    assert _written(secret.pk, user.pk) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_the_select_locks_the_secrets_row_only(enrolled, user):
    secret = Secret.objects.get()
    with CaptureQueriesContext(connection) as captured:
        _written(secret.pk, user.pk)
    (select,) = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert select.endswith(f'FOR UPDATE OF "{Secret._meta.db_table}"')


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_the_first_try_of_a_login_takes_no_lock(enrolled, user):
    secret = Secret.objects.get()
    with CaptureQueriesContext(connection) as captured:
        assert statements.locked_for_login("default", secret.pk, user.pk, lock=False) == secret
    (select,) = [q["sql"] for q in captured.captured_queries]
    assert "FOR UPDATE" not in select and select.startswith("SELECT")


def test_the_suites_user_models_take_the_written_path():
    assert statements._login_select(connections["default"], get_user_model()) is not None


@isolate_apps("django_mfa_enroll")
def test_a_multi_table_or_geometry_user_model_takes_the_orms_path():
    class Person(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "django_mfa_enroll"

    class Member(Person):  # noqa: DJ008 - multi-table: its parent's columns live in another table
        class Meta:
            app_label = "django_mfa_enroll"

    class Proxied(Person):  # noqa: DJ008
        class Meta:
            app_label = "django_mfa_enroll"
            proxy = True

    class PointField(models.BinaryField):
        def select_format(self, compiler, sql, params):  # as GIS fields wrap theirs
            return f"AsBinary({sql})", params

    class Located(models.Model):  # noqa: DJ008
        where = PointField()

        class Meta:
            app_label = "django_mfa_enroll"

    connection = connections["default"]
    assert statements._login_select(connection, Member) is None
    assert statements._login_select(connection, Located) is None
    assert statements._login_select(connection, Proxied) is not None
    assert statements._login_select(connection, Person) is not None


def test_a_user_key_is_read_as_the_orm_reads_it_validators_aside():
    connection = connections["default"]
    # The ORM looks a key up without running its validators: neither may this.
    key = models.CharField(primary_key=True, validators=[RegexValidator("^[a-z]+$")])
    assert statements._user_key(key, "bob2", connection) == "bob2"
    assert statements._user_key(models.AutoField(primary_key=True), "42", connection) == 42
    with pytest.raises(ValueError):
        statements._user_key(models.AutoField(primary_key=True), str(2**64), connection)
    with pytest.raises(DjangoValidationError):
        statements._user_key(models.AutoField(primary_key=True), "forty-two", connection)


def test_the_sql_is_built_once_per_database_and_converters_die_with_their_thread():
    seen, alive = [], []

    def in_a_thread():
        connection = connections["default"]  # this thread's own connection object
        seen.append(statements._login_select(connection, get_user_model()))
        assert statements._converters_of(connection, Secret)
        alive.append(weakref.ref(connection))

    threads = [threading.Thread(target=in_a_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()
    gc.collect()
    assert seen[0] is seen[1] is seen[2]  # one statement for every thread's connection
    assert [ref() for ref in alive] == [None] * 3  # nothing keeps a finished thread's


@pytest.fixture
def orm_only(monkeypatch):
    """The ORM's path, as for a multi-table user model or a backend the SQL does not fit."""
    monkeypatch.setattr(statements, "_login_select", lambda *args: None)


def test_the_orms_path_logs_in_once(orm_only, anon_client, enrolled, user, clock):
    code = clock.code(enrolled["key"])
    first = redeem(anon_client, challenge_of(anon_client), token=code)
    assert first.status_code == 200
    again = redeem(anon_client, challenge_of(anon_client), token=code)
    assert again.status_code == 401 and again.json()["code"] == "code_reused"
    secret = Secret.objects.get()
    assert statements.locked_for_login("default", secret.pk, "not-a-key") is None
    assert statements.locked_for_login("default", secret.pk, user.pk) == secret


def _record(secret, clock, epoch=None, step=None) -> bool:
    with transaction.atomic():
        return statements.record_success(secret, clock.now, epoch, step)


def test_the_update_accepts_a_later_step_only(enrolled, clock):
    secret = Secret.objects.get()
    step = secret.last_step
    Secret.objects.update(failure_count=2)
    assert not _record(secret, clock, step=step)  # the enrolling step again
    assert not _record(secret, clock, step=step - 1)
    assert Secret.objects.get().failure_count == 2  # a lost UPDATE changes nothing
    assert _record(secret, clock, step=step + 1)
    stored = Secret.objects.get()
    assert (stored.last_step, stored.failure_count, stored.locked_until) == (step + 1, 0, None)
    assert stored.last_used_at == clock.now
    assert (secret.last_step, secret.failure_count) == (step + 1, 0)


def test_the_update_of_a_row_read_unlocked_needs_it_active_and_taking_codes(enrolled, clock):
    secret = Secret.objects.get()
    step = secret.last_step

    def unlocked(step):
        return statements.record_success(secret, clock.now, None, step, unlocked=True)

    Secret.objects.update(failure_count=9, locked_until=clock.now + timedelta(seconds=30))
    assert not unlocked(step + 1)  # a failure locked it after the read
    assert Secret.objects.get().failure_count == 9
    Secret.objects.update(locked_until=clock.now)  # the lock ends now: codes count again
    assert not unlocked(step + 1)  # but the count is not the one read (0): decided locked
    secret.refresh_from_db()  # read again: 9 failures, no lock
    assert unlocked(step + 1)
    assert (Secret.objects.get().failure_count, Secret.objects.get().last_step) == (0, step + 1)
    Secret.objects.update(status=Secret.Status.PENDING)
    assert not unlocked(step + 2)
    assert Secret.objects.get().last_step == step + 1


def test_the_update_spends_the_challenge_once(enrolled, clock):
    secret = Secret.objects.get()
    epoch = secret.challenge_epoch
    assert not _record(secret, clock, epoch=epoch + 1)  # not the current epoch
    assert _record(secret, clock, epoch=epoch)
    assert Secret.objects.get().challenge_epoch == epoch + 1 == secret.challenge_epoch
    assert not _record(secret, clock, epoch=epoch)  # spent
    assert _record(secret, clock)  # no step, no challenge: the secret's row, once more
    assert Secret.objects.get().challenge_epoch == epoch + 1


# The MFA state of every authenticated request: the user's active methods, and when their
# MFA last changed.


def _orm_state(user_pk) -> tuple[list[str], object]:
    rows = Secret.objects.filter(user_id=user_pk, status=Secret.Status.ACTIVE, type="mfa")
    state = MFAState.objects.filter(user_id=user_pk).first()
    return sorted(str(pk) for pk in rows.values_list("pk", flat=True)), (
        state.changed_at if state else None
    )


def test_the_written_state_read_finds_what_the_orm_finds(user, flow, other_user, clock):
    assert statements.mfa_state(user.pk, ("mfa",)) == ([], None) == _orm_state(user.pk)
    flow.create()
    assert statements.mfa_state(user.pk, ("mfa",)) == ([], None) == _orm_state(user.pk)
    enrolled = flow.enroll()
    ids, changed = statements.mfa_state(user.pk, ("mfa",))
    assert (ids, changed) == _orm_state(user.pk)
    assert ids == [enrolled["id"]] and changed.tzinfo is not None  # aware, as the ORM's
    assert changed == clock.now - timedelta(seconds=mfa_settings.TOTP_PERIOD)  # at enroll
    assert statements.mfa_state(other_user.pk, ("mfa",)) == ([], None)
    assert statements.mfa_state(user.pk, ("another-type",)) == ([], changed)
    assert statements.mfa_state(user.pk, ("another-type", "mfa")) == ([enrolled["id"]], changed)
    assert str(uuid.UUID(enrolled["id"])) == enrolled["id"]  # the one spelling compared


@pytest.mark.parametrize("user_id", ["not-a-key", "99999999999999999999999999", "", None, []])
def test_a_key_that_names_no_user_has_no_state(enrolled, user_id):
    assert statements.mfa_state(user_id, ("mfa",)) == ([], None)


def test_the_state_read_is_one_statement_with_no_sort(enrolled, user):
    with CaptureQueriesContext(connection) as captured:
        statements.mfa_state(user.pk, ("mfa",))
    (sql,) = [q["sql"] for q in captured.captured_queries]
    assert sql.startswith("SELECT") and "ORDER BY" not in sql and "FOR UPDATE" not in sql


# The event a login writes: the written INSERT stores what the ORM stores.


def test_the_written_event_insert_stores_what_the_orm_stores(user, clock):
    from django_mfa_enroll.models import Event

    fields = {
        "type": "backup_code_used",
        "at": clock.now,
        "secret_id": uuid.uuid4(),
        "actor": "user 7",
        "ip": "2001:db8::1",
        "agent": "Firefox on Linux",
        "detail": {"method": "backup_code", "codes_left": 9},
    }
    event_statements.insert_event((user.pk, *fields.values()))  # in EVENT_COLUMNS' order
    Event.objects.create(user_id=user.pk, **fields)
    written, orm = (
        {k: v for k, v in row.items() if k != "id"} for row in Event.objects.order_by("id").values()
    )
    assert written == orm
    assert written["detail"] == {"method": "backup_code", "codes_left": 9}
    assert written["at"] == clock.now and written["ip"] == "2001:db8::1"


# A login's first try at a TOTP code reads the secret without a lock or a transaction.
# Whatever changes between that read and its UPDATE (a failure that locks the secret, a
# reset, a challenge spent) makes the UPDATE lose, and the login is decided again under
# the lock, as it would have been without the first try.


@pytest.fixture
def stale_read(monkeypatch):
    """``stale_read(change)``: ``change()`` runs right after the unlocked read of a login."""
    from django_mfa_enroll.services import first_try, login

    def install(change):
        """Returns the list of ``lock`` of each read: [False, True] when the first try lost."""
        reads = []

        def read_then_change(alias, secret_id, user_id, lock=True):
            reads.append(lock)
            secret = statements.locked_for_login(alias, secret_id, user_id, lock)
            if not lock:
                change()
            return secret

        monkeypatch.setattr(first_try, "locked_for_login", read_then_change)
        monkeypatch.setattr(login, "locked_for_login", read_then_change)
        return reads

    return install


def _login_events() -> int:
    from django_mfa_enroll.models import Event

    return Event.objects.filter(type=Event.Type.LOGIN).count()


def test_a_lock_after_the_read_refuses_the_right_code(stale_read, enrolled, user, clock):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    until = clock.now + timedelta(seconds=60)
    stale_read(lambda: Secret.objects.update(failure_count=10, locked_until=until))
    with pytest.raises(services.Locked):
        services.verify_second_factor(user.pk, secret.pk, clock.code(enrolled["key"]))
    stored = Secret.objects.get()
    assert (stored.last_step, stored.failure_count) == (secret.last_step, 10)
    assert _login_events() == 0


def test_a_reset_after_the_read_refuses_the_right_code(stale_read, enrolled, user, clock):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    stale_read(lambda: services.reset_mfa(user, by="test"))
    with pytest.raises(services.ChallengeInvalid):
        services.verify_second_factor(user.pk, secret.pk, clock.code(enrolled["key"]))
    assert _login_events() == 0


def test_a_challenge_spent_after_the_read_refuses_the_right_code(stale_read, enrolled, user, clock):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    epoch = secret.challenge_epoch
    stale_read(lambda: Secret.objects.update(challenge_epoch=epoch + 1))
    with pytest.raises(services.ChallengeUsed):
        services.verify_second_factor(
            user.pk, secret.pk, clock.code(enrolled["key"]), method="totp", epoch=epoch
        )
    assert Secret.objects.get().last_step == secret.last_step
    assert _login_events() == 0


def test_a_step_taken_after_the_read_refuses_the_same_code(stale_read, enrolled, user, clock):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    code = clock.code(enrolled["key"])
    stale_read(lambda: Secret.objects.update(last_step=secret.last_step + 5))
    with pytest.raises(services.ReusedCode):
        services.verify_second_factor(user.pk, secret.pk, code)
    assert Secret.objects.get().failure_count == 1  # refused under the lock, and counted
    assert _login_events() == 0


def test_a_right_code_on_the_first_try_writes_its_event_once(enrolled, user, clock):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    factor = services.verify_second_factor(user.pk, secret.pk, clock.code(enrolled["key"]))
    assert factor.method == "totp" and factor.secret == secret
    assert _login_events() == 1
    assert Secret.objects.get().last_step == factor.secret.last_step > secret.last_step


def _wrong(enrolled, clock) -> str:
    return f"{(int(clock.code(enrolled['key'])) + 1) % 1_000_000:06d}"


def test_a_wrong_code_read_before_other_failures_is_counted_after_them(
    stale_read, enrolled, user, clock
):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    stale_read(lambda: Secret.objects.update(failure_count=2))  # two failures meanwhile
    with pytest.raises(services.InvalidCode) as refused:
        services.verify_second_factor(user.pk, secret.pk, _wrong(enrolled, clock))
    assert refused.value.failures == 3 == Secret.objects.get().failure_count


def test_a_wrong_code_read_before_a_lock_is_not_counted(stale_read, enrolled, user, clock):
    from django_mfa_enroll import services
    from django_mfa_enroll.models import Event

    secret = Secret.objects.get()
    until = clock.now + timedelta(seconds=60)
    stale_read(lambda: Secret.objects.update(failure_count=10, locked_until=until))
    with pytest.raises(services.Locked):
        services.verify_second_factor(user.pk, secret.pk, _wrong(enrolled, clock))
    assert Secret.objects.get().failure_count == 10
    assert not Event.objects.filter(type__in=["wrong_code", "locked"]).exists()


def test_a_wrong_code_on_the_first_try_is_counted_with_its_event(enrolled, user, clock):
    from django_mfa_enroll import services
    from django_mfa_enroll.models import Event

    secret = Secret.objects.get()
    Secret.objects.update(failure_count=4)
    with pytest.raises(services.InvalidCode) as refused:
        services.verify_second_factor(user.pk, secret.pk, _wrong(enrolled, clock))
    stored = Secret.objects.get()
    assert refused.value.failures == 5 == stored.failure_count
    assert refused.value.wait and stored.locked_until == clock.now + timedelta(
        seconds=refused.value.wait
    )
    (event,) = Event.objects.filter(type__in=["wrong_code", "locked"])
    assert event.detail == {"reason": "invalid_code", "failures": 5}


def test_a_wrong_code_whose_challenge_was_spent_after_the_read_is_not_counted(
    stale_read, enrolled, user, clock
):
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    epoch = secret.challenge_epoch
    stale_read(lambda: Secret.objects.update(challenge_epoch=epoch + 1))  # a login won
    with pytest.raises(services.ChallengeUsed):
        services.verify_second_factor(
            user.pk, secret.pk, _wrong(enrolled, clock), method="totp", epoch=epoch
        )
    assert Secret.objects.get().failure_count == 0


def test_a_right_code_read_before_a_failure_is_checked_again_under_the_lock(
    stale_read, enrolled, user, clock
):
    """A failure counted between the first try's read and its UPDATE: the right code is
    not accepted by that UPDATE (a burst of guesses would otherwise each get a try) but
    in the failures' queue, where this one, the secret not locked, still passes."""
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    reads = stale_read(lambda: Secret.objects.update(failure_count=1))
    factor = services.verify_second_factor(user.pk, secret.pk, clock.code(enrolled["key"]))
    assert reads == [False, True] and factor.method == "totp"
    assert Secret.objects.get().failure_count == 0


def test_a_lost_first_try_costs_the_same_for_a_right_and_a_wrong_code(
    stale_read, enrolled, user, clock
):
    """Before the second look under the lock, a right code and a wrong one have sent the
    same statements (a SELECT, an UPDATE that changed nothing): the time of the 429 says
    nothing about the code."""
    from django_mfa_enroll import services

    secret = Secret.objects.get()
    until = clock.now + timedelta(seconds=60)
    spent = {}
    for label, code in (("right", clock.code(enrolled["key"])), ("wrong", _wrong(enrolled, clock))):
        Secret.objects.update(failure_count=0, locked_until=None)
        stale_read(lambda: Secret.objects.update(failure_count=9, locked_until=until))
        with CaptureQueriesContext(connection) as captured, pytest.raises(services.Locked):
            services.verify_second_factor(user.pk, secret.pk, code)
        sql = [q["sql"] for q in captured.captured_queries]
        second_read = [i for i, q in enumerate(sql) if q.startswith("SELECT")][1]
        spent[label] = [q.split()[0] for q in sql[:second_read]]
    assert spent["right"] == spent["wrong"]
    assert spent["right"].count("SELECT") == 1 and any(
        v in ("UPDATE", "WITH") for v in spent["right"]
    )
