"""A login's first try at a TOTP code: no transaction and no row lock.

The secret and its user are read as they are; the code is checked; then one conditional
UPDATE either accepts it (statements.record_success) or counts its failure (here), each
with its event in the same statement on PostgreSQL (in one transaction elsewhere). Both
hold only while the row is exactly as read where it matters: active, not locked, the same
failure count, the challenge unspent (and for a right code, no step as late accepted).

Anything else, and any UPDATE that finds the row changed, is decided again on the row
locked, as a backup code always is (login.py): so every outcome is what some one-at-a-time
order of the requests would give, and a burst of guesses gets no more tries than that.
A right code and a wrong one cost the same before that second look (one statement that
changed nothing), so its time tells nothing about the code.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction

from ..models import Event, Secret
from . import event_statements
from .errors import InvalidCode, MFAError
from .events import event_values, written
from .failures import failure_event, is_locked, wait_after
from .statements import locked_for_login, record_success
from .verification import TOTP, totp_step


def first_try(
    alias: str, user_id: Any, secret_id: Any, typed: str, now: datetime, epoch: int | None
) -> tuple[Secret, MFAError | None] | None:
    """``(secret, None)``: the code was accepted; ``(secret, error)``: it was wrong and its
    failure counted; None: the locked check must decide."""
    secret = locked_for_login(alias, secret_id, user_id, lock=False)
    if (
        secret is None
        or not getattr(secret.user, "is_active", True)
        or (epoch is not None and secret.challenge_epoch != epoch)
        or is_locked(secret, now)
    ):
        return None
    step = totp_step(secret, typed.replace(" ", ""), now)
    if step is None:
        error = InvalidCode()
        return (secret, error) if _count_failure(secret, now, error, epoch) else None
    login = login_event(secret, now)
    if not record_success(secret, now, epoch, step, login, unlocked=True):
        return None
    written(login)  # with the UPDATE that accepted the code
    return secret, None


def login_event(secret: Secret, now: datetime) -> tuple[Any, ...]:
    """The values of a TOTP login's event, written by the UPDATE that accepts the code."""
    return event_values(secret.user_id, Event.Type.LOGIN, secret_id=secret.pk, at=now, method=TOTP)


def _count_failure(secret: Secret, now: datetime, error: MFAError, epoch: int | None) -> bool:
    """Count a wrong code, and set the wait it earns, while the row is as read; its event
    with it. False: the row changed, nothing was written."""
    failures = secret.failure_count + 1
    wait = wait_after(failures)
    kind = failure_event(failures)
    event = event_values(
        secret.user_id, kind, secret_id=secret.pk, at=now, reason=error.code, failures=failures
    )
    alias = router.db_for_write(Secret, instance=secret)
    connection = connections[alias]
    sql = _failure_sql(alias, connection.vendor, bool(wait), epoch is not None)
    field: Any = Secret._meta.get_field
    params = [field("last_failure_at").get_db_prep_save(now, connection)]
    if wait:
        until = now + timedelta(seconds=wait)
        params.append(field("locked_until").get_db_prep_save(until, connection))
    params += [
        Secret._meta.pk.get_db_prep_value(secret.pk, connection),
        field("failure_count").get_db_prep_value(secret.failure_count, connection),
        str(Secret.Status.ACTIVE),
        field("locked_until").get_db_prep_value(now, connection),
    ]
    if epoch is not None:
        params.append(field("challenge_epoch").get_db_prep_value(epoch, connection))
    joined = event_statements.after_update_sql(sql, alias, connection, at="last_failure_at")
    if joined is not None:
        extra = event_statements.params_after_update(event, connection)
        with connection.cursor() as cursor:
            cursor.execute(joined, [*params, *extra])
            won = cursor.rowcount == 1
    else:
        with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
            cursor.execute(sql, params)
            won = cursor.rowcount == 1
            if won:
                event_statements.insert_event(event)
    if won:
        written(event)
        secret.failure_count, error.failures, error.wait = failures, failures, wait
    return won


@functools.lru_cache(maxsize=32)
def _failure_sql(alias: str, vendor: str, wait: bool, challenge: bool) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        field: Any = Secret._meta.get_field(name)
        return quote(field.column)

    count, until = column("failure_count"), column("locked_until")
    sets = [f"{count} = {count} + 1", f"{column('last_failure_at')} = %s"]
    if wait:
        sets.append(f"{until} = %s")
    where = [f"{column('id')} = %s", f"{count} = %s", f"{column('status')} = %s"]
    where.append(f"({until} IS NULL OR {until} <= %s)")
    if challenge:
        where.append(f"{column('challenge_epoch')} = %s")
    table = quote(Secret._meta.db_table)
    # Names from _meta, quoted by the backend; every value is a parameter.
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(where)}"  # noqa: S608
