"""The password, the seed's other secret type: set through the site's validators.

Changing it needs a recent login and, for a user with an active method, a current code (a
stolen session must not lock its owner out). It ends every credential of the user, the
one that asked included:

- sessions, by Django itself (a session holds a hash of the password it logged in with);
- tokens, by their ``pwd_stamp`` claim (``credentials.password_stamp``), at every door
  that checks a token, whichever door changed the password; tokens without the claim by
  their ``auth_time`` (the change is noted as ``MFAState.changed_at``);
- refresh tokens also on simplejwt's blacklist, when it is installed;
- login challenges in flight, by their secret's challenge epoch.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from .. import signals
from ..models import Event, Secret
from . import clock
from .credentials import blacklist_refresh_tokens, check_recent, note_mfa_change
from .devices import revoke_devices
from .errors import CodeRequired, MFAError, PasswordChanged, PasswordRefused
from .events import record
from .failures import announce_failure, attempt
from .lookups import lock_users
from .verification import method_of, verify_any_code

logger = logging.getLogger("django_mfa_enroll")


def change_password(user: Any, new_password: str, *, code: str | None, auth_time: Any) -> datetime:
    """Set ``user``'s password to ``new_password``; return when.

    Raises ReauthenticationRequired for a login older than ``REAUTH_MAX_AGE``,
    PasswordRefused naming each of ``AUTH_PASSWORD_VALIDATORS``' objections (before any
    code is spent), PasswordChanged when the password changed since ``user`` was read
    (two changes with one login: the first ends it), CodeRequired, InvalidCode (counted)
    or Locked for a user with MFA on.
    """
    check_recent(auth_time)
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as refused:
        raise PasswordRefused([str(message) for message in refused.messages]) from None
    now = clock.now()
    error: MFAError | None = None
    secret: Secret | None = None
    seen = user.password  # as the request's credential was checked against
    with transaction.atomic():
        lock_users([user.pk])
        if _current_password(user) != seen:
            raise PasswordChanged  # a parallel change won: this credential just ended
        secret = (
            Secret.objects.select_for_update()
            .filter(user=user, type=Secret.Type.MFA, status=Secret.Status.ACTIVE)
            .first()
        )
        if secret is not None:
            if not code:
                raise CodeRequired
            error = attempt(secret, now, lambda: verify_any_code(secret, code, now))
        if error is None:
            user.set_password(new_password)
            user.save(update_fields=["password"])
            # Tokens carry a stamp of the password, which no longer matches; those without
            # one (from before the stamp, or a site's own) end by their login's time.
            note_mfa_change(user.pk, now)
            # Challenges in flight were earned with the old password: they end here.
            Secret.objects.filter(user=user).update(challenge_epoch=F("challenge_epoch") + 1)
            blacklisted = blacklist_refresh_tokens(user)
            revoke_devices(user.pk)  # a device token is a sign-in of the old password's
            detail = {"method": method_of(code)} if secret is not None and code else {}
            record(user.pk, Event.Type.PASSWORD_CHANGED, at=now, **detail)
    if error is not None and secret is not None:  # a code checked on the secret, refused
        announce_failure(secret, error)
        raise error
    logger.info("Password changed: user=%s refresh_tokens_blacklisted=%d", user.pk, blacklisted)
    signals.password_changed.send(type(user), user=user)
    return now


def _current_password(user: Any) -> str:
    rows = get_user_model()._default_manager.filter(pk=user.pk)
    return str(rows.values_list("password", flat=True).get())
