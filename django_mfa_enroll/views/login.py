"""The login endpoints: password, second factor, refresh."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from ..authentication import (
    ChallengeToken,
    access_answer,
    basic_credentials,
    challenge_from_header,
    read_challenge,
    refresh_answer,
    setup_answer,
)
from ..claims import PASSWORD_CLAIM, PASSWORD_STAGE
from ..conf import mfa_settings
from ..exceptions import ServiceError
from ..schema import (
    document,
    login_responses,
)
from ..serializers import (
    AccessSerializer,
    PasswordLoginSerializer,
    RefreshedSerializer,
    RefreshSerializer,
    SecondFactorSerializer,
)
from ..throttling import AuthRateThrottle, RefreshRateThrottle
from .base import MFAAPIMixin, _validated


class LoginAPIView(MFAAPIMixin, APIView):
    """Base of the /auth/* views: anyone may call them, behind the per-IP throttle."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthRateThrottle]

    def get_authenticators(self) -> list[Any]:
        return []  # these views read the credentials (or the challenge) themselves

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class PasswordLoginView(LoginAPIView):
    """Log in with ``{"username", "password"}`` (or GET with ``Authorization: Basic``).

    Without MFA: 200 ``{"type": "ACCESS", "token", "refresh", "user_id"}``. With MFA
    active: 200 ``{"type": "CHALLENGE", "token", "methods", "expires_in"}`` and no access
    token; redeem the challenge at /auth/totp. A wrong username or password answers 401,
    the same for both.

    A user who must use MFA (``REQUIRED``) and has none: 200 ``{"type": "SETUP", "token",
    "user_id", "expires_in"}``, a token for their own secrets endpoints only (enroll, and
    the enrollment answers ACCESS tokens too); during ``REQUIRED_GRACE``, ACCESS with
    ``"mfa_setup_due"``.
    """

    @document(
        request=PasswordLoginSerializer,
        responses=login_responses(),
        errors=(400, 401, 415, 429),
    )
    def post(self, request: Request) -> Response:
        data = _validated(PasswordLoginSerializer, request.data)
        device = data.get("device_token") or _device_header(request)
        return self._login(request, data["username"], data["password"], device)

    @document(responses=login_responses(), errors=(400, 401, 429))
    def get(self, request: Request) -> Response:
        username, password = basic_credentials(request)
        return self._login(request, username, password, _device_header(request))

    def _login(
        self, request: Request, username: str, password: str, device: str | None
    ) -> Response:
        user = authenticate(
            request._request, username=username, password=password, mfa_stage=PASSWORD_STAGE
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                _("Wrong username or password."), code="invalid_credentials"
            )
        secret = services.active_secret(user)
        if secret is None:
            now = services.clock.now()
            policy = services.login_policy(user, now)
            if policy.setup_now:
                return Response(setup_answer(user, now))
            answer = access_answer(user, services.AMR[None], now, setup_due=policy.due)
            if policy.due is not None:
                answer["mfa_setup_due"] = policy.due.isoformat().replace("+00:00", "Z")
            return Response(answer)
        if device:
            now = services.clock.now()
            if services.trusted_device(user, secret.pk, device, now) is not None:
                amr = services.AMR[services.DEVICE_AMR]
                return Response(access_answer(user, amr, now, secret.pk))
            # A token that does not hold changes nothing: the login gets its challenge.
        secret.user = user
        return Response(
            {
                "type": "CHALLENGE",
                "token": str(ChallengeToken.for_secret(secret)),
                "methods": [services.TOTP, services.BACKUP_CODE],
                "expires_in": mfa_settings.CHALLENGE_LIFETIME,
            }
        )

    def get_authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'


def _device_header(request: Request) -> str | None:
    """A trusted device's token sent as ``X-MFA-Device`` (for a GET with Basic credentials)."""
    return request.headers.get("X-MFA-Device") or None


class SecondFactorView(LoginAPIView):
    """Redeem a login challenge with ``{"token": "<TOTP code>"}`` or ``{"backup_code"}``.

    The challenge comes as ``Authorization: jwt <challenge>`` or ``{"challenge"}``.
    Answers 200 ``{"type": "ACCESS", "token", "refresh", "user_id"}``; a wrong code 401;
    too many wrong codes 429 with Retry-After. With ``"remember": true`` and ``TRUST_DAYS``
    set, also ``device_token`` and ``device_expires_in``: sent with the password
    (``device_token`` or ``X-MFA-Device``), it logs in without a challenge.
    """

    @document(
        request=SecondFactorSerializer,
        responses={200: AccessSerializer},
        errors=(400, 401, 415, 429),
    )
    def post(self, request: Request) -> Response:
        data = _validated(SecondFactorSerializer, request.data)
        challenge = read_challenge(data.get("challenge") or challenge_from_header(request))
        if "token" in data:
            typed, method = data["token"], services.TOTP
        else:
            typed, method = data["backup_code"], services.BACKUP_CODE
        try:
            factor = services.verify_second_factor(
                challenge.user_id, challenge.secret_id, typed, method=method, epoch=challenge.epoch
            )
        except services.InvalidCode as error:
            raise ServiceError(error, status_code=401) from None
        # Earned with a password that is no longer the user's: the code is spent, no login.
        services.check_password_stamp(factor.user, challenge.get(PASSWORD_CLAIM))
        answer = access_answer(factor.user, factor.amr, factor.at, factor.secret_id)
        if data["remember"]:
            trusted = services.remember_device(factor.user, factor.secret_id, factor.at)
            if trusted is not None:  # TRUST_DAYS is on
                answer["device_token"] = trusted.token
                answer["device_expires_in"] = int(
                    (trusted.row.expires_at - factor.at).total_seconds()
                )
        return Response(answer)


class RefreshView(LoginAPIView):
    """Renew an access token with ``{"refresh"}``; its ``amr`` is kept.

    Answers 200 ``{"type": "ACCESS", "token", "refresh"?}`` (``refresh`` when rotation is on).
    """

    throttle_classes = [RefreshRateThrottle]

    @document(
        request=RefreshSerializer,
        responses={200: RefreshedSerializer},
        errors=(400, 401, 415, 429),
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshSerializer, request.data)
        return Response(refresh_answer(data["refresh"]))
