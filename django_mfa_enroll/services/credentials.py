"""Every credential follows the user's MFA state (API.md, first section).

A session or token records how its login authenticated: ``amr`` (RFC 8176) and, after a
second factor, the secret it used (``sid``). It holds only while the user's state still
matches what it records:

- without ``"mfa"`` in ``amr`` (a password alone): while the user has no active method;
- with ``"mfa"``: while the secret named by ``sid`` is still active.

So enrolling ends the password-only credentials, and a reset or a delete ends those of the
old factor, at whichever door they come back. One indexed read decides (the secret table's
``(user, type)`` index), for every door: tokens, sessions, refreshes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..conf import mfa_settings
from ..models import Secret
from . import clock
from .errors import MFARequired, MFAReset, ReauthenticationRequired
from .statements import active_ids

#: The secret types that are a second factor (the seed's other types never are).
METHOD_TYPES = (Secret.Type.MFA,)


def active_method_ids(user_id: Any) -> list[str]:
    """The ids of the user's active second-factor secrets, as text: one indexed read, its
    SQL written once per database (it runs on every authenticated request)."""
    return active_ids(user_id, tuple(str(kind) for kind in METHOD_TYPES))


def check_credential(user_id: Any, amr: Iterable[Any] | None, sid: Any) -> None:
    """Refuse a credential whose login no longer matches the user's MFA state.

    Raises MFARequired for a password-only credential of a user who now has an active
    method, MFAReset for one whose second factor's secret is no longer active.
    """
    active = active_method_ids(user_id)
    if "mfa" in _listed(amr):
        if str(sid) not in active:
            raise MFAReset
    elif active:
        raise MFARequired


def check_recent(auth_time: Any) -> None:
    """Refuse a login older than ``REAUTH_MAX_AGE`` seconds, or one that never said when
    it happened (``auth_time``, seconds since the epoch): ReauthenticationRequired."""
    if not isinstance(auth_time, int) or isinstance(auth_time, bool):
        raise ReauthenticationRequired
    if clock.now().timestamp() - auth_time > mfa_settings.REAUTH_MAX_AGE:
        raise ReauthenticationRequired


def _listed(amr: Any) -> list[Any]:
    return amr if isinstance(amr, list) else []
