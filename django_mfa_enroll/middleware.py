"""MFASessionMiddleware: Django sessions follow their user's MFA state.

Put it in ``MIDDLEWARE`` right after ``django.contrib.auth.middleware.AuthenticationMiddleware``
(system check ``E008`` says so when it is missing). On the first use of ``request.user``
(or ``await request.auser()``) it holds the session's login to the rule every credential
follows (API.md, first section; ``services.check_credential``): a session logged in with
a password alone ends once its user has an active method, and one logged in with a second
factor ends when that secret is reset or deleted. An ended session is flushed and the
request goes on anonymous, as Django does with a session whose password changed: the
admin, DRF's ``SessionAuthentication`` and ``login_required`` all see it logged out.

The login's ``amr`` and secret come from the session keys the ``user_logged_in`` receiver
wrote (``claims.SESSION_*``); a session without them (logged in before the app was
installed, or by a backend that says nothing of MFA) counts as a password alone. The
check is one indexed read, on requests that look at the user.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject

from . import services
from .claims import SESSION_AMR, SESSION_AUTH_TIME, SESSION_SETUP_DUE, SESSION_SID

logger = logging.getLogger("django_mfa_enroll")


class MFASessionMiddleware(MiddlewareMixin):
    """End a session whose login no longer matches its user's MFA state."""

    def process_request(self, request: Any) -> None:
        if not hasattr(request, "user"):
            raise ImproperlyConfigured(
                "MFASessionMiddleware needs AuthenticationMiddleware before it: put "
                "'django_mfa_enroll.middleware.MFASessionMiddleware' right after "
                "'django.contrib.auth.middleware.AuthenticationMiddleware' in MIDDLEWARE."
            )
        request.user = SimpleLazyObject(lambda: session_user(request))
        request.auser = partial(asession_user, request)


def session_user(request: Any) -> Any:
    """The session's user, or AnonymousUser once its login no longer holds."""
    if not hasattr(request, "_cached_user"):
        request._cached_user = auth.get_user(request)
    if not hasattr(request, "_mfa_checked_user"):
        request._mfa_checked_user = request._cached_user = _checked(request, request._cached_user)
    return request._mfa_checked_user


async def asession_user(request: Any) -> Any:
    """``request.auser()``, with the same check."""
    if not hasattr(request, "_acached_user"):
        request._acached_user = await auth.aget_user(request)
    if not hasattr(request, "_mfa_achecked_user"):
        checked = await sync_to_async(_checked)(request, request._acached_user)
        request._mfa_achecked_user = request._acached_user = checked
    return request._mfa_achecked_user


def _checked(request: Any, user: Any) -> Any:
    if not getattr(user, "is_authenticated", False):
        return user
    session = request.session
    try:
        services.check_credential(
            user.pk,
            session.get(SESSION_AMR),
            session.get(SESSION_SID),
            session.get(SESSION_AUTH_TIME),
            session.get(SESSION_SETUP_DUE),
        )
    except services.CredentialRefused as refused:
        logger.info("MFA session ended: user=%s reason=%s", user.pk, refused.code)
        session.flush()
        return AnonymousUser()
    return user
