"""Permission classes for a site's sensitive views: MFA-verified, and recently so (step-up)."""

from __future__ import annotations

import time
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication

from . import services
from .claims import (
    AMR_CLAIM,
    AUTH_TIME_CLAIM,
    SESSION_AMR,
    SESSION_AUTH_TIME,
    SESSION_SID,
    SID_CLAIM,
)


def authentication_of(request: Any) -> tuple[list[str], int | None, Any]:
    """Return how the request's login authenticated: ``amr``, ``auth_time`` and the secret
    (``sid``) of its second factor.

    From the access token when a JWT authenticated the request; from the session only when
    the session did (never another login's session riding along with Basic credentials).
    """
    authenticator = getattr(request, "successful_authenticator", None)
    token = getattr(request, "auth", None)
    if isinstance(authenticator, JWTAuthentication) and hasattr(token, "get"):
        claims: Any = token
    elif isinstance(authenticator, SessionAuthentication):
        claims = getattr(request, "session", None) or {}
        claims = {
            AMR_CLAIM: claims.get(SESSION_AMR, []),
            AUTH_TIME_CLAIM: claims.get(SESSION_AUTH_TIME),
            SID_CLAIM: claims.get(SESSION_SID),
        }
    else:
        return [], None, None
    amr, auth_time = claims.get(AMR_CLAIM, []), claims.get(AUTH_TIME_CLAIM)
    if not isinstance(amr, list):
        amr = []
    return amr, auth_time if isinstance(auth_time, int) else None, claims.get(SID_CLAIM)


class IsMFAVerified(BasePermission):
    """Allow only requests whose login passed a second factor (``"mfa"`` in ``amr``)."""

    message: Any = _("This action needs a login with a second factor.")
    code = "mfa_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        amr, _auth_time, secret_id = authentication_of(request)
        # The second factor's secret must still be active: a reset ends MFA-verified status
        # for the login's tokens and sessions alike (one indexed query, on sensitive views).
        return "mfa" in amr and services.has_active_secret(request.user, secret_id)


class RecentLogin(BasePermission):
    """Allow only a login no older than ``REAUTH_MAX_AGE`` seconds (its ``auth_time``).

    Refuses with 401 ``reauthentication_required``: the client logs in again (with its
    second factor, if it has one), and retries. A refresh keeps the login's ``auth_time``.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        services.check_recent(authentication_of(request)[1])
        return True


def mfa_within(seconds: int) -> type[BasePermission]:
    """Return a permission class allowing only a second factor passed in the last ``seconds``.

    Use it for step-up on the most sensitive views::

        permission_classes = [mfa_within(300)]
    """

    class RecentMFA(IsMFAVerified):
        message = format_lazy(
            _("This action needs a second factor entered in the last {seconds} seconds."),
            seconds=seconds,
        )
        code = "mfa_too_old"

        def has_permission(self, request: Any, view: Any) -> bool:
            if not super().has_permission(request, view):
                return False
            amr, auth_time, _sid = authentication_of(request)
            if not services.factor_entered(amr):
                return False  # a trusted device's login: step-up asks for a real factor
            return auth_time is not None and time.time() - auth_time <= seconds

    RecentMFA.__name__ = RecentMFA.__qualname__ = f"MFAWithin{seconds}s"
    return RecentMFA
