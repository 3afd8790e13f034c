"""Operators: admin actions and management commands. Each records who did it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from .. import crypto, signals
from ..conf import mfa_settings
from ..models import BackupCode, Event, Secret
from . import clock
from .credentials import blacklist_refresh_tokens, note_mfa_change
from .events import actor_of, record
from .keys import encryption_keys
from .lookups import lock_users

logger = logging.getLogger("django_mfa_enroll")


def _actor(by: Any) -> str:
    return actor_of(by) or "system"


def reset_mfa(user: Any, *, by: Any = None) -> bool:
    """Remove the user's MFA secret and backup codes, so they can enroll again.

    Also ends the user's outstanding refresh tokens when simplejwt's token_blacklist app is
    installed: a token stolen before the reset must not outlive it. Returns whether there
    was anything to reset.
    """
    with transaction.atomic():
        lock_users([user.pk])
        secrets = list(Secret.objects.select_for_update().filter(user=user))
        active = [secret for secret in secrets if secret.status == Secret.Status.ACTIVE]
        if active:
            note_mfa_change(user.pk, clock.now())  # every login of the old factor ends
            # Only a reset of MFA that was on is one the user hears of (a pending setup is
            # not): the mail says their app and codes no longer work.
            sid = active[0].pk if len(active) == 1 else None
            kind = Event.Type.RESET
            record(user.pk, kind, secret_id=sid, by=_actor(by), secrets=len(active))
        for secret in secrets:
            deleted_pk = secret.pk
            secret.delete()
            secret.pk = deleted_pk
        blacklisted = blacklist_refresh_tokens(user)
    logger.warning(
        "MFA reset: user=%s by=%s secrets=%d refresh_tokens_blacklisted=%d",
        user.pk,
        _actor(by),
        len(secrets),
        blacklisted,
    )
    signals.mfa_reset.send(Secret, user=user, by=by, secrets=secrets)
    return bool(secrets)


def revoke_backup_codes(secret: Secret, *, by: Any = None) -> int:
    """Delete a secret's backup codes (the secret stays); return how many were unused."""
    with transaction.atomic():
        codes = BackupCode.objects.filter(secret=secret)
        unused = codes.filter(used_at__isnull=True).count()
        codes.delete()
        record(secret.user_id, Event.Type.CODES_REVOKED, secret_id=secret.pk, by=_actor(by))
    logger.warning(
        "MFA backup codes revoked: secret=%s user=%s by=%s", secret.pk, secret.user_id, _actor(by)
    )
    signals.backup_codes_revoked.send(Secret, secret=secret, user=secret.user, by=by)
    return unused


def unlock(secret: Secret, *, by: Any = None) -> bool:
    """Clear a secret's failure count and lock; return whether it was locked or counting."""
    with transaction.atomic():
        changed = (
            Secret.objects.filter(pk=secret.pk)
            .filter(Q(failure_count__gt=0) | Q(locked_until__isnull=False))
            .update(failure_count=0, locked_until=None)
        )
        if changed:
            record(secret.user_id, Event.Type.UNLOCKED, secret_id=secret.pk, by=_actor(by))
    logger.warning("MFA unlocked: secret=%s user=%s by=%s", secret.pk, secret.user_id, _actor(by))
    signals.secret_unlocked.send(Secret, secret=secret, user=secret.user, by=by)
    return bool(changed)


def rotate_encryption(batch_size: int = 200) -> tuple[int, int]:
    """Re-encrypt every secret under the first encryption key; return (rotated, current).

    Each row is rewritten by a conditional UPDATE on its old ciphertext, so a run can be
    interrupted and run again, and a secret changed meanwhile is left to the next run.
    """
    keys = encryption_keys()
    first_only = keys[:1]
    rotated = current = 0
    last_pk = None
    while True:
        rows = Secret.objects.order_by("pk").values_list("pk", "encrypted_key")
        if last_pk is not None:
            rows = rows.filter(pk__gt=last_pk)
        batch = list(rows[:batch_size])
        if not batch:
            return rotated, current
        for pk, token in batch:
            try:
                crypto.decrypt(token, first_only)
                current += 1
                continue
            except crypto.InvalidToken:
                pass
            new_token = crypto.rotate(token, keys)
            rotated += Secret.objects.filter(pk=pk, encrypted_key=token).update(
                encrypted_key=new_token
            )
        last_pk = batch[-1][0]


def delete_stale_pending(now: datetime | None = None, batch_size: int = 200) -> int:
    """Delete pending secrets older than ``PENDING_MAX_AGE`` seconds; return how many.

    In batches, each under its users' locks (the order every flow takes), and only while
    still pending: a secret enrolled meanwhile stays. (A bulk delete by the ids it read
    first would wait on the enrolling transaction, then delete the just-enrolled secret.)
    """
    cutoff = (now or clock.now()) - timedelta(seconds=mfa_settings.PENDING_MAX_AGE)
    stale = Secret.objects.filter(status=Secret.Status.PENDING, created_at__lt=cutoff)
    deleted, last_pk = 0, None
    while True:
        page = stale.order_by("pk") if last_pk is None else stale.filter(pk__gt=last_pk)
        batch = list(page.order_by("pk").values_list("pk", "user_id")[:batch_size])
        if not batch:
            return deleted
        with transaction.atomic():
            lock_users({user_id for _pk, user_id in batch})
            _total, per_model = stale.filter(pk__in=[pk for pk, _user in batch]).delete()
        deleted += per_model.get(Secret._meta.label, 0)
        last_pk = batch[-1][0]


def delete_old_events(now: datetime | None = None, batch_size: int = 1000) -> int:
    """Delete security events older than ``EVENT_RETENTION_DAYS`` (none when it is None),
    in batches of ``batch_size`` so no one statement holds many rows; return how many."""
    days = mfa_settings.EVENT_RETENTION_DAYS
    if days is None:
        return 0
    cutoff = (now or clock.now()) - timedelta(days=days)
    deleted = 0
    while True:
        # Oldest first by id, so each batch starts where the old events are (the default
        # order, newest first, would walk every kept event before each batch).
        old = Event.objects.filter(at__lt=cutoff).order_by("id")
        batch = list(old.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += Event.objects.filter(pk__in=batch).delete()[0]
