"""OpenAPI descriptions of the endpoints, for drf-spectacular when a site installs it.

drf-spectacular is an optional extra (``pip install django-mfa-enroll[schema]``). Without
it, ``document`` and ``document_field`` leave views and fields as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any, TypeVar

from .conf import mfa_settings

F = TypeVar("F")


def _spectacular() -> tuple[Any, Any]:
    try:
        return import_module("drf_spectacular.utils"), import_module("drf_spectacular.types")
    except ImportError:  # the optional extra is not installed
        return None, None


_utils, _types = _spectacular()


def _identity(thing: F) -> F:
    return thing


def _errors(*statuses: int) -> dict[int, Any]:
    from .serializers import ErrorSerializer

    described = {
        400: "Bad input: the message names the problem; nothing changed.",
        401: "Not authenticated, or a wrong code or credentials at login.",
        403: "Refused: this needs a recent login, or a login with the second factor.",
        404: "No such user or secret (or not yours).",
        405: "Method not allowed.",
        409: "The secret is not in a state that allows this.",
        415: "The body is not JSON.",
        429: "Too many attempts; see Retry-After.",
    }
    return {
        code: _utils.OpenApiResponse(ErrorSerializer, description=described[code])
        for code in statuses
    }


def document(**kwargs: Any) -> Callable[[F], F]:
    """``extend_schema`` with the app's error responses; nothing without drf-spectacular."""
    if _utils is None:
        return _identity
    responses = dict(kwargs.pop("responses", {}))
    for status_code, response in _errors(*kwargs.pop("errors", ())).items():
        responses.setdefault(status_code, response)
    decorator: Callable[[F], F] = _utils.extend_schema(responses=responses, **kwargs)
    return decorator


def user_parameters() -> list[Any]:
    if _utils is None:
        return []
    return [
        _utils.OpenApiParameter(
            "user_id",
            str,
            _utils.OpenApiParameter.PATH,
            description="The user's primary key, or `me`.",
        )
    ]


def secret_parameters() -> list[Any]:
    if _utils is None:
        return []
    path = _utils.OpenApiParameter.PATH
    return [
        *user_parameters(),
        _utils.OpenApiParameter("secret_id", str, path, description="The secret's id."),
    ]


def device_parameters() -> list[Any]:
    if _utils is None:
        return []
    path = _utils.OpenApiParameter.PATH
    return [
        *user_parameters(),
        _utils.OpenApiParameter("device_id", str, path, description="The device's id."),
    ]


def qr_parameters() -> list[Any]:
    if _utils is None:
        return []
    query = _utils.OpenApiParameter.QUERY
    return [
        *secret_parameters(),
        _utils.OpenApiParameter("format", str, query, enum=["png", "svg"], required=False),
    ]


def qr_responses() -> dict[Any, Any]:
    if _utils is None:
        return {}
    binary, text = _types.OpenApiTypes.BINARY, _types.OpenApiTypes.STR
    return {
        (200, "image/png"): _utils.OpenApiResponse(binary, description="PNG (default)"),
        (200, "image/svg+xml"): _utils.OpenApiResponse(text, description="SVG"),
    }


def login_responses() -> dict[Any, Any]:
    if _utils is None:
        return {}
    from .serializers import AccessSerializer, ChallengeSerializer, SetupSerializer

    return {
        200: _utils.PolymorphicProxySerializer(
            component_name="LoginAnswer",
            serializers=[AccessSerializer, ChallengeSerializer, SetupSerializer],
            resource_type_field_name="type",
        )
    }


def new_secret_answers() -> Any:
    """The answer to a create: a pending MFA secret with its key material, an API key, or
    the password's new date."""
    if _utils is None:
        return None
    from .serializers import NewAPIKeySerializer, NewSecretSerializer, PasswordSetSerializer

    return _utils.PolymorphicProxySerializer(
        component_name="NewSecretAnswer",
        serializers={
            "mfa": NewSecretSerializer,
            "apikey": NewAPIKeySerializer,
            "password": PasswordSetSerializer,
        },
        resource_type_field_name="type",
    )


def code_schema() -> dict[str, Any]:
    """A TOTP code as the server takes it: the configured digit count, as text or a number."""
    digits = mfa_settings.TOTP_DIGITS
    return {
        "anyOf": [
            {"type": "string", "pattern": f"^\\s*(?:[0-9]\\s*){{{digits}}}$", "maxLength": 64},
            {"type": "integer", "minimum": 0, "maximum": 10**digits - 1},
        ],
        "example": "021589"[:digits].zfill(digits),
        "description": f"A {digits}-digit code from the authenticator app; a number is "
        "zero-padded, white space is ignored.",
    }


