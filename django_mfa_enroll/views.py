"""The DRF door: parse input, call one service, render the answer or the error."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, transaction
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
    HEADER_SCHEMES,
    ChallengeToken,
    access_answer,
    read_challenge,
    refresh_answer,
)
from .backends import PASSWORD_STAGE
from .conf import mfa_settings
from .exceptions import ServiceError, exception_handler
from .models import Secret
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
)
from .throttling import AuthRateThrottle

ME = "me"


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


def _permission(codename: str) -> str:
    return f"{Secret._meta.app_label}.{codename}"


def _issuer(request: Request) -> str:
    """The issuer shown in authenticator apps: the setting, else the current site's name."""
    return mfa_settings.ISSUER or get_current_site(request).name


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SecretViewSet(MFAAPIMixin, viewsets.ViewSet):
    """A user's MFA secrets: create, enroll with a first code, list, QR code, codes, delete.

    ``userId`` is the user's primary key or ``me``; another user's id answers 404.
    """

    def _owner(self, user_id: str, staff_permission: str | None = None) -> Any:
        """Return the user named by the path: the requester, or for staff holding
        ``staff_permission``, another user. Anything else is 404.

        Never 403: an answer must not tell whether another account exists.
        """
        me = self.request.user
        if user_id == ME:
            return me
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            pk = None
        if pk is not None and str(pk) == str(me.pk):
            return me
        other = None
        if (
            pk is not None
            and staff_permission
            and getattr(me, "is_staff", False)
            and me.has_perm(_permission(staff_permission))
        ):
            try:
                other = model._default_manager.filter(pk=pk).first()
            except (DjangoValidationError, ValueError, TypeError, OverflowError, DataError):
                other = None
        if other is None:
            raise exceptions.NotFound(_("No such user."))
        return other

    @document(
        responses={200: SecretSerializer(many=True)},
        errors=(401, 404),
        parameters=user_parameters(),
    )
    def list(self, request: Request, user_id: str) -> Response:
        """Return the user's secrets (never a key); each with its backup codes remaining."""
        owner = self._owner(user_id, staff_permission="view_secret")
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
        body = SecretSerializer(new.secret).data
        body["secret"] = {"otpauth_url": new.otpauth_url, "secret": new.key_base32}
        return Response(body)

    @document(responses={200: SecretSerializer}, errors=(401, 404), parameters=secret_parameters())
    def retrieve(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Return one secret, with the same fields as the list."""
        owner = self._owner(user_id, staff_permission="view_secret")
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
        owner = self._owner(user_id)
        services.get_secret(owner, secret_id)  # 404 before 400 for a stranger's id
        data = _validated(TokenSerializer, request.data)
        enrollment = services.enroll_secret(owner, secret_id, data["token"])
        body = SecretSerializer(enrollment.secret).data
        body["codes"] = enrollment.codes
        return Response(body)

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
        owner = self._owner(user_id)
        services.get_secret(owner, secret_id)
        data = _validated(TokenSerializer, request.data)
        return Response(
            {"codes": services.regenerate_backup_codes(owner, secret_id, data["token"])}
        )

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
        owner = self._owner(user_id, staff_permission="reset_mfa")
        services.get_secret(owner, secret_id)
        if owner.pk != request.user.pk:
            services.reset_mfa(owner, by=request.user)
            return Response(status=204)
        header = request.headers.get("X-MFA-Token")
        payload = {"token": header} if header is not None else request.data
        data = _validated(DeleteSecretSerializer, payload)
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
        content_type, factory = QR_FORMATS[image_format]
        response = HttpResponse(_qr_image(uri, factory), content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response


def _png_factory() -> Any:
    from qrcode.image.pure import PyPNGImage

    return PyPNGImage


def _svg_factory() -> Any:
    from qrcode.image.svg import SvgPathImage

    return SvgPathImage


QR_FORMATS = {"png": ("image/png", _png_factory), "svg": ("image/svg+xml", _svg_factory)}


def _qr_image(data: str, factory: Any) -> bytes:
    import qrcode

    buffer = io.BytesIO()
    qrcode.make(data, image_factory=factory(), border=2).save(buffer)
    return buffer.getvalue()


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
        username, password = _basic_credentials(request)
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
            return Response(access_answer(user, services.AMR[None]))
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
        challenge = read_challenge(data.get("challenge") or _challenge_from_header(request))
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
        return Response(access_answer(factor.user, factor.amr, factor.at, factor.secret.pk))


class RefreshView(LoginAPIView):
    """Renew an access token with ``{"refresh"}``; its ``amr`` is kept.

    Answers 200 ``{"type": "ACCESS", "token", "refresh"?}`` (``refresh`` when rotation is on).
    """

    @document(
        request=RefreshSerializer,
        responses={200: RefreshedSerializer},
        errors=(400, 401, 415, 429),
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshSerializer, request.data)
        return Response(refresh_answer(data["refresh"]))


def _challenge_from_header(request: Request) -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in HEADER_SCHEMES or not token.strip():
        raise exceptions.NotAuthenticated(
            _("Send the login challenge as 'Authorization: jwt <challenge>' or as 'challenge'."),
            code="challenge_required",
        )
    return token.strip()


def _basic_credentials(request: Request) -> tuple[str, str]:
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
