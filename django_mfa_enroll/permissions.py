"""Permission classes for a site's sensitive views: MFA-verified, and recently so (step-up)."""

from __future__ import annotations

import time
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

SESSION_AMR = "django_mfa_enroll.amr"
SESSION_AUTH_TIME = "django_mfa_enroll.auth_time"


def authentication_of(request: Any) -> tuple[list[str], int | None]:
    """Return the request's ``amr`` and ``auth_time``: from its token, else its session."""
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "get"):
        amr, auth_time = token.get("amr", []), token.get("auth_time")
    else:
        session = getattr(request, "session", None) or {}
        amr, auth_time = session.get(SESSION_AMR, []), session.get(SESSION_AUTH_TIME)
    if not isinstance(amr, list):
        amr = []
    return amr, auth_time if isinstance(auth_time, int) else None


class IsMFAVerified(BasePermission):
    """Allow only requests whose login passed a second factor (``"mfa"`` in ``amr``)."""

    message: Any = _("This action needs a login with a second factor.")
    code = "mfa_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and (
            "mfa" in authentication_of(request)[0]
        )


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
            auth_time = authentication_of(request)[1]
            return auth_time is not None and time.time() - auth_time <= seconds

    RecentMFA.__name__ = RecentMFA.__qualname__ = f"MFAWithin{seconds}s"
    return RecentMFA
