"""The trusted devices resource: a user's remembered devices, listed and revoked."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..schema import device_parameters, document, user_parameters
from ..serializers import DeviceSerializer
from .base import MFAAPIMixin

__all__ = ["DeviceViewSet"]


class DeviceViewSet(MFAAPIMixin, viewsets.ViewSet):
    """The devices a user asked to remember after a second factor (``TRUST_DAYS``).

    ``userId`` is ``me`` or the user's own key (another user's id answers 404). Never a
    token: only when each device was trusted, last used and until when, and a label.
    """

    @document(
        responses={200: DeviceSerializer(many=True)},
        errors=(401, 404),
        parameters=user_parameters(),
    )
    def list(self, request: Request, user_id: str) -> Response:
        """Return the user's trusted devices, oldest first."""
        owner = services.owner_named(request.user, user_id)
        return Response(DeviceSerializer(services.devices_of(owner), many=True).data)

    @document(responses={204: None}, errors=(401, 404), parameters=device_parameters())
    def destroy(self, request: Request, user_id: str, device_id: str) -> Response:
        """Forget a device: its next login asks for a second factor again. Answers 204."""
        owner = services.owner_named(request.user, user_id)
        services.revoke_device(owner, device_id, by=None)
        return Response(status=204)
