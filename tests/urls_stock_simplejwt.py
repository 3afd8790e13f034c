"""A site that routes simplejwt's views with simplejwt's own serializers (check E009)."""

from django.urls import include, path
from rest_framework_simplejwt import serializers
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from django_mfa_enroll.token_serializers import TokenVerifySerializer


class UnresolvableView(TokenRefreshView):
    """A site's view whose serializer does not import: the check skips it, and it alone."""

    _serializer_class = "no.such.module.Serializer"


urlpatterns = [
    path(
        "api/",
        include(
            [
                path(
                    "token/",
                    TokenObtainPairView.as_view(
                        serializer_class=serializers.TokenObtainPairSerializer
                    ),
                ),
                path(
                    "token/refresh/",
                    TokenRefreshView.as_view(serializer_class=serializers.TokenRefreshSerializer),
                ),
                # Ours: no error for it.
                path(
                    "token/verify/",
                    TokenVerifyView.as_view(serializer_class=TokenVerifySerializer),
                ),
                # Blacklisting a token makes nothing work that did not: no error either.
                path("token/blacklist/", TokenBlacklistView.as_view()),
                path("token/odd/", UnresolvableView.as_view()),
            ]
        ),
    ),
    path("", include("django_mfa_enroll.urls")),
]