def any_code_schema() -> dict[str, Any]:
    """A TOTP code, or a backup code (any text with something besides digits and spaces)."""
    schema = code_schema()
    return {
        "anyOf": [
            *schema["anyOf"],
            {"type": "string", "pattern": "^[\\s\\S]*[^0-9\\s][\\s\\S]*$", "maxLength": 64},
        ],
        "description": "A code from the authenticator app, or a backup code.",
    }


if _utils is not None:
    from drf_spectacular.extensions import (
        OpenApiAuthenticationExtension,
        OpenApiSerializerExtension,
        OpenApiSerializerFieldExtension,
    )

    class SecondFactorScheme(OpenApiSerializerExtension):
        """/auth/totp takes exactly one of ``token`` and ``backup_code``: two shapes."""

        target_class = "django_mfa_enroll.serializers.SecondFactorSerializer"

        def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            basic: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
            properties = basic["properties"]

            def shape(field: str) -> dict[str, Any]:
                shown = {field: properties[field], "challenge": properties["challenge"]}
                shown["remember"] = properties["remember"]
                return {
                    "type": "object",
                    "properties": shown,
                    "required": [field],
                    "additionalProperties": False,
                }

            return {
                "oneOf": [shape("token"), shape("backup_code")],
                "description": basic.get("description", ""),
            }

    class CodeFieldScheme(OpenApiSerializerFieldExtension):
        target_class = "django_mfa_enroll.fields.CodeField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            return code_schema()

    class AnyCodeFieldScheme(OpenApiSerializerFieldExtension):
        target_class = "django_mfa_enroll.fields.AnyCodeField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            return any_code_schema()

    class PasswordFieldScheme(OpenApiSerializerFieldExtension):
        target_class = "django_mfa_enroll.fields.PasswordField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            basic: dict[str, Any] = auto_schema._map_serializer_field(
                self.target, direction, bypass_extensions=True
            )
            return {**basic, "format": "password"}

    class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
        """The app's JWT authentication: a bearer token under jwt, JWT or Bearer."""

        target_class = "django_mfa_enroll.authentication.JWTAuthentication"
        name = "jwtAuth"

        def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
            return {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A simplejwt access token: `Authorization: jwt|JWT|Bearer <token>`.",
            }

    class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
        """The app's API keys, for a site's own views: ``Authorization: apikey <key>``."""

        target_class = "django_mfa_enroll.authentication.APIKeyAuthentication"
        name = "apiKeyAuth"

        def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "An API key of the secrets resource: `Authorization: apikey <key>`.",
            }


def without_trailing_slashes(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[Any]:
    """drf-spectacular preprocessing hook: list the app's paths as API.md writes them.

    Every path answers with and without the slash; the schema shows the form without.
    Add ``"django_mfa_enroll.schema.without_trailing_slashes"`` to ``PREPROCESSING_HOOKS``.
    """
    return [(path.rstrip("/") if path != "/" else path, *rest) for path, *rest in endpoints]


def postprocess(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: what the serializers cannot say.

    - /auth/totp needs a body (``token`` or ``backup_code``), though neither field alone
      is required.
    - OpenAPI links from a created secret onwards: the ``id`` a create answers is the
      ``secret_id`` of the other secret operations (clients and Schemathesis' stateful
      tests follow them).

    Add ``"django_mfa_enroll.schema.postprocess"`` to ``POSTPROCESSING_HOOKS``, after
    drf-spectacular's own ``postprocess_schema_enums``.
    """
    operations = {
        operation["operationId"]: operation
        for methods in result.get("paths", {}).values()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    second_factor = operations.get("auth_totp_create")
    if second_factor is not None and "requestBody" in second_factor:
        second_factor["requestBody"]["required"] = True
    create = operations.get("users_secrets_create")
    if create is None:
        return result
    parameters = {"user_id": "$request.path.user_id", "secret_id": "$response.body#/id"}
    links = {
        name: {"operationId": operation_id, "parameters": parameters}
        for name, operation_id in [
            ("GetSecret", "users_secrets_retrieve"),
            ("GetQRCode", "users_secrets_qrcode_retrieve"),
            ("EnrollSecret", "users_secrets_enroll_update"),
            ("RegenerateCodes", "users_secrets_codes_create"),
            ("DeleteSecret", "users_secrets_destroy"),
        ]
        if operation_id in operations
    }
    create["responses"]["200"]["links"] = links
    return result
