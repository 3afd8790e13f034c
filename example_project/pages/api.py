"""The site's own API, as a stand-in for yours: ``GET /api/me``.

A plain DRF view under the site's ``DEFAULT_AUTHENTICATION_CLASSES`` (settings.py): an API
key, a token or a session. It says who is asking and how, nothing the app keeps secret.
"""

from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_mfa_enroll.authentication import APIKeyAuthentication, JWTAuthentication
from django_mfa_enroll.schema import document


class MeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The user's primary key.")
    username = serializers.CharField()
    authenticated_by = serializers.ChoiceField(
        choices=["apikey", "jwt", "session"], help_text="How this request proved who it is."
    )


class Me(APIView):
    """Who the request is: the site's own API, behind its default authentication."""

    permission_classes = [IsAuthenticated]

    @document(responses={200: MeSerializer}, errors=(401,), operation_id="me")
    def get(self, request):
        authenticator = request.successful_authenticator
        if isinstance(authenticator, APIKeyAuthentication):
            how = "apikey"
        elif isinstance(authenticator, JWTAuthentication):
            how = "jwt"
        else:
            how = "session"
        user = request.user
        return Response(
            MeSerializer(
                {"id": str(user.pk), "username": user.get_username(), "authenticated_by": how}
            ).data
        )
