from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import (
    TokenObtainPairView,
    TokenObtainSlidingView,
    TokenRefreshSlidingView,
    TokenRefreshView,
    TokenVerifyView,
)

from django_mfa_enroll.admin import MFAUserAdminMixin, use_mfa_login
from django_mfa_enroll.authentication import APIKeyAuthentication, JWTAuthentication
from django_mfa_enroll.permissions import IsMFAVerified, RecentLogin, mfa_within

use_mfa_login(admin.site)

# A site's own UserAdmin, with the app's mixin (for the default and the UUID user alike).
if admin.site.is_registered(get_user_model()):
    admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class SiteUserAdmin(MFAUserAdminMixin, UserAdmin):
    pass


class WhoAmI(APIView):
    """A site's own DRF view behind Basic, session and JWT authentication."""

    authentication_classes = [BasicAuthentication, SessionAuthentication, JWTAuthentication]
    permission_classes = [IsAuthenticated]
    schema = None  # a test fixture, not part of the app's API

    def get(self, request):
        return Response({"user": str(request.user.pk)})


class KeyOrToken(WhoAmI):
    """A site's own API with the app's API keys beside JWT (its DEFAULT_AUTHENTICATION_CLASSES)."""

    authentication_classes = [APIKeyAuthentication, JWTAuthentication]


class KeySensitive(KeyOrToken):
    permission_classes = [IsMFAVerified]


class KeyStepUp(KeyOrToken):
    permission_classes = [mfa_within(300)]


class KeyRecent(KeyOrToken):
    permission_classes = [RecentLogin]


class Sensitive(WhoAmI):
    permission_classes = [IsMFAVerified]


class StepUp(WhoAmI):
    permission_classes = [mfa_within(300)]


@login_required
def members_page(request):
    """A site's plain Django page for logged-in users."""
    return HttpResponse(f"member {request.user.pk}")


async def async_page(request):
    """A site's async view: ``await request.auser()``."""
    user = await request.auser()
    return HttpResponse(f"user {user.pk}" if user.is_authenticated else "anonymous")


urlpatterns = [
    path("site/members/", members_page),
    path("site/async/", async_page),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/token/verify/", TokenVerifyView.as_view()),
    path("api/token/sliding/", TokenObtainSlidingView.as_view()),
    path("api/token/sliding/refresh/", TokenRefreshSlidingView.as_view()),
    path("site/whoami/", WhoAmI.as_view()),
    path("site/sensitive/", Sensitive.as_view()),
    path("site/step-up/", StepUp.as_view()),
    path("site/key/whoami/", KeyOrToken.as_view()),
    path("site/key/sensitive/", KeySensitive.as_view()),
    path("site/key/step-up/", KeyStepUp.as_view()),
    path("site/key/recent/", KeyRecent.as_view()),
    path("", include("django_mfa_enroll.urls")),
]
