"""API keys: made for a machine client, checked on each of its requests, revoked.

A key is a credential of its own, not a way around MFA: making one needs a recent login
and, for a user with an active method, a login with a second factor; a key-authenticated
request never reaches the secrets endpoints, ``/auth/*``, ``IsMFAVerified`` or
``mfa_within`` (the doors refuse it). An admin reset of MFA leaves keys alone; the admin
revokes them with an action of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import Q

from .. import apikeys, signals
from ..conf import mfa_settings
from ..models import APIKey, Event
from . import clock
from .credentials import check_recent, factor_entered
from .errors import (
    APIKeyExpired,
    APIKeyInvalid,
    APIKeyLimit,
    MFASetupRequired,
    SecondFactorRequired,
    SecretNotFound,
)
from .events import current_origin, record
from .lookups import active_secret, as_uuid, lock_users
from .policy import must_use_mfa

logger = logging.getLogger("django_mfa_enroll")

#: A key's ``last_used_at`` is written at most this often (and when its address changes).
TOUCH_SECONDS = 60


@dataclass(frozen=True)
class NewAPIKey:
    """A key just made: its row, and the key itself, shown this once."""

    row: APIKey
    key: str


def create_api_key(
    user: Any,
    *,
    amr: list[str],
    auth_time: int | None,
    description: str = "",
    expires_in: int | None = None,
) -> NewAPIKey:
    """Make an API key for ``user``, whose login (``amr``, ``auth_time``) asks for it.

    Needs a recent login, and for a user with an active method a second factor in that
    login. At most ``API_KEY_MAX`` keys per user (counted under the user's row lock, so a
    parallel burst cannot pass it); ``expires_in`` at most ``API_KEY_MAX_AGE``.
    """
    check_recent(auth_time)
    active = active_secret(user)
    if not factor_entered(amr) and active is not None:
        raise SecondFactorRequired
    if active is None and must_use_mfa(user):
        raise MFASetupRequired  # REQUIRED (its grace too): MFA first, then keys
    now = clock.now()
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    with transaction.atomic(using=router.db_for_write(APIKey)):
        lock_users([user.pk])
        if APIKey.objects.filter(user=user).count() >= mfa_settings.API_KEY_MAX:
            raise APIKeyLimit
        made = apikeys.new_key()
        row = APIKey.objects.create(
            user=user,
            prefix=made.prefix,
            key_hash=made.key_hash,
            description=description,
            created_at=now,
            expires_at=expires_at,
        )
        record(user.pk, Event.Type.API_KEY_CREATED, secret_id=row.pk, prefix=row.prefix)
    logger.info("API key created: key=%s user=%s", row.pk, user.pk)
    signals.api_key_created.send(APIKey, key=row, user=user)
    return NewAPIKey(row, made.key)


def api_keys_of(user: Any) -> Any:
    """The user's API keys, oldest first (never a key: only prefixes and dates)."""
    return APIKey.objects.filter(user=user).order_by("created_at", "pk")


def get_api_key(user: Any, key_id: Any) -> APIKey:
    """One of the user's keys; SecretNotFound for any id not theirs."""
    try:
        return APIKey.objects.get(pk=as_uuid(key_id), user=user)
    except APIKey.DoesNotExist:
        raise SecretNotFound from None


def revoke_api_key(user: Any, key_id: Any, *, by: Any = None) -> None:
    """Delete one of the user's keys: it stops working at once."""
    with transaction.atomic(using=router.db_for_write(APIKey)):
        row = get_api_key(user, key_id)
        if not APIKey.objects.filter(pk=row.pk).delete()[0]:
            raise SecretNotFound  # revoked meanwhile
        record(user.pk, Event.Type.API_KEY_REVOKED, secret_id=row.pk, by=by, prefix=row.prefix)
    logger.info("API key revoked: key=%s user=%s by=%s", row.pk, user.pk, by or user.pk)
    signals.api_key_revoked.send(APIKey, key=row, user=user, by=by)


def authenticate_api_key(raw: str, now: datetime | None = None) -> tuple[Any, APIKey]:
    """The user and key of ``raw`` (``Authorization: apikey <raw>``), or APIKeyInvalid /
    APIKeyExpired.

    One indexed read (the key's row by its prefix, with its user) and one hash, the same
    for an unknown prefix as for a wrong key. Writes only when the key was last noted more
    than ``TOUCH_SECONDS`` ago or from another address (then the history says so).
    """
    now = now or clock.now()
    prefix = apikeys.prefix_of(raw)
    row = None
    if prefix is not None:
        row = APIKey.objects.select_related("user").filter(prefix=prefix).first()
    if not apikeys.check(raw, None if row is None else row.key_hash) or row is None:
        raise APIKeyInvalid
    if row.expires_at is not None and row.expires_at <= now:
        raise APIKeyExpired
    if not getattr(row.user, "is_active", True):
        raise APIKeyInvalid
    _touch(row, now)
    return row.user, row


def _touch(row: APIKey, now: datetime) -> None:
    """Note the key's use: at most once a ``TOUCH_SECONDS``, and on a new address (with an
    event). A conditional UPDATE: of parallel requests, one writes."""
    ip = current_origin().ip
    stale = row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=TOUCH_SECONDS)
    moved = ip is not None and ip != row.last_used_ip
    if not (stale or moved):
        return
    seen = Q(last_used_at=row.last_used_at) if row.last_used_at else Q(last_used_at__isnull=True)
    with transaction.atomic(using=router.db_for_write(APIKey)):
        updated = APIKey.objects.filter(seen, pk=row.pk).update(
            last_used_at=now, last_used_ip=ip or row.last_used_ip
        )
        if updated and moved:
            record(row.user_id, Event.Type.API_KEY_USED, secret_id=row.pk, prefix=row.prefix)
    if updated:
        row.last_used_at, row.last_used_ip = now, ip or row.last_used_ip
