"""What every view of the DRF door shares: JSON in and out, the error body, no caching."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.sites.shortcuts import get_current_site
from django.db import transaction
from django.utils.module_loading import import_string
from rest_framework import permissions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from .. import services
from ..authentication import APIKeyAuthentication
from ..conf import mfa_settings
from ..exceptions import ServiceError, exception_handler
from ..parsers import StrictJSONParser


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

    def perform_authentication(self, request: Any) -> None:
        super().perform_authentication(request)  # type: ignore[misc]
        if isinstance(request.successful_authenticator, APIKeyAuthentication):
            # A key never reaches a factor, a key or a token: even where a site let the
            # app's views read keys (check E013 says not to).
            raise ServiceError(services.APIKeyNotAllowed())

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
