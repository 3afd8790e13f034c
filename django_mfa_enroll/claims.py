"""What the doors share: the names of token claims and session keys, and the login stages.

A room below the doors, so that no door imports another. The password backend writes the
session keys that the HTTP door's permissions read; the HTTP door's password login calls
the backend with ``PASSWORD_STAGE``; tokens and sessions carry the same three facts.
"""

from __future__ import annotations

from typing import Any

#: Token claims: how the login authenticated (RFC 8176), when, and with which secret.
AMR_CLAIM = "amr"
AUTH_TIME_CLAIM = "auth_time"
SID_CLAIM = "sid"
#: And which password it logged in with (``services.password_stamp``; never the password).
PASSWORD_CLAIM = "pwd_stamp"  # noqa: S105 - a claim name, not a password
#: A login let in during ``REQUIRED_GRACE``: when the grace ends (seconds since the epoch).
SETUP_DUE_CLAIM = "mfa_setup_due"

#: The same three facts in a Django session.
SESSION_AMR = "django_mfa_enroll.amr"
SESSION_AUTH_TIME = "django_mfa_enroll.auth_time"
SESSION_SID = "django_mfa_enroll.sid"
SESSION_SETUP_DUE = "django_mfa_enroll.setup_due"


def stamp_login(
    user: Any, amr: list[str], auth_time: int, sid: Any = None, setup_due: int | None = None
) -> Any:
    """Note on the user ``authenticate()`` returns how the login authenticated (and, in a
    ``REQUIRED_GRACE``, when the grace ends), for the ``user_logged_in`` receiver that
    writes it into the session."""
    user.mfa_amr = amr
    user.mfa_auth_time = auth_time
    user.mfa_secret_id = None if sid is None else str(sid)
    user.mfa_setup_due = setup_due
    return user


class _PasswordStage:
    """Marks a call that checks only the password, from the app's own challenge view.

    An object, not a flag: nothing a client sends can be it.
    """


#: Passed to ``authenticate(..., mfa_stage=PASSWORD_STAGE)``: the caller asks for the
#: second factor itself (``/auth/password`` answers a challenge).
PASSWORD_STAGE = _PasswordStage()
