"""The security history resource: a user's events, newest first, by cursor."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, generics
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

__all__ = ["EventListView", "EventPages"]


class EventPages(CursorPagination):
    """Newest first, by id (it only grows); ``?cursor=`` from an answer's ``next``."""

    ordering = "-id"
    page_size = 20

    def decode_cursor(self, request: Any) -> Any:
        # DRF hands the position to the query as it comes: a forged one that is no id
        # (text, a fraction, past a bigint) would fail there. It is one of ours or it is 404.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            position = str(cursor.position)
            if not position.isascii() or not position.isdigit() or int(position) >= 2**63:
                raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


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
