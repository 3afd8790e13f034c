"""The error body of every answer: ``{"code", "status", "message", "errors"?}``.

DRF's own errors (parse, validation, authentication, throttling, 404, 405, 415) and the
services' MFAError alike come out in this one shape, never as an HTML page or a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import services

logger = logging.getLogger("django_mfa_enroll")

#: HTTP status of each service error; InvalidCode is 400 here (the login door answers 401).
STATUS_OF_ERROR: dict[type[services.MFAError], int] = {
    services.UserNotFound: status.HTTP_404_NOT_FOUND,
    services.SecretNotFound: status.HTTP_404_NOT_FOUND,
    services.SecretExists: status.HTTP_409_CONFLICT,
    services.AlreadyEnrolled: status.HTTP_409_CONFLICT,
    services.NotPending: status.HTTP_409_CONFLICT,
    services.NotEnrolled: status.HTTP_409_CONFLICT,
    services.InvalidCode: status.HTTP_400_BAD_REQUEST,
    services.CodeRequired: status.HTTP_400_BAD_REQUEST,
    services.Locked: status.HTTP_429_TOO_MANY_REQUESTS,
    services.ChallengeInvalid: status.HTTP_401_UNAUTHORIZED,
    services.CredentialRefused: status.HTTP_401_UNAUTHORIZED,
    services.KeyUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    services.APIKeyInvalid: status.HTTP_401_UNAUTHORIZED,
    services.APIKeyLimit: status.HTTP_409_CONFLICT,
    services.APIKeyNotAllowed: status.HTTP_403_FORBIDDEN,
    services.SecondFactorRequired: status.HTTP_403_FORBIDDEN,
    services.PasswordRefused: status.HTTP_400_BAD_REQUEST,
    services.MFASetupRequired: status.HTTP_403_FORBIDDEN,
    services.LastMethodRequired: status.HTTP_409_CONFLICT,
}


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is unavailable right now; try again in a few seconds.")
    default_code = "service_unavailable"


class ServiceError(exceptions.APIException):
    """An MFAError on its way out through DRF."""

    def __init__(self, error: services.MFAError, status_code: int | None = None) -> None:
        for kind in type(error).__mro__:
            if kind in STATUS_OF_ERROR:
                self.status_code = STATUS_OF_ERROR[kind]
                break
        if status_code is not None:
            self.status_code = status_code
        self.error = error
        super().__init__(detail=error.message, code=error.code)

    def headers(self) -> dict[str, str]:
        if isinstance(self.error, services.Locked):
            return {"Retry-After": str(self.error.retry_after)}
        return {}


def _flatten(detail: Any) -> Any:
    """Turn DRF's ErrorDetail trees into plain lists of strings."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_message(errors: Any) -> str:
    """Pick a message that names the problem: the first field's first error."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            inner = _first_message(value)
            if field in ("non_field_errors", "detail"):
                return inner
            return f"{field}: {inner}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def error_body(status_code: int, code: str, message: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": status_code, "message": message}
    if errors:
        body["errors"] = errors
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every error in the app's one JSON shape."""
    if isinstance(exc, services.MFAError):
        exc = ServiceError(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away: say so in JSON, and when to try again; the details go to
        # the log, never to the client.
        logger.error("Database unavailable: %s", type(exc).__name__)
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors if isinstance(errors, list) else [errors]}
        body = error_body(response.status_code, "invalid", _first_message(errors), errors)
    else:
        listed = exc.error.errors if isinstance(exc, ServiceError) else None
        body = error_body(
            response.status_code, _code_of(exc), _first_message(_flatten(exc.detail)), listed
        )
    response.data = body
    if isinstance(exc, ServiceError):
        for name, value in exc.headers().items():
            response[name] = value
    if response.status_code == 503:
        response["Retry-After"] = "5"
    view, request = context.get("view"), context.get("request")
    if response.status_code == 401 and "WWW-Authenticate" not in response and view is not None:
        challenge = view.get_authenticate_header(request)  # RFC 7235 3.1: a 401 names a scheme
        if challenge:
            response["WWW-Authenticate"] = challenge
    return response
