"""The second factor's statements, written out.

Django builds and compiles a queryset anew on each call: about 1 ms of CPU for the two
statements of a TOTP login, more than the database spends on them. They run on every
login, so their SQL is built once per database (names quoted by its backend) and sent with
the values as parameters, each prepared by its field as the ORM would; rows come back
through the fields' converters and ``Model.from_db``, as the ORM's do.
tests/test_statements.py holds them to the ORM.
"""

from __future__ import annotations

import functools
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, router, transaction
from django.db.models import Field

from ..models import MFAState, Secret
from . import event_statements
from .errors import SecretNotFound
from .lookups import as_uuid


def _field(name: str, model: Any = Secret) -> Any:
    """One of the model's columns (``_meta.get_field`` also knows relations; these are not)."""
    return model._meta.get_field(name)


@dataclass(frozen=True)
class _Columns:
    """A model's concrete columns in a SELECT, and how to turn them back into an instance."""

    model: Any
    sql: str
    attnames: tuple[str, ...]

    @classmethod
    def of(cls, model: Any, connection: Any) -> _Columns:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        table = quote(model._meta.db_table)
        return cls(
            model,
            ", ".join(f"{table}.{quote(field.column)}" for field in fields),
            tuple(field.attname for field in fields),
        )

    def load(self, connection: Any, values: Any) -> Any:
        row = list(values)
        for index, (col, converters) in enumerate(_converters_of(connection, self.model)):
            for convert in converters:
                row[index] = convert(row[index], col, connection)
        return self.model.from_db(connection.alias, self.attnames, row)


_CONVERTERS = "_django_mfa_enroll_converters"


def _converters_of(connection: Any, model: Any) -> tuple[Any, ...]:
    """What the ORM applies to each of the model's columns as it comes back: (col, functions).

    Kept on the connection object itself: a backend's converters are its connection's own
    methods, and so they go with it (one per thread; under ASGI, one per request).
    """
    known = connection.__dict__.setdefault(_CONVERTERS, {})
    if model not in known:
        table = model._meta.db_table
        cols = [field.get_col(table) for field in model._meta.concrete_fields]
        known[model] = tuple(
            (col, (*connection.ops.get_db_converters(col), *col.get_db_converters(connection)))
            for col in cols
        )
    return known[model]


@dataclass(frozen=True)
class _LoginSelect:
    sql: str
    secret: _Columns
    user: _Columns


def _plain_columns(model: Any) -> bool:
    """Whether every column of the model is selected as itself (a geometry is not)."""
    return all(
        type(field).select_format is Field.select_format for field in model._meta.concrete_fields
    )


def _login_select(connection: Any, user_model: Any, lock: bool = True) -> _LoginSelect | None:
    return _login_select_for(connection.alias, connection.vendor, user_model, lock)


@functools.lru_cache(maxsize=32)
def _login_select_for(alias: str, vendor: str, user_model: Any, lock: bool) -> _LoginSelect | None:
    """The active secret and its user by the secret's and the user's keys, with ``lock`` the
    secret's row locked; None where only the ORM knows how (a multi-table user model, a
    column the ORM selects through a function, a backend that puts FOR UPDATE elsewhere)."""
    connection = connections[alias]
    features = connection.features
    if (
        user_model._meta.concrete_model._meta.parents
        or not _plain_columns(user_model)
        or features.for_update_after_from
    ):
        return None
    quote = connection.ops.quote_name
    opts = Secret._meta
    secret_table = quote(opts.db_table)
    user_table = quote(user_model._meta.db_table)
    user_fk = _field("user")

    def column(name: str) -> str:
        return f"{secret_table}.{quote(_field(name).column)}"

    for_update = ""
    if lock and features.has_select_for_update:
        of: tuple[str, ...] = ()
        if features.has_select_for_update_of:
            of = (column("id"),) if features.select_for_update_of_column else (secret_table,)
        for_update = " " + connection.ops.for_update_sql(of=of)
    secret, user = _Columns.of(Secret, connection), _Columns.of(user_model, connection)
    # Names from the models' _meta, quoted by the backend; every value is a parameter.
    join = f"{column('user')} = {user_table}.{quote(user_fk.target_field.column)}"
    where = f"{column('id')} = %s AND {column('user')} = %s AND {column('status')} = %s"
    sql = f"SELECT {secret.sql}, {user.sql} FROM {secret_table} INNER JOIN {user_table}"  # noqa: S608
    return _LoginSelect(f"{sql} ON {join} WHERE {where}{for_update}", secret, user)


