"""simplejwt's own views, made to follow the user's MFA state: serializers for ``SIMPLE_JWT``.

Sites often route simplejwt's ``TokenObtainPairView``, ``TokenRefreshView`` and
``TokenVerifyView`` (and the sliding ones) beside the app. With simplejwt's serializers a
refresh token from before a user enrolled keeps turning into access tokens, and one of a
reset factor outlives the reset (without the blacklist app). These subclasses hold every
token to the rule of the app's own doors (``services.check_credential``), whether or not
``token_blacklist`` is installed::

    SIMPLE_JWT = {
        "TOKEN_OBTAIN_SERIALIZER": "django_mfa_enroll.token_serializers.TokenObtainPairSerializer",
        "TOKEN_REFRESH_SERIALIZER": "django_mfa_enroll.token_serializers.TokenRefreshSerializer",
        "TOKEN_VERIFY_SERIALIZER": "django_mfa_enroll.token_serializers.TokenVerifySerializer",
        "SLIDING_TOKEN_OBTAIN_SERIALIZER":
            "django_mfa_enroll.token_serializers.TokenObtainSlidingSerializer",
        "SLIDING_TOKEN_REFRESH_SERIALIZER":
            "django_mfa_enroll.token_serializers.TokenRefreshSlidingSerializer",
    }

simplejwt reads these when its views module is first imported, so they belong in
settings.py. System check ``E009`` names the one a routed view lacks.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework_simplejwt import serializers as stock
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, SlidingToken, UntypedToken

from . import services
from .authentication import user_of_token
from .claims import AMR_CLAIM, AUTH_TIME_CLAIM, PASSWORD_CLAIM, SETUP_DUE_CLAIM

#: Token types that are credentials (a login challenge is not one).
CREDENTIAL_TYPES = frozenset(
    {AccessToken.token_type, RefreshToken.token_type, SlidingToken.token_type}
)


class FollowsMFAState:
    """Marks a serializer that holds its tokens to the user's MFA state (system check E009)."""


class _PasswordLogin(FollowsMFAState):
    """simplejwt's password login, for users without MFA: its tokens say so (``amr``
    ``["pwd"]``) and when the login happened (``auth_time``). A user with an active method
    is refused here even where MFAModelBackend is missing: their login is /auth/password."""

    @classmethod
    def get_token(cls, user: Any) -> Any:
        if services.active_method_ids(user.pk):
            raise exceptions.AuthenticationFailed(
                services.MFARequired.message, code=services.MFARequired.code
            )
        policy = services.login_policy(user, services.clock.now())
        if policy.setup_now:
            raise exceptions.AuthenticationFailed(
                services.MFASetupRequired.message, code=services.MFASetupRequired.code
            )
        token = super().get_token(user)  # type: ignore[misc]
        token[AMR_CLAIM] = services.AMR[None]
        token[AUTH_TIME_CLAIM] = int(services.clock.now().timestamp())
        token[PASSWORD_CLAIM] = services.password_stamp(user)
        if policy.due is not None:
            token[SETUP_DUE_CLAIM] = int(policy.due.timestamp())
        return token


class TokenObtainPairSerializer(_PasswordLogin, stock.TokenObtainPairSerializer):
    pass


class TokenObtainSlidingSerializer(_PasswordLogin, stock.TokenObtainSlidingSerializer):
    pass


class TokenRefreshSerializer(FollowsMFAState, stock.TokenRefreshSerializer):
    """simplejwt's refresh, refused (401) for a token whose user is gone or inactive, or no
    longer matches the user's MFA state; it keeps the login's ``amr`` and ``auth_time``."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        user_of_token(self.token_class(attrs["refresh"]))
        return super().validate(attrs)


class TokenRefreshSlidingSerializer(FollowsMFAState, stock.TokenRefreshSlidingSerializer):
    """simplejwt's sliding refresh, refused as ``TokenRefreshSerializer`` refuses."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        user_of_token(self.token_class(attrs["token"]))
        return super().validate(attrs)


class TokenVerifySerializer(FollowsMFAState, stock.TokenVerifySerializer):
    """simplejwt's verify, which also says no (401) to a token that no longer matches its
    user's MFA state, and to a login challenge: a challenge is not a credential."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(attrs)
        token = UntypedToken(attrs["token"])
        if token.get(api_settings.TOKEN_TYPE_CLAIM) not in CREDENTIAL_TYPES:
            raise exceptions.AuthenticationFailed(
                _("This token is not a credential (a login challenge is redeemed at /auth/totp)."),
                code="token_not_valid",
            )
        user_of_token(token)
        return data


#: simplejwt's setting for each of its serializers, and ours in its place (check E009).
SETTING_OF = {
    stock.TokenObtainPairSerializer: ("TOKEN_OBTAIN_SERIALIZER", TokenObtainPairSerializer),
    stock.TokenObtainSlidingSerializer: (
        "SLIDING_TOKEN_OBTAIN_SERIALIZER",
        TokenObtainSlidingSerializer,
    ),
    stock.TokenRefreshSerializer: ("TOKEN_REFRESH_SERIALIZER", TokenRefreshSerializer),
    stock.TokenRefreshSlidingSerializer: (
        "SLIDING_TOKEN_REFRESH_SERIALIZER",
        TokenRefreshSlidingSerializer,
    ),
    stock.TokenVerifySerializer: ("TOKEN_VERIFY_SERIALIZER", TokenVerifySerializer),
}
