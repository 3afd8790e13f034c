"""Every credential follows the user's MFA state (API.md, first section).

A session or token records how its login authenticated: ``amr`` (RFC 8176) and, after a
second factor, the secret it used (``sid``). It holds only while the user's state still
matches what it records:

- without ``"mfa"`` in ``amr`` (a password alone): while the user has no active method;
- with ``"mfa"``: while the secret named by ``sid`` is still active.

- and in any case, only if its login (``auth_time``) is not older than the user's last MFA
  change (``MFAState``).

So enrolling ends the password-only credentials, a reset or a delete ends those of the old
factor, and none of them comes back when MFA is turned off again, at whichever door. One
statement decides (two index probes), for every door: tokens, sessions, refreshes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import mfa_settings
from ..models import MFAState, Secret
from . import clock
from .errors import (
    GraceOver,
    MFARequired,
    MFAReset,
    PasswordChanged,
    ReauthenticationRequired,
)
from .statements import mfa_state

#: The secret types that are a second factor (the seed's other types never are).
METHOD_TYPES = (Secret.Type.MFA,)


def active_method_ids(user_id: Any) -> list[str]:
    """The ids of the user's active second-factor secrets, as text."""
    return mfa_state(user_id, _TYPES)[0]


def note_mfa_change(user_id: Any, now: datetime) -> None:
    """Record that the user's MFA changed now (a method enrolled, removed, reset): logins
    from before it end. One INSERT ... ON CONFLICT UPDATE; call it in the transaction of
    the change, under the user's row lock."""
    MFAState.objects.bulk_create(
        [MFAState(user_id=user_id, changed_at=now)],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["changed_at"],
    )


def check_credential(
    user_id: Any, amr: Any, sid: Any, auth_time: Any, setup_due: Any = None
) -> None:
    """Refuse a credential whose login no longer matches the user's MFA state.

    Raises MFARequired for a password-only credential of a user who now has an active
    method, MFAReset for one whose second factor's secret is no longer active, and MFAReset
    for any login from before the user's MFA last changed (``auth_time``, seconds since
    the epoch; a credential that never said when counts as older), so that a credential
    from before an enrollment stays dead once MFA is off again. One statement
    (``statements.mfa_state``), written once per database: it runs on every request.
    """
    active, changed_at = mfa_state(user_id, _TYPES)
    if setup_due is not None and not active and not _before(setup_due):
        raise GraceOver  # let in during REQUIRED_GRACE, which is over: set MFA up
    if "mfa" in _listed(amr):
        if str(sid) not in active:
            raise MFAReset
    elif active:
        raise MFARequired
    if changed_at is not None and not _at_or_after(auth_time, changed_at):
        raise MFAReset


def password_stamp(user: Any, key: str | None = None) -> str:
    """What a token notes of its user's password (the ``pwd_stamp`` claim): an HMAC of the
    password's hash under ``SECRET_KEY`` (or ``key``), as Django's session auth hash is. It
    changes with the password, whichever door changed it, and tells a reader of the token
    nothing."""
    password = user.password or ""
    return salted_hmac(_STAMP_SALT, password, secret=key, algorithm="sha256").hexdigest()[:16]


def check_password_stamp(user: Any, stamp: Any) -> None:
    """Refuse (PasswordChanged) a token whose ``pwd_stamp`` is not its user's password's
    now: every token from before a password change ends, this one included. A stamp made
    under a key of ``SECRET_KEY_FALLBACKS`` holds (rotating the key ends no login, as for
    sessions). A token without a stamp (made before this release, or by a site's own
    ``for_user``) is held to the other rules only; the app's own password change ends it
    by its ``auth_time`` (``note_mfa_change``)."""
    if stamp is None:
        return
    if isinstance(stamp, str):
        if constant_time_compare(stamp, password_stamp(user)):
            return
        for key in getattr(settings, "SECRET_KEY_FALLBACKS", ()):
            if constant_time_compare(stamp, password_stamp(user, key)):
                return
    raise PasswordChanged


def blacklist_refresh_tokens(user: Any) -> int:
    """Blacklist the user's outstanding refresh tokens when simplejwt's ``token_blacklist``
    is installed; return how many. Call in the transaction of the change that ends them."""
    from django.apps import apps

    if not apps.is_installed("rest_framework_simplejwt.token_blacklist"):
        return 0
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    tokens = list(outstanding)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True
    )
    return len(tokens)


#: In ``amr``: the second factor was a trusted device, not a code entered in this login.
DEVICE_AMR = "device"


def factor_entered(amr: Any) -> bool:
    """Whether a login's ``amr`` shows a second factor entered in it: a trusted device's
    login counts as MFA-verified, never as a factor entered (step-up, new credentials)."""
    listed = _listed(amr)
    return "mfa" in listed and DEVICE_AMR not in listed


def check_recent(auth_time: Any) -> None:
    """Refuse a login older than ``REAUTH_MAX_AGE`` seconds, or one that never said when
    it happened (``auth_time``, seconds since the epoch): ReauthenticationRequired."""
    if not _is_seconds(auth_time):
        raise ReauthenticationRequired
    if int(clock.now().timestamp()) - auth_time > mfa_settings.REAUTH_MAX_AGE:
        raise ReauthenticationRequired


def _before(deadline: Any) -> bool:
    return _is_seconds(deadline) and clock.now().timestamp() < deadline


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _at_or_after(auth_time: Any, changed_at: datetime) -> bool:
    # auth_time is whole seconds: a login in the second of the change counts as after it
    # (the amr rule above still refuses a password alone once a method is active).
    return _is_seconds(auth_time) and auth_time >= int(changed_at.timestamp())


def _listed(amr: Any) -> list[Any]:
    return amr if isinstance(amr, list) else []


_STAMP_SALT = "django_mfa_enroll.services.credentials.password_stamp"
_TYPES = tuple(str(kind) for kind in METHOD_TYPES)