def _user_key(field: Any, value: Any, connection: Any) -> Any:
    """The value as the user model's key, as the ORM would look it up; ValueError where the
    ORM finds nothing for it (an integer beyond the column's range, which a database would
    refuse)."""
    key = field.to_python(value)
    if isinstance(key, int):
        try:
            low, high = connection.ops.integer_field_range(field.get_internal_type())
        except KeyError:  # not an integer column after all
            return key
        if not low <= key <= high:
            raise ValueError("out of the column's range")
    return key


def locked_for_login(alias: str, secret_id: Any, user_id: Any, lock: bool = True) -> Secret | None:
    """The user's active secret with its user, its row locked (unless ``lock`` is false);
    None if there is none."""
    try:
        secret_pk = as_uuid(secret_id)
    except SecretNotFound:
        return None
    connection = connections[alias]
    statement = _login_select(connection, get_user_model(), lock)
    if statement is None:
        rows_of = Secret.objects.using(alias)
        if lock:
            rows_of = rows_of.select_for_update(of=("self",))
        try:
            rows = list(
                rows_of.select_related("user")
                .filter(pk=secret_pk, user_id=user_id, status=Secret.Status.ACTIVE)
                .order_by()[:1]  # one row by its key: no sort (first() adds one)
            )
        except (DjangoValidationError, ValueError, TypeError):
            return None  # not a key of this user model
        return rows[0] if rows else None
    opts = Secret._meta
    target = _field("user").target_field
    try:
        params = [
            opts.pk.get_db_prep_value(secret_pk, connection),
            target.get_db_prep_value(_user_key(target, user_id, connection), connection),
            str(Secret.Status.ACTIVE),
        ]
    except (DjangoValidationError, ValueError, TypeError):
        return None  # not a key of this user model
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(statement.secret.attnames)
    secret: Secret = statement.secret.load(connection, row[:width])
    secret.user = statement.user.load(connection, row[width:])
    return secret


@functools.lru_cache(maxsize=32)
def _success_sql(alias: str, vendor: str, step: bool, challenge: bool, unlocked: bool) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(_field(name).column)

    sets = [f"{column('last_used_at')} = %s", f"{column('failure_count')} = 0"]
    sets.append(f"{column('locked_until')} = NULL")
    where = [f"{column('id')} = %s"]
    if step:
        sets.append(f"{column('last_step')} = %s")
        where.append(f"({column('last_step')} IS NULL OR {column('last_step')} < %s)")
    if challenge:
        sets.append(f"{column('challenge_epoch')} = {column('challenge_epoch')} + 1")
        where.append(f"{column('challenge_epoch')} = %s")
    if unlocked:  # read without a lock: still active, taking codes, no failure since
        where.append(f"{column('status')} = %s")
        locked_until = column("locked_until")
        where.append(f"({locked_until} IS NULL OR {locked_until} <= %s)")
        where.append(f"{column('failure_count')} = %s")
    table = quote(Secret._meta.db_table)
    # Names from _meta, quoted by the backend; every value is a parameter.
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(where)}"  # noqa: S608


