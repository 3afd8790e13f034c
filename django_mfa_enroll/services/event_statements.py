"""The security history's INSERT, written out: a login writes one event in its transaction.

Built once per database from ``Event``'s ``_meta`` (names quoted by the backend, every value
a parameter prepared by its field as the ORM would), with no model instance and no query
compiled per call. On PostgreSQL the login's event rides in the same statement as the
UPDATE that accepts the code (``WITH won AS (UPDATE ... RETURNING 1) INSERT ... FROM
won``): one round trip less, and the event is written exactly when the UPDATE wins.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router

from ..models import Event, Secret

#: An event's values, in this order (``events.event_values`` builds them).
EVENT_COLUMNS = ("user", "type", "at", "secret_id", "actor", "ip", "agent", "detail")


@functools.lru_cache(maxsize=1)
def _fields() -> tuple[Any, ...]:
    return tuple(Event._meta.get_field(name) for name in EVENT_COLUMNS)


@functools.lru_cache(maxsize=32)
def _target(alias: str, vendor: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(field.column) for field in _fields())
    return f"{quote(Event._meta.db_table)} ({columns})"


def params_of(
    values: tuple[Any, ...], connection: Any, leave_out: frozenset[str] = frozenset()
) -> list[Any]:
    """The event's values as the database takes them, each prepared by its field, but for
    the columns in ``leave_out``."""
    return [
        field.get_db_prep_save(value, connection)
        for name, field, value in zip(EVENT_COLUMNS, _fields(), values, strict=True)
        if name not in leave_out
    ]


def insert_event(values: tuple[Any, ...]) -> None:
    """INSERT one event in the caller's transaction."""
    alias = router.db_for_write(Event)
    connection = connections[alias]
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
    # Names from _meta, quoted by the backend; every value is a parameter.
    sql = f"INSERT INTO {_target(alias, connection.vendor)} VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params_of(values, connection))


#: The event's values a login's UPDATE of the secret returns itself: its user, its time (the
#: ``last_used_at`` it sets), the secret. Fewer parameters to send on every login.
FROM_SECRET = (("user", "user"), ("at", "last_used_at"), ("secret_id", "id"))


def after_update_sql(
    update_sql: str, alias: str, connection: Any, at: str = "last_used_at"
) -> str | None:
    """``update_sql`` (an UPDATE of one secret) with the event's INSERT joined to it, run
    only when the row was updated, the event's time read from the secret's column ``at``
    as updated; None where the database cannot (a data-modifying WITH is PostgreSQL's) or
    the event lives in another database. Its parameters: the UPDATE's, then
    ``params_after_update``'s."""
    if connection.vendor != "postgresql" or router.db_for_write(Event) != alias:
        return None
    return _after_update_sql(update_sql, alias, connection.vendor, at)


def params_after_update(values: tuple[Any, ...], connection: Any) -> list[Any]:
    """The event's values that the joined INSERT takes as parameters (not FROM_SECRET's)."""
    return params_of(values, connection, frozenset(name for name, _column in FROM_SECRET))


@functools.lru_cache(maxsize=32)
def _after_update_sql(update_sql: str, alias: str, vendor: str, at: str) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    secret_fields: Any = Secret._meta
    from_secret = {
        name: str(secret_fields.get_field(at if name == "at" else field).column)
        for name, field in FROM_SECRET
    }
    returned = ", ".join(quote(column) for column in from_secret.values())
    # A value from the updated row, or a parameter cast to its column's type (the
    # parameters of a SELECT list have none).
    values = ", ".join(
        f"won.{quote(from_secret[name])}"
        if name in from_secret
        else f"CAST(%s AS {field.db_type(connection)})"
        for name, field in zip(EVENT_COLUMNS, _fields(), strict=True)
    )
    target = _target(alias, vendor)
    joined = f"WITH won AS ({update_sql} RETURNING {returned}) "
    return joined + f"INSERT INTO {target} SELECT {values} FROM won"  # noqa: S608
