"""MFAModelBackend: the Django door for password logins.

Once a user has an active MFA secret, a password alone logs them in nowhere: not the
admin, not DRF's Basic or session login, not simplejwt's TokenObtainPairView. A second
factor passed as ``mfa_token`` (a TOTP code or a backup code) completes the login. (The
name holds "token" on purpose: Django masks such credentials in ``user_login_failed``.)
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from . import services
from .claims import (
    PASSWORD_STAGE,
    SESSION_AMR,
    SESSION_AUTH_TIME,
    SESSION_SETUP_DUE,
    SESSION_SID,
    stamp_login,
)
from .models import Event

__all__ = ["PASSWORD_STAGE", "MFAModelBackend", "remember_amr_in_session"]


class MFAModelBackend(ModelBackend):
    """ModelBackend that refuses a password-only login for a user with active MFA.

    Put it in AUTHENTICATION_BACKENDS in place of ModelBackend. It raises PermissionDenied
    for an MFA user without a valid second factor, which stops Django from asking the
    backends after it.
    """

    @method_decorator(sensitive_variables("password", "mfa_token"))
    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        mfa_token: str | None = None,
        mfa_stage: Any = None,
        **kwargs: Any,
    ) -> Any:
        user: Any = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        if mfa_stage is PASSWORD_STAGE:
            return user  # the caller asks for the second factor itself
        try:
            with services.origin(request):
                factor = services.complete_login(user, mfa_token)
        except services.MFAError:
            raise PermissionDenied("second factor required or refused") from None
        return stamp_login(
            user, factor.amr, int(factor.at.timestamp()), factor.secret_id, factor.setup_due
        )


def remember_amr_in_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """On a session login, keep how the user authenticated, for the permission classes."""
    session = getattr(request, "session", None)
    amr = getattr(user, "mfa_amr", None)
    if session is None or amr is None:
        return
    if session.get(SESSION_AUTH_TIME) is not None:
        # Django keeps the session of a user who logs in again (a new key, the same data):
        # a login on top of one of ours is a reauthentication (the admin asks for one).
        with services.origin(request):
            services.record(user.pk, Event.Type.REAUTHENTICATED)
    session[SESSION_AMR] = amr
    for key, value in (
        (SESSION_AUTH_TIME, getattr(user, "mfa_auth_time", None)),
        (SESSION_SID, getattr(user, "mfa_secret_id", None)),
        (SESSION_SETUP_DUE, getattr(user, "mfa_setup_due", None)),
    ):
        if value is not None:
            session[key] = value
        else:
            session.pop(key, None)