def record_success(
    secret: Secret,
    now: datetime,
    epoch: int | None,
    step: int | None = None,
    event: tuple[Any, ...] | None = None,
    unlocked: bool = False,
) -> bool:
    """Record an accepted code in one conditional UPDATE; return whether this call won.

    Resets the failure count. With ``step`` (a TOTP code's), only while no step as late was
    accepted before (RFC 6238 5.2); with ``epoch`` (a login challenge's), only while the
    challenge holds, and spends it. With ``event`` (its values), the event is written if
    and only if the UPDATE won: on PostgreSQL in the same statement (one round trip less
    on every login), elsewhere by an INSERT after it, in one transaction. With ``unlocked``
    (the secret read without a row lock), only while the row is still active, takes codes
    and holds the failure count that was read: a right code that raced a failure is
    decided again under the lock, in the failures' queue (a burst of guesses gets no more
    tries than one at a time).
    """
    alias = router.db_for_write(Secret, instance=secret)
    connection = connections[alias]
    # In _success_sql's order: SET last_used_at[, last_step] WHERE id[, last_step][, epoch].
    steps = [] if step is None else [_field("last_step").get_db_prep_save(step, connection)]
    params = [
        _field("last_used_at").get_db_prep_save(now, connection),
        *steps,
        Secret._meta.pk.get_db_prep_value(secret.pk, connection),
        *steps,
    ]
    if epoch is not None:
        params.append(_field("challenge_epoch").get_db_prep_value(epoch, connection))
    if unlocked:
        params.append(str(Secret.Status.ACTIVE))
        params.append(_field("locked_until").get_db_prep_value(now, connection))
        params.append(_field("failure_count").get_db_prep_value(secret.failure_count, connection))
    sql = _success_sql(alias, connection.vendor, step is not None, epoch is not None, unlocked)
    joined = None if event is None else event_statements.after_update_sql(sql, alias, connection)
    if joined is not None and event is not None:
        extra = event_statements.params_after_update(event, connection)
        with connection.cursor() as cursor:
            cursor.execute(joined, [*params, *extra])
            won = cursor.rowcount == 1
    else:
        # With the event's INSERT a second statement, both in one transaction (the caller's,
        # when there is one: no savepoint).
        together = transaction.atomic(using=alias, savepoint=False) if event else nullcontext()
        with together, connection.cursor() as cursor:
            cursor.execute(sql, params)
            won = cursor.rowcount == 1
            if won and event is not None:
                event_statements.insert_event(event)
    if won:
        secret.last_used_at, secret.failure_count, secret.locked_until = now, 0, None
        if step is not None:
            secret.last_step = step
        if epoch is not None:
            secret.challenge_epoch = epoch + 1
    return won


@functools.lru_cache(maxsize=32)
def _state_sql(alias: str, vendor: str, types: int) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(_field(name).column)

    marks = ", ".join(["%s"] * types)
    secrets = quote(Secret._meta.db_table)
    states = quote(MFAState._meta.db_table)
    changed = quote(_field("changed_at", MFAState).column)
    owner = quote(_field("user", MFAState).column)
    # Names from _meta, quoted by the backend; every value is a parameter. Two index probes
    # in one statement; no ORDER BY: the caller asks which ids there are.
    return (
        f"SELECT {column('id')}, NULL FROM {secrets} WHERE {column('user')} = %s"  # noqa: S608
        f" AND {column('status')} = %s AND {column('type')} IN ({marks})"
        f" UNION ALL SELECT NULL, {changed} FROM {states} WHERE {owner} = %s"
    )


def mfa_state(user_id: Any, types: tuple[str, ...]) -> tuple[list[str], datetime | None]:
    """The ids (as text) of the user's active secrets of ``types``, and when their MFA last
    changed (None: never): one statement, on the database that takes writes (a reset must
    not linger on a replica that lags)."""
    alias = router.db_for_write(Secret)
    connection = connections[alias]
    target = _field("user").target_field
    try:
        user_key = target.get_db_prep_value(_user_key(target, user_id, connection), connection)
    except (DjangoValidationError, ValueError, TypeError):
        return [], None  # not a key of this user model: no such user, no state
    params = [user_key, str(Secret.Status.ACTIVE), *(str(kind) for kind in types), user_key]
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(alias, connection.vendor, len(types)), params)
        rows = cursor.fetchall()
    # UUIDs come back as UUID or as text, by backend: one spelling for comparisons.
    ids = [str(uuid.UUID(str(secret_id))) for secret_id, _changed in rows if secret_id is not None]
    changed = [when for secret_id, when in rows if secret_id is None and when is not None]
    return ids, (_changed_at(connection, changed[0]) if changed else None)


def _changed_at(connection: Any, value: Any) -> datetime:
    """The column's value as the ORM gives it: an aware datetime, whatever the backend."""
    col = _field("changed_at", MFAState).get_col(MFAState._meta.db_table)
    for convert in (*connection.ops.get_db_converters(col), *col.get_db_converters(connection)):
        value = convert(value, col, connection)
    return value
