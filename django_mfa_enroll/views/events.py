"""The security history resource: a user's events, newest first, by cursor."""

from __future__ import annotations

from typing import Any

from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..schema import (
    document,
    user_parameters,
)
from ..serializers import (
    EventSerializer,
)
from .base import MFAAPIMixin


class EventPages(CursorPagination):
    """Newest first, by id (it only grows); ``?cursor=`` from an answer's ``next``."""

    ordering = "-id"
    page_size = 20


class EventListView(MFAAPIMixin, generics.ListAPIView):
    """A user's security history, newest first, 20 a page (``next`` holds the cursor).

    ``userId`` is ``me`` or the user's key; staff holding ``view_event`` may read anyone's.
    Another user's id answers 404. Never a key, code or token.
    """

    serializer_class = EventSerializer
    pagination_class = EventPages

    def get_queryset(self) -> Any:
        owner = services.owner_named(
            self.request.user, self.kwargs["user_id"], staff_permission="view_event"
        )
        return services.events_of(owner)

    @document(
        responses={200: EventSerializer(many=True)},
        errors=(401, 404),
        parameters=user_parameters(),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
