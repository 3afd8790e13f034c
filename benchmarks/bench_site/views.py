"""The floor: what a site already pays for an authenticated JSON POST that touches one row.

Same middleware, same JSON parsing and rendering, simplejwt's own ``JWTAuthentication``
(which loads the user by primary key: what a site without MFA runs), then one indexed
SELECT and one UPDATE. Every MFA endpoint is reported as a ratio to it.

And the price of following the MFA state on every authenticated request: the same GET
behind simplejwt's ``JWTAuthentication`` and behind the app's, which adds one indexed read
of the user's active methods; and behind an API key.
"""

from django.contrib.auth import get_user_model
from django.urls import path
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication as StockJWTAuthentication

from django_mfa_enroll.authentication import APIKeyAuthentication, JWTAuthentication


class FloorView(APIView):
    """POST ``{"note"?}`` with ``Authorization: Bearer <access token>``: 200 ``{"user_id"}``."""

    authentication_classes = [StockJWTAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def post(self, request):
        users = get_user_model()._default_manager
        field = get_user_model().USERNAME_FIELD
        # One indexed SELECT (the username's unique index) and one UPDATE by primary key.
        row = users.values("pk", "last_login").get(**{field: request.user.get_username()})
        users.filter(pk=row["pk"]).update(last_login=timezone.now())
        return Response({"user_id": str(row["pk"])})


class StockWhoAmI(APIView):
    """GET with ``Authorization: Bearer <access token>``: 200 ``{"user_id"}``."""

    authentication_classes = [StockJWTAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response({"user_id": str(request.user.pk)})


class MFAWhoAmI(StockWhoAmI):
    """The same, behind the app's ``JWTAuthentication`` (the token must match the MFA state)."""

    authentication_classes = [JWTAuthentication]


class KeyWhoAmI(StockWhoAmI):
    """The same, with ``Authorization: apikey <key>`` (the key's row and user in one read)."""

    authentication_classes = [APIKeyAuthentication]


FLOOR_PATH = "bench/floor"
urlpatterns = [
    path(FLOOR_PATH, FloorView.as_view(), name="bench-floor"),
    path("bench/whoami/stock", StockWhoAmI.as_view(), name="bench-whoami-stock"),
    path("bench/whoami/mfa", MFAWhoAmI.as_view(), name="bench-whoami-mfa"),
    path("bench/whoami/apikey", KeyWhoAmI.as_view(), name="bench-whoami-apikey"),
]
