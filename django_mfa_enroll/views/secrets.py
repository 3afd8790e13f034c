"""The secrets resource: create, enroll, list, read, QR code, new codes, delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..authentication import SetupToken, access_answer
from ..models import Secret
from ..permissions import RecentLogin, authentication_of
from ..qrcodes import QR_FORMATS, qr_image
from ..schema import (
    document,
    new_secret_answers,
    qr_parameters,
    qr_responses,
    secret_parameters,
    user_parameters,
)
from ..serializers import (
    APIKEY,
    PASSWORD,
    CodesSerializer,
    CreateSecretSerializer,
    DeleteSecretSerializer,
    EnrollmentSerializer,
    SecretSerializer,
    TokenSerializer,
    api_key_body,
    enrollment_body,
    new_api_key_body,
    new_secret_body,
    password_set_body,
)
from .base import MFAAPIMixin, _issuer, _validated


class SecretViewSet(MFAAPIMixin, viewsets.ViewSet):
    """A user's MFA secrets: create, enroll with a first code, list, QR code, codes, delete.

    ``userId`` is the user's primary key or ``me``; another user's id answers 404. Each
    action that changes a factor or shows a key needs a recent login (``RecentLogin``).
    """

    recent_login_actions = frozenset({"create", "qrcode", "enroll", "codes", "destroy"})
    #: What a SETUP token (``REQUIRED``) may do: set MFA up on the user's own secrets.
    setup_token_actions = frozenset({"list", "retrieve", "create", "qrcode", "enroll"})

    def get_permissions(self) -> list[Any]:
        needed = list(super().get_permissions())
        return [*needed, RecentLogin()] if self.action in self.recent_login_actions else needed

    def _owner(self, user_id: str, secret_id: Any = None, staff: str | None = None) -> Any:
        """The user the path names (404 for anyone else, and for a secret not theirs);
        staff holding the ``staff`` permission may name another user (not with a SETUP
        token: it reaches its own user's secrets only)."""
        if isinstance(self.request.auth, SetupToken):
            staff = None
        return services.owner_named(
            self.request.user, user_id, secret_id=secret_id, staff_permission=staff
        )

    @document(
        responses={200: SecretSerializer(many=True)},
        errors=(401, 404),
        parameters=user_parameters(),
    )
    def list(self, request: Request, user_id: str) -> Response:
        """Return the user's secrets (never a key): the MFA secret with its backup codes
        remaining, then the API keys (their prefixes and dates)."""
        owner = self._owner(user_id, staff="view_secret")
        secrets = SecretSerializer(services.secrets_of(owner), many=True).data
        keys = [api_key_body(row) for row in services.api_keys_of(owner)]
        return Response([*secrets, *keys])

    @document(
        request=CreateSecretSerializer,
        responses={200: new_secret_answers()},
        errors=(400, 401, 403, 404, 409, 415, 429),
        parameters=user_parameters(),
    )
    def create(self, request: Request, user_id: str) -> Response:
        """Create a pending MFA secret from ``{"type": "mfa", "description"?}``.

        Answers 200 with the secret's ``otpauth_url`` and base32 ``secret``, shown while the
        secret is pending only. A pending secret is replaced; an active one answers 409.

        ``{"type": "apikey", "description"?, "expires_in"?}`` makes an API key, answered
        once in ``secret``; it needs a login with a second factor when MFA is on (403
        ``mfa_required``), and at most ``API_KEY_MAX`` keys (409 ``api_key_limit``).

        ``{"type": "password", "secret": "<new password>", "token"?}`` sets the password
        through ``AUTH_PASSWORD_VALIDATORS`` (400 ``password_invalid`` naming each
        failure); with MFA on it needs a current code in ``token``. Every session and
        token of the user ends, this one included: log in again with the new password.
        """
        owner = self._owner(user_id)
        data = _validated(CreateSecretSerializer, request.data)
        if isinstance(request.auth, SetupToken) and data["type"] != Secret.Type.MFA:
            raise services.MFASetupRequired  # set MFA up first; then the rest
        if data["type"] == PASSWORD:
            _amr, auth_time, _sid = authentication_of(request)
            updated_at = services.change_password(
                owner, data["secret"], code=data.get("token"), auth_time=auth_time
            )
            return Response(password_set_body(updated_at))
        if data["type"] == APIKEY:
            amr, auth_time, _sid = authentication_of(request)
            made = services.create_api_key(
                owner,
                amr=amr,
                auth_time=auth_time,
                description=data["description"],
                expires_in=data.get("expires_in"),
            )
            return Response(new_api_key_body(made))
        new = services.create_secret(
            owner, issuer=_issuer(request), description=data["description"]
        )
        return Response(new_secret_body(new))

    @document(responses={200: SecretSerializer}, errors=(401, 404), parameters=secret_parameters())
    def retrieve(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Return one secret or API key, with the same fields as the list."""
        owner = self._owner(user_id, staff="view_secret")
        try:
            return Response(SecretSerializer(services.get_secret(owner, secret_id)).data)
        except services.SecretNotFound:
            return Response(api_key_body(services.get_api_key(owner, secret_id)))

    @document(
        request=TokenSerializer,
        responses={200: EnrollmentSerializer},
        errors=(400, 401, 404, 409, 415, 429),
        parameters=secret_parameters(),
    )
    def enroll(self, request: Request, user_id: str, secret_id: str) -> Response:
        """Activate a pending secret with ``{"token": "<first code>"}``.

        Answers 200 with the active secret and its backup ``codes``, shown this once.
        Under a SETUP token (``REQUIRED``) also ``access``: ACCESS tokens of a login with
        the new factor.
        """
        owner = self._owner(user_id, secret_id)  # 404 before 400 for a stranger's id
        data = _validated(TokenSerializer, request.data)
        enrollment = services.enroll_secret(owner, secret_id, data["token"])
        body = enrollment_body(enrollment)
        if isinstance(request.auth, SetupToken):
            # The password, then the new factor's first code: a login with MFA, now.
            at = services.clock.now()
            body["access"] = access_answer(
                owner, services.AMR[services.TOTP], at, enrollment.secret.pk
            )
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

        An API key of one's own is deleted without a code, and stops working at once.
        """
        try:
            owner = self._owner(user_id, secret_id, staff="reset_mfa")
        except services.SecretNotFound:
            if self._owner(user_id) != request.user:
                raise
            services.revoke_api_key(request.user, secret_id)  # one's own key, or 404
            return Response(status=204)
        if owner.pk != request.user.pk:
            amr = authentication_of(request)[0]
            if "mfa" in amr and not services.factor_entered(amr):
                raise services.SecondFactorRequired  # a trusted device resets no one
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
