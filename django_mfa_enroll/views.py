"""The DRF door: parse input, call one service, render the answer or the error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.sites.shortcuts import get_current_site
from django.db import transaction
from django.http import HttpResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions, viewsets
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .authentication import (
    ChallengeToken,
    access_answer,
    basic_credentials,
    challenge_from_header,
    read_challenge,
    refresh_answer,
)
from .claims import PASSWORD_STAGE
from .conf import mfa_settings
from .exceptions import ServiceError, exception_handler
from .permissions import RecentLogin
from .qrcodes import QR_FORMATS, qr_image
from .schema import (
    document,
    login_responses,
    qr_parameters,
    qr_responses,
    secret_parameters,
    user_parameters,
)
from .serializers import (
    AccessSerializer,
    CodesSerializer,
    CreateSecretSerializer,
    DeleteSecretSerializer,
    EnrollmentSerializer,
    NewSecretSerializer,
    PasswordLoginSerializer,
    RefreshedSerializer,
    RefreshSerializer,
    SecondFactorSerializer,
    SecretSerializer,
    StrictJSONParser,
    TokenSerializer,
    enrollment_body,
    new_secret_body,
)
from .throttling import AuthRateThrottle, RefreshRateThrottle


class MFAAPIMixin:
    """What every view of the app shares: JSON in and out, our error body, no caching."""

    parser_classes: Sequence[type[BaseParser]] = [StrictJSONParser]
    # Every answer, errors included, is JSON.
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]
    permission_classes: Sequence[Any] = [permissions.IsAuthenticated]

    @classmethod
    def as_view(cls, *args: Any, **kwargs: Any) -> Any:
        # Outside ATOMIC_REQUESTS, however a site mounts the view: a refused code's failure
        # count must commit though the request answers an error (DRF rolls back a request
        # transaction on every error).
        return transaction.non_atomic_requests(super().as_view(*args, **kwargs))  # type: ignore[misc]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Every event a service writes for this request says where it came from.
        with services.origin(request):
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def get_authenticators(self) -> list[Any]:
        # Read at request time, so override_settings and late configuration both work.
        return [import_string(path)() for path in mfa_settings.AUTHENTICATION_CLASSES]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        # Answers may carry keys, codes or tokens: no cache may keep them.
        response["Cache-Control"] = "no-store"
        return response


def _issuer(request: Request) -> str:
    """The issuer shown in authenticator apps: the setting, else the current site's name."""
    return mfa_settings.ISSUER or get_current_site(request).name


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SecretViewSet(MFAAPIMixin, viewsets.ViewSet):
    """A user's MFA secrets: create, enroll with a first code, list, QR code, codes, delete.

    ``userId`` is the user's primary key or ``me``; another user's id answers 404. Each
    action that changes a factor or shows a key needs a recent login (``RecentLogin``).
    """

    recent_login_actions = frozenset({"create", "qrcode", "enroll", "codes", "destroy"})

    def get_permissions(self) -> list[Any]:
        needed = list(super().get_permissions())
        return [*needed, RecentLogin()] if self.action in self.recent_login_actions else needed

    def _owner(self, user_id: str, secret_id: Any = None, staff: str | None = None) -> Any:
        """The user the path names (404 for anyone else, and for a secret not theirs);
        staff holding the ``staff`` permission may name another user."""
        return services.owner_named(
            self.request.user, user_id, secret_id=secret_id, staff_permission=staff
        )

    @document(
        responses={200: SecretSerializer(many=True)},
        errors=(401, 404),
        parameters=user_parameters(),
    )
    def list(self, request: Request, user_id: str) -> Response:
        """Return the user's secrets (never a key); each with its backup codes remaining."""
        owner = self._owner(user_id, staff="view_secret")
        return Response(SecretSerializer(services.secrets_of(owner), many=True).data)

    @document(
        request=CreateSecretSerializer,
        responses={200: NewSecretSerializer},
        errors=(400, 401, 404, 409, 415),
        parameters=user_parameters(),
    )
    def create(self, request: Request, user_id: str) -> Response:
        """Create a pending MFA secret from ``{"type": "mfa", "description"?}``.

        Answers 200 with the secret's ``otpauth_url`` and base32 ``secret``, shown while the
        secret is pending only. A pending secret is replaced; an active one answers 409.
        """
        owner = self._owner(user_id)
        data = _validated(CreateSecretSerializer, request.data)
        new = services.create_secret(
            owner, issuer=_issuer(request), description=data["description"]
        )
        return Response(new_secret_body(new))

    @document(responses={200: SecretSerializer}, errors=(401, 404), parameters=secret_parameters())
    def retrieve(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Return one secret, with the same fields as the list."""
        owner = self._owner(user_id, staff="view_secret")
        return Response(SecretSerializer(services.get_secret(owner, secret_id)).data)

    @document(
        request=TokenSerializer,
        responses={200: EnrollmentSerializer},
        errors=(400, 401, 404, 409, 415, 429),
        parameters=secret_parameters(),
    )
    def enroll(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Activate a pending secret with ``{"token": "<first code>"}``.

        Answers 200 with the active secret and its backup ``codes``, shown this once.
        """
        owner = self._owner(user_id, secret_id)  # 404 before 400 for a stranger's id
        data = _validated(TokenSerializer, request.data)
        return Response(enrollment_body(services.enroll_secret(owner, secret_id, data["token"])))

    @document(
        request=TokenSerializer,
        responses={200: CodesSerializer},
        errors=(400, 401, 404, 409, 415, 429),
        parameters=secret_parameters(),
    )
    def codes(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Replace the backup codes, given ``{"token": "<current TOTP code>"}``.

        Answers 200 ``{"codes": [...]}``; the old set stops working.
        """
        owner = self._owner(user_id, secret_id)
        data = _validated(TokenSerializer, request.data)
        codes = services.regenerate_backup_codes(owner, secret_id, data["token"])
        return Response({"codes": codes})

    @document(
        request=DeleteSecretSerializer,
        responses={204: None},
        errors=(400, 401, 404, 415, 429),
        parameters=secret_parameters(),
    )
    def destroy(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Delete a secret. An active one needs ``{"token"}`` (TOTP or backup code) or the
        ``X-MFA-Token`` header; a pending one does not. Answers 204.

        Staff holding ``reset_mfa`` may delete another user's secret without a code: that
        is an admin reset (recorded, and the user's refresh tokens end).
        """
        owner = self._owner(user_id, secret_id, staff="reset_mfa")
        if owner.pk != request.user.pk:
            services.reset_mfa(owner, by=request.user)
        else:
            data = _validated(DeleteSecretSerializer, _code_payload(request))
            services.delete_secret(owner, secret_id, data.get("token"))
        return Response(status=204)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF reads ?format= as a renderer switch; the QR code view answers it itself.
        return super().perform_content_negotiation(request, force=force or self.action == "qrcode")

    @document(
        responses=qr_responses(),
        errors=(400, 401, 404, 409),
        parameters=qr_parameters(),
    )
    def qrcode(self, request: Request, user_id: str, secret_id: str) -> HttpResponse:
        """Return the pending secret's Key URI as a QR code: PNG, or SVG with ``?format=svg``."""
        owner = self._owner(user_id)
        image_format = request.query_params.get("format", "png").lower()
        if image_format not in QR_FORMATS:
            raise exceptions.ValidationError({"format": [_("Must be 'png' or 'svg'.")]})
        uri = services.provisioning_uri(owner, secret_id, issuer=_issuer(request))
        content_type, image = qr_image(uri, image_format)
        response = HttpResponse(image, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response


def _code_payload(request: Request) -> Any:
    """The body of a delete, or the code of its ``X-MFA-Token`` header in its place."""
    header = request.headers.get("X-MFA-Token")
    return {"token": header} if header is not None else request.data


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
    """

    @document(
        request=PasswordLoginSerializer,
        responses=login_responses(),
        errors=(400, 401, 415, 429),
    )
    def post(self, request: Request) -> Response:
        data = _validated(PasswordLoginSerializer, request.data)
        return self._login(request, data["username"], data["password"])

    @document(responses=login_responses(), errors=(400, 401, 429))
    def get(self, request: Request) -> Response:
        username, password = basic_credentials(request)
        return self._login(request, username, password)

    def _login(self, request: Request, username: str, password: str) -> Response:
        user = authenticate(
            request._request, username=username, password=password, mfa_stage=PASSWORD_STAGE
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                _("Wrong username or password."), code="invalid_credentials"
            )
        secret = services.active_secret(user)
        if secret is None:
            return Response(access_answer(user, services.AMR[None], services.clock.now()))
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


class SecondFactorView(LoginAPIView):
    """Redeem a login challenge with ``{"token": "<TOTP code>"}`` or ``{"backup_code"}``.

    The challenge comes as ``Authorization: jwt <challenge>`` or ``{"challenge"}``.
    Answers 200 ``{"type": "ACCESS", "token", "refresh", "user_id"}``; a wrong code 401;
    too many wrong codes 429 with Retry-After.
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
        return Response(access_answer(factor.user, factor.amr, factor.at, factor.secret_id))


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
