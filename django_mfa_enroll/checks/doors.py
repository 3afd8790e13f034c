"""System checks on how a site wires the doors in: sessions, simplejwt's views, DRF's
default authentication. Each names the one setting that makes a door follow the user's
MFA state (API.md, first section)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from ..conf import mfa_settings


def _is_subclass(path: str, cls: type) -> bool:
    """Whether the dotted path names ``cls`` or a subclass of it (False if it does not import)."""
    try:
        found = import_string(path)
    except ImportError:
        return False
    return isinstance(found, type) and issubclass(found, cls)


E008 = "django_mfa_enroll.E008"
SESSION_MIDDLEWARE = "django_mfa_enroll.middleware.MFASessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


@register(Tags.security)
def check_session_middleware(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Where Django sessions log users in, MFASessionMiddleware must follow them."""
    from django.contrib.auth.middleware import AuthenticationMiddleware

    from ..middleware import MFASessionMiddleware

    middleware = [str(path) for path in getattr(settings, "MIDDLEWARE", None) or []]
    # A site's own subclass of AuthenticationMiddleware logs sessions in all the same.
    logins = [
        i for i, path in enumerate(middleware) if _is_subclass(path, AuthenticationMiddleware)
    ]
    if not logins:
        return []  # no session logins to follow
    ours = [i for i, path in enumerate(middleware) if _is_subclass(path, MFASessionMiddleware)]
    if ours and min(ours) > min(logins):
        return []
    return [
        Error(
            "MFASessionMiddleware is not in MIDDLEWARE after AuthenticationMiddleware: a "
            "session logged in with a password alone keeps working after its user enrolls "
            "in MFA, and one of a reset factor after the reset (the admin, DRF's "
            "SessionAuthentication, login_required views).",
            hint=f"Put {SESSION_MIDDLEWARE!r} right after {AUTH_MIDDLEWARE!r}.",
            id=E008,
        )
    ]


E009 = "django_mfa_enroll.E009"


@register(Tags.security, Tags.urls)
def check_simplejwt_views(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """simplejwt's own views, where the URLconf routes them, must use the serializers that
    follow the user's MFA state (token_serializers.py)."""
    from ..token_serializers import SETTING_OF, FollowsMFAState

    messages = []
    for route, serializer in _routed_simplejwt_serializers():
        if issubclass(serializer, FollowsMFAState):
            continue
        stock = next((base for base in serializer.__mro__ if base in SETTING_OF), None)
        if stock is None:
            continue  # a serializer of the site's own, or simplejwt's blacklist
        setting, ours = SETTING_OF[stock]
        messages.append(
            Error(
                f"simplejwt's view at {route!r} uses {serializer.__module__}."
                f"{serializer.__qualname__}: its tokens do not follow the user's MFA state "
                "(a refresh token from before a user enrolled, or of a reset factor, keeps "
                "working there).",
                hint=f"Set SIMPLE_JWT[{setting!r}] = '{ours.__module__}.{ours.__qualname__}' "
                "in settings.py (or pass that class as the view's serializer_class).",
                id=E009,
            )
        )
    return messages


def _routed_simplejwt_serializers() -> list[tuple[str, type]]:
    """(route, serializer class) of every simplejwt token view the root URLconf routes."""
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework_simplejwt.views import TokenViewBase

    found: list[tuple[str, type]] = []

    def walk(patterns: Any, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                try:
                    inner = pattern.url_patterns
                except Exception:  # noqa: BLE001, S112 - Django's own URL checks report it
                    continue
                walk(inner, route)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "view_class", None)
                if isinstance(view_class, type) and issubclass(view_class, TokenViewBase):
                    try:
                        view = view_class(**getattr(pattern.callback, "view_initkwargs", {}))
                        found.append((route, view.get_serializer_class()))
                    except Exception:  # noqa: BLE001, S112 - one odd view hides no other
                        continue

    try:
        patterns = get_resolver().url_patterns
    except Exception:  # noqa: BLE001 - Django's own URL checks report a broken URLconf
        return []
    walk(patterns, "")
    return found


E010 = "django_mfa_enroll.E010"
OUR_JWT = "django_mfa_enroll.authentication.JWTAuthentication"


@register(Tags.security)
def check_default_authentication(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """A site's own DRF views authenticate JWTs with the class that follows MFA state."""
    from rest_framework.settings import api_settings as drf_settings
    from rest_framework_simplejwt.authentication import (
        JWTAuthentication,
        JWTStatelessUserAuthentication,
    )

    from ..authentication import JWTAuthentication as OurJWTAuthentication

    stock = (JWTAuthentication, JWTStatelessUserAuthentication)
    places: list[tuple[str, str, list[Any]]] = [
        (
            "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']",
            "the site's own views",
            list(drf_settings.DEFAULT_AUTHENTICATION_CLASSES),
        ),
        (
            "MFA_ENROLL['AUTHENTICATION_CLASSES']",
            "the app's own views",
            [_imported(path) for path in mfa_settings.AUTHENTICATION_CLASSES],
        ),
    ]
    return [
        Error(
            f"{setting} names {cls.__module__}.{cls.__qualname__}: {whose} would accept a "
            "password-only access token after its user enrolls in MFA, and one of a reset "
            "factor after the reset.",
            hint=f"Use {OUR_JWT!r} in its place (it is simplejwt's, plus that check).",
            id=E010,
        )
        for setting, whose, classes in places
        for cls in classes
        if isinstance(cls, type)
        and issubclass(cls, stock)
        and not issubclass(cls, OurJWTAuthentication)
    ]


def _imported(path: str) -> Any:
    try:
        return import_string(path)
    except ImportError:
        return None  # E003 reports it


E013 = "django_mfa_enroll.E013"


@register(Tags.security)
def check_api_keys_stay_out_of_the_apps_views(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """API keys authenticate a site's own views, never the app's: a key must not reach a
    factor, a key or a token (the views refuse one anyway; this says so at start-up)."""
    from ..authentication import APIKeyAuthentication

    return [
        Error(
            f"MFA_ENROLL['AUTHENTICATION_CLASSES'] names {path}: the app's own views (secrets, "
            "security history) would take API keys, which are for a site's own API only.",
            hint="Take it out there, and add it to REST_FRAMEWORK['DEFAULT_AUTHENTICATION_"
            "CLASSES'] (or a view's authentication_classes) instead.",
            id=E013,
        )
        for path in mfa_settings.AUTHENTICATION_CLASSES
        if isinstance(cls := _imported(path), type) and issubclass(cls, APIKeyAuthentication)
    ]
