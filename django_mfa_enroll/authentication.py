"""How requests prove who they are: simplejwt access tokens, sessions, login challenges,
API keys."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token

from . import services
from .claims import AMR_CLAIM, AUTH_TIME_CLAIM, PASSWORD_CLAIM, SETUP_DUE_CLAIM, SID_CLAIM
from .conf import mfa_settings

#: Accepted schemes of ``Authorization: <scheme> <token>``, compared without case.
HEADER_SCHEMES = ("jwt", "bearer")


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt access tokens under ``Authorization: jwt|JWT|Bearer <token>`` in any case.

    Only access tokens pass (simplejwt checks the token type), so a login challenge or a
    refresh token is refused here, whatever it is signed with.
    """

    www_authenticate_realm = "api"

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'

    def get_raw_token(self, header: bytes) -> bytes | None:
        parts = header.split()
        if not parts or parts[0].decode("latin-1").lower() not in HEADER_SCHEMES:
            return None  # another scheme: let the next authenticator look
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Authorization header must be '<scheme> <token>' with no spaces in the token."),
                code="bad_authorization_header",
            )
        return parts[1]

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        """simplejwt's authentication; a SETUP token (``REQUIRED``) only where the view
        lists the action in ``setup_token_actions`` (the user's own secrets, to enroll):
        anywhere else 403 ``mfa_setup_required``."""
        found = super().authenticate(request)
        if found is not None and isinstance(found[1], SetupToken):
            view = (getattr(request, "parser_context", None) or {}).get("view")
            if getattr(view, "action", None) not in getattr(view, "setup_token_actions", ()):
                raise exceptions.PermissionDenied(
                    services.MFASetupRequired.message, code=services.MFASetupRequired.code
                )
        return found

    def get_validated_token(self, raw_token: bytes) -> Any:
        try:
            return super().get_validated_token(raw_token)
        except InvalidToken:
            try:
                return SetupToken(raw_token)  # type: ignore[arg-type]
            except TokenError:
                pass
            raise

    def get_user(self, validated_token: Any) -> Any:
        """simplejwt's user, if the token still matches the user's MFA state: a
        password-only token of a user who has enrolled since answers 401 ``mfa_required``,
        one whose second factor's secret is gone 401 ``mfa_reset`` (one indexed read)."""
        user = super().get_user(validated_token)
        follow_mfa_state(user, validated_token)
        return user


class APIKeyAuthentication(BaseAuthentication):
    """API keys of machine clients: ``Authorization: apikey <key>``, the scheme in any case.

    Add it to DRF's ``DEFAULT_AUTHENTICATION_CLASSES`` (never to ``MFA_ENROLL``'s: check
    E013). A key authenticates a request on its own; ``request.auth`` is the key's row, so
    ``IsMFAVerified``, ``mfa_within`` and ``RecentLogin`` refuse it, and the app's own
    endpoints answer 403 ``api_key_not_allowed``. One indexed read per request.
    """

    keyword = "apikey"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != self.keyword:
            return None  # another scheme: let the next authenticator look
        raw = raw.strip()
        try:
            with services.origin(request):  # a use from a new address is recorded
                return services.authenticate_api_key(raw)
        except services.APIKeyInvalid as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from None

    def authenticate_header(self, request: Any) -> str:
        return 'ApiKey realm="api"'


def follow_mfa_state(user: Any, token: Any) -> None:
    """Refuse (401) a token whose ``amr`` and ``sid`` no longer match the user's MFA state,
    or whose password is no longer the user's (``password_changed``)."""
    try:
        services.check_password_stamp(user, token.get(PASSWORD_CLAIM))
        services.check_credential(
            user.pk,
            token.get(AMR_CLAIM),
            token.get(SID_CLAIM),
            token.get(AUTH_TIME_CLAIM),
            token.get(SETUP_DUE_CLAIM),
        )
    except services.CredentialRefused as error:
        raise exceptions.AuthenticationFailed(error.message, code=error.code) from None


def user_of_token(token: Any) -> Any:
    """The active user a token names, and whose MFA state it still matches; 401 otherwise."""
    user_id = token.get(_jwt().USER_ID_CLAIM)
    user = None
    if user_id is not None and not isinstance(user_id, (dict, list)):
        try:
            user = (
                get_user_model()._default_manager.filter(**{_jwt().USER_ID_FIELD: user_id}).first()
            )
        except (DjangoValidationError, ValueError, TypeError, OverflowError, DataError):
            user = None  # not a key of this user model
    if user is None or not _jwt().USER_AUTHENTICATION_RULE(user):
        raise exceptions.AuthenticationFailed(
            _("No active account found for this token."), code="no_active_account"
        )
    follow_mfa_state(user, token)
    return user


def _jwt() -> Any:
    """simplejwt's settings, looked up on each use: it replaces the object when they change."""
    return simplejwt_settings.api_settings


