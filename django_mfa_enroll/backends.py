"""MFAModelBackend: the Django door for password logins.

Once a user has an active MFA secret, a password alone logs them in nowhere: not the
admin, not DRF's Basic or session login, not simplejwt's TokenObtainPairView. A second
factor passed as ``mfa_code`` (a TOTP code or a backup code) completes the login.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import services
from .permissions import SESSION_AMR, SESSION_AUTH_TIME


class _PasswordStage:
    """Marks a call that checks only the password, from the app's own challenge view.

    An object, not a flag: nothing a client sends can be it.
    """


PASSWORD_STAGE = _PasswordStage()


class MFAModelBackend(ModelBackend):
    """ModelBackend that refuses a password-only login for a user with active MFA.

    Put it in AUTHENTICATION_BACKENDS in place of ModelBackend. It raises PermissionDenied
    for an MFA user without a valid second factor, which stops Django from asking the
    backends after it.
    """

    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        mfa_code: str | None = None,
        mfa_stage: Any = None,
        **kwargs: Any,
    ) -> Any:
        user: Any = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        if mfa_stage is PASSWORD_STAGE:
            return user  # the challenge view asks for the second factor itself
        secret = services.active_secret(user)
        if secret is None:
            user.mfa_amr = services.AMR[None]
            return user
        if not mfa_code or not isinstance(mfa_code, str):
            raise PermissionDenied("second factor required")
        try:
            factor = services.verify_second_factor(user.pk, secret.pk, mfa_code)
        except services.MFAError as error:
            if request is not None:
                request.mfa_error = error
            raise PermissionDenied("second factor refused") from None
        user.mfa_amr = factor.amr
        user.mfa_auth_time = int(factor.at.timestamp())
        return user


def remember_amr_in_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """On a session login, keep how the user authenticated, for the permission classes."""
    session = getattr(request, "session", None)
    amr = getattr(user, "mfa_amr", None)
    if session is None or amr is None:
        return
    session[SESSION_AMR] = amr
    auth_time = getattr(user, "mfa_auth_time", None)
    if auth_time is not None:
        session[SESSION_AUTH_TIME] = auth_time
    else:
        session.pop(SESSION_AUTH_TIME, None)
