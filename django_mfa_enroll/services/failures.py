"""Failures (NIST 800-63B 5.2.2; RFC 4226 7.3): counted per secret, so per user, in the
database, whatever the IP, session or challenge. A growing delay after a few, then a lock.

A code is checked on the secret's row locked (SELECT ... FOR UPDATE; on SQLite the write
lock of an IMMEDIATE transaction), and its failure is written in the same transaction
before the lock goes: parallel guesses queue up and each sees the count and lock the one
before left. The error is raised after the transaction commits. (A login's first try at a
TOTP code, first_try.py, reads the row unlocked and writes, a success or a failure, only
while the row holds the count and state it read: else the code is checked again here.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q

from .. import signals
from ..conf import mfa_settings
from ..models import Event, Secret
from . import clock
from .errors import ChallengeUsed, Locked, MFAError, ReusedCode
from .events import record

logger = logging.getLogger("django_mfa_enroll")


def check_not_locked(secret: Secret, now: datetime) -> None:
    """Raise Locked while the secret refuses codes."""
    if secret.locked_until and secret.locked_until > now:
        raise Locked(math.ceil((secret.locked_until - now).total_seconds()))


def wait_after(failures: int) -> int:
    """Seconds the next try must wait after ``failures`` consecutive failures."""
    if failures >= mfa_settings.FAILURE_LOCK_AFTER:
        return mfa_settings.FAILURE_LOCK_SECONDS
    if failures < mfa_settings.FAILURE_DELAY_AFTER:
        return 0
    return min(
        2 ** (failures - mfa_settings.FAILURE_DELAY_AFTER + 1), mfa_settings.FAILURE_MAX_DELAY
    )


def count_failure(secret: Secret, now: datetime, error: MFAError) -> None:
    """Count one failure of the locked secret and set the wait it earns, in one UPDATE.

    The count and wait ride on the error, for ``announce_failure`` after the commit.
    """
    failures = secret.failure_count + 1
    wait = wait_after(failures)
    updates: dict[str, Any] = {"failure_count": F("failure_count") + 1, "last_failure_at": now}
    if wait:
        updates["locked_until"] = now + timedelta(seconds=wait)
    Secret.objects.filter(pk=secret.pk).update(**updates)
    secret.failure_count = failures
    error.failures, error.wait = failures, wait
    kind = failure_event(failures)
    record(secret.user_id, kind, secret_id=secret.pk, reason=error.code, failures=failures)


def failure_event(failures: int) -> str:
    """The event a counted failure writes: ``locked`` at the lock, else ``wrong_code``."""
    locked = failures >= mfa_settings.FAILURE_LOCK_AFTER
    return str(Event.Type.LOCKED if locked else Event.Type.WRONG_CODE)


def announce_failure(secret: Secret, error: MFAError) -> None:
    """Log and signal a counted failure: ids and reasons only, never the code."""
    if error.failures is None:
        return  # not counted (a spent challenge, a lock)
    logger.warning(
        "MFA verification failed: secret=%s user=%s reason=%s failures=%d",
        secret.pk,
        secret.user_id,
        error.code,
        error.failures,
    )
    signals.verification_failed.send(Secret, secret=secret, user=secret.user, reason=error.code)
    if isinstance(error, ReusedCode):
        signals.code_replayed.send(Secret, secret=secret, user=secret.user)
    if error.failures >= mfa_settings.FAILURE_LOCK_AFTER:
        signals.secret_locked.send(Secret, secret=secret, user=secret.user, retry_after=error.wait)


def attempt(secret: Secret, now: datetime, check: Callable[[], MFAError | None]) -> MFAError | None:
    """Run one check of a code on a locked secret: refuse while locked, count a failure.

    Call inside the transaction that locked the row; after it, announce and raise the
    returned error.
    """
    check_not_locked(secret, now)
    error = check()
    if error is not None and not isinstance(error, ChallengeUsed):
        count_failure(secret, now, error)
    return error


def is_locked(secret: Secret, now: datetime | None = None) -> bool:
    """Whether the secret refuses codes now (too many failures)."""
    return bool(secret.locked_until and secret.locked_until > (now or clock.now()))


def locked_filter(now: datetime | None = None) -> Q:
    """The ``Q`` of secrets that refuse codes now."""
    return Q(locked_until__gt=now or clock.now())
