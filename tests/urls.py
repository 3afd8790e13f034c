from django.contrib import admin
from django.urls import include, path
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from django_mfa_enroll.admin import use_mfa_login
from django_mfa_enroll.authentication import JWTAuthentication
from django_mfa_enroll.permissions import IsMFAVerified, mfa_within

use_mfa_login(admin.site)


class WhoAmI(APIView):
    """A site's own DRF view behind Basic, session and JWT authentication."""

    authentication_classes = [BasicAuthentication, SessionAuthentication, JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": str(request.user.pk)})


class Sensitive(WhoAmI):
    permission_classes = [IsMFAVerified]


class StepUp(WhoAmI):
    permission_classes = [mfa_within(300)]


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("api/token/", TokenObtainPairView.as_view()),
    path("site/whoami/", WhoAmI.as_view()),
    path("site/sensitive/", Sensitive.as_view()),
    path("site/step-up/", StepUp.as_view()),
    path("", include("django_mfa_enroll.urls")),
]
