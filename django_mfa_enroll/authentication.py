"""How requests to the app prove who they are: simplejwt access tokens and sessions."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication

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