class ChallengeToken(Token):
    """A login challenge: the password was right, a second factor is due.

    Its own token type, so every view that takes access tokens refuses it. It names one
    user and one secret, and the secret's challenge epoch at issue, so it redeems once,
    and the password it was earned with (``pwd_stamp``), so a password changed meanwhile,
    at any door, ends it.
    """

    token_type = "mfa_challenge"  # noqa: S105 - a type name, not a secret

    @property
    def lifetime(self) -> timedelta:  # type: ignore[override]
        return timedelta(seconds=mfa_settings.CHALLENGE_LIFETIME)

    @classmethod
    def for_secret(cls, secret: Any) -> ChallengeToken:
        token = cls()
        token[_jwt().USER_ID_CLAIM] = str(getattr(secret.user, _jwt().USER_ID_FIELD))
        token[SID_CLAIM] = str(secret.pk)
        token["uid"] = str(secret.user_id)  # the primary key, whatever USER_ID_FIELD is
        token["epoch"] = secret.challenge_epoch
        token[AMR_CLAIM] = ["pwd"]
        token[PASSWORD_CLAIM] = services.password_stamp(secret.user)
        return token

    @property
    def user_id(self) -> Any:
        return self["uid"]

    @property
    def secret_id(self) -> Any:
        return self[SID_CLAIM]

    @property
    def epoch(self) -> int:
        return self["epoch"]


class SetupToken(Token):
    """A login that may only set MFA up (``REQUIRED``): the user's own secrets endpoints
    take it (create, read, QR code, enroll), every other view answers 403. A password
    login (``amr`` ``["pwd"]``), so it ends like one once the user enrolls elsewhere; it
    lives ``REAUTH_MAX_AGE`` seconds, as long as its login counts as recent."""

    token_type = "mfa_setup"  # noqa: S105 - a type name, not a secret

    @property
    def lifetime(self) -> timedelta:  # type: ignore[override]
        return timedelta(seconds=mfa_settings.REAUTH_MAX_AGE)


def setup_answer(user: Any, now: datetime) -> dict[str, Any]:
    """The answer of a password login that may only set MFA up: a SETUP token."""
    token = SetupToken()
    token[_jwt().USER_ID_CLAIM] = str(getattr(user, _jwt().USER_ID_FIELD))
    token[AMR_CLAIM] = services.AMR[None]
    token[AUTH_TIME_CLAIM] = int(now.timestamp())
    token[PASSWORD_CLAIM] = services.password_stamp(user)
    return {
        "type": "SETUP",
        "token": str(token),
        "user_id": str(user.pk),
        "expires_in": mfa_settings.REAUTH_MAX_AGE,
    }


def read_challenge(raw: str) -> ChallengeToken:
    """Return a verified challenge (signature, expiry, type), or raise ChallengeInvalid."""
    try:
        token = ChallengeToken(raw)  # type: ignore[arg-type]
        valid = isinstance(token.epoch, int) and token.user_id is not None and token.secret_id
    except (TokenError, KeyError):
        raise services.ChallengeInvalid from None
    if not valid:
        raise services.ChallengeInvalid
    return token


def access_answer(
    user: Any,
    amr: list[str],
    auth_time: datetime,
    secret_id: Any = None,
    setup_due: datetime | None = None,
) -> dict[str, Any]:
    """Issue a refresh/access pair carrying ``amr`` (RFC 8176) and the login's ``auth_time``
    (a refresh keeps it: a renewed token is no more recent a login than the first).

    After a second factor the pair also names the secret (``sid``): a refresh lives only as
    long as that secret, so an admin reset ends it even without simplejwt's blacklist.
    """
    refresh = RefreshToken.for_user(user)
    refresh[AMR_CLAIM] = amr
    refresh[AUTH_TIME_CLAIM] = int(auth_time.timestamp())
    refresh[PASSWORD_CLAIM] = services.password_stamp(user)
    if secret_id is not None:
        refresh[SID_CLAIM] = str(secret_id)
    if setup_due is not None:  # let in during REQUIRED_GRACE: not past its end
        refresh[SETUP_DUE_CLAIM] = int(setup_due.timestamp())
    return {
        "type": "ACCESS",
        "token": str(refresh.access_token),
        "refresh": str(refresh),
        "user_id": str(user.pk),
    }


def refresh_answer(raw: str) -> dict[str, Any]:
    """Renew an access token from a refresh token, keeping its claims (``amr`` included).

    Refuses a refresh token whose user is gone or inactive, and one that no longer matches
    the user's MFA state (``follow_mfa_state``): enrolling closes the password-only doors,
    a reset or a delete those of the old factor.
    """
    try:
        refresh = RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(exc.args[0] if exc.args else None) from None
    user_of_token(refresh)
    data: dict[str, Any] = {"type": "ACCESS", "token": str(refresh.access_token)}
    if _jwt().ROTATE_REFRESH_TOKENS:
        if _jwt().BLACKLIST_AFTER_ROTATION and hasattr(refresh, "blacklist"):
            refresh.blacklist()
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
    return data


def challenge_from_header(request: Any) -> str:
    """The login challenge of ``Authorization: jwt|bearer <challenge>``; 401 without one."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in HEADER_SCHEMES or not token.strip():
        raise exceptions.NotAuthenticated(
            _("Send the login challenge as 'Authorization: jwt <challenge>' or as 'challenge'."),
            code="challenge_required",
        )
    return token.strip()


def basic_credentials(request: Any) -> tuple[str, str]:
    """Username and password of ``Authorization: Basic``; 401 without it, 400 if malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise exceptions.NotAuthenticated(
            _("Send credentials with 'Authorization: Basic', or POST them as JSON."),
            code="credentials_required",
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
        raise exceptions.ParseError(
            _("Malformed Basic credentials: not base64 of 'username:password'.")
        ) from None
    username, sep, password = decoded.partition(":")
    if "\x00" in decoded:
        raise exceptions.ParseError(_("Malformed Basic credentials: a NUL character."))
    if not sep:
        raise exceptions.ParseError(
            _("Malformed Basic credentials: no ':' between username and password.")
        )
    return username, password
