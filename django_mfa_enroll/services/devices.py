"""Trusted devices (``TRUST_DAYS``): a browser remembered after a second factor logs in
with its password and its device token, without a challenge.

A device token is ``mfad_<prefix>_<256 random bits>`` (``apikeys.py``): the prefix names
the row, only the SHA-256 is stored, the check is constant-time and costs the same for an
unknown prefix. It is bound to the user and to the secret whose code earned it: a reset or
a delete of that secret deletes it, and a new backup-code set revokes every device. A
token that does not check out changes nothing: the login gets its challenge, whose codes
count as ever (a guessed token is never a way around the failure count).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import Q

from .. import apikeys
from ..conf import mfa_settings
from ..models import Event, TrustedDevice
from .api_keys import TOUCH_SECONDS  # a device's use is written as seldom as a key's
from .errors import DeviceNotFound
from .events import current_origin, record
from .lookups import as_uuid, lock_users

logger = logging.getLogger("django_mfa_enroll")


#: The longest trust, whatever ``TRUST_DAYS`` says (ten years).
MAX_TRUST_DAYS = 3650


def trust_days() -> int | None:
    """``TRUST_DAYS``, at most ``MAX_TRUST_DAYS`` (check E015 says when the setting is
    past it); None when devices are off."""
    days = mfa_settings.TRUST_DAYS
    return None if days is None else min(days, MAX_TRUST_DAYS)


@dataclass(frozen=True)
class NewDevice:
    """A device just trusted: its row, and its token, shown this once."""

    row: TrustedDevice
    token: str


def remember_device(user: Any, secret_id: Any, now: datetime) -> NewDevice | None:
    """Trust the device of the current request for ``TRUST_DAYS`` (None when that is off),
    after a second factor of the secret ``secret_id``. Beyond ``TRUST_MAX_DEVICES`` the
    oldest devices go (under the user's row lock, so a burst cannot pass the bound)."""
    days = trust_days()
    if days is None:
        return None
    made = apikeys.new_key(apikeys.DEVICE_TAG)
    with transaction.atomic(using=router.db_for_write(TrustedDevice)):
        lock_users([user.pk])
        kept = mfa_settings.TRUST_MAX_DEVICES - 1
        stale = TrustedDevice.objects.filter(user=user).order_by("-created_at", "-pk")[
            max(kept, 0) :
        ]
        TrustedDevice.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
        row = TrustedDevice.objects.create(
            user=user,
            secret_id=secret_id,
            prefix=made.prefix,
            token_hash=made.key_hash,
            agent=current_origin().agent[:200],
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        record(user.pk, Event.Type.DEVICE_ADDED, secret_id=secret_id, at=now, prefix=row.prefix)
    logger.info("MFA device trusted: device=%s user=%s", row.pk, user.pk)
    return NewDevice(row, made.key)


def trusted_device(user: Any, secret_id: Any, token: Any, now: datetime) -> TrustedDevice | None:
    """The user's trusted device whose token is ``token``, still valid now, or None.

    ``secret_id`` is the user's active secret (the login read it already): valid is a
    device it earned, unexpired, with ``TRUST_DAYS`` on. One indexed read and one hash,
    the same work for any token; a use writes ``last_used_at`` at most once a
    ``TOUCH_SECONDS``, and a login event.
    """
    days = trust_days()
    if days is None or not isinstance(token, str):
        return None
    prefix = apikeys.prefix_of(token, apikeys.DEVICE_TAG)
    row = None
    if prefix is not None:
        row = (
            TrustedDevice.objects.filter(prefix=prefix, user=user, secret_id=secret_id)
            .only("pk", "secret_id", "token_hash", "created_at", "expires_at", "last_used_at")
            .first()
        )
    if not apikeys.check(token, None if row is None else row.token_hash) or row is None:
        return None
    if row.expires_at <= now or row.created_at + timedelta(days=days) <= now:
        return None  # expired, or older than TRUST_DAYS allows now
    with transaction.atomic(using=router.db_for_write(TrustedDevice)):
        if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=TOUCH_SECONDS):
            seen = Q(last_used_at=row.last_used_at) if row.last_used_at else Q(last_used_at=None)
            TrustedDevice.objects.filter(seen, pk=row.pk).update(last_used_at=now)
        record(user.pk, Event.Type.LOGIN, secret_id=row.secret_id, at=now, method="device")
    return row


def devices_of(user: Any) -> Any:
    """The user's trusted devices, oldest first (never a token)."""
    return TrustedDevice.objects.filter(user=user).order_by("created_at", "pk")


def revoke_device(user: Any, device_id: Any, *, by: Any = None) -> None:
    """Forget one of the user's devices: its next login gets a challenge."""
    with transaction.atomic(using=router.db_for_write(TrustedDevice)):
        try:
            row = TrustedDevice.objects.get(pk=as_uuid(device_id), user=user)
        except TrustedDevice.DoesNotExist:
            raise DeviceNotFound from None
        if not TrustedDevice.objects.filter(pk=row.pk).delete()[0]:
            raise DeviceNotFound  # revoked meanwhile
        record(
            user.pk, Event.Type.DEVICE_REVOKED, secret_id=row.secret_id, by=by, prefix=row.prefix
        )
    logger.info("MFA device revoked: device=%s user=%s by=%s", row.pk, user.pk, by or user.pk)


def revoke_devices(user_id: Any) -> int:
    """Forget every trusted device of the user (a new backup-code set); return how many.
    Call in the transaction of the change."""
    return int(TrustedDevice.objects.filter(user_id=user_id).delete()[0])
