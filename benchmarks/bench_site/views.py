"""The floor: what a site already pays for an authenticated JSON POST that touches one row.

Same middleware, same JSON parsing and rendering, the app's own ``JWTAuthentication``
(which loads the user by primary key), then one indexed SELECT and one UPDATE. Every MFA
endpoint is reported as a ratio to it.
"""

from django.contrib.auth import get_user_model
from django.urls import path
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from django_mfa_enroll.authentication import JWTAuthentication


class FloorView(APIView):
    """POST ``{"note"?}`` with ``Authorization: jwt <access token>``: 200 ``{"user_id"}``."""

    authentication_classes = [JWTAuthentication]
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


FLOOR_PATH = "bench/floor"
urlpatterns = [path(FLOOR_PATH, FloorView.as_view(), name="bench-floor")]
