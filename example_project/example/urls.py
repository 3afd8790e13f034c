from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from pages.api import Me

from django_mfa_enroll.admin import use_mfa_login

use_mfa_login(admin.site)  # the admin login asks MFA users for their code

urlpatterns = [
    path("admin/", admin.site.urls),
    # The OpenAPI 3 schema of every endpoint, and a docs page that reads it.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The pages a person clicks through, a client of the API below. Under /site/ so they
    # take none of the API's paths; the app's URLconf leaves "/" free for a redirect.
    path("site/", include("pages.urls")),
    # The site's own API (a stand-in for yours): an API key, a token or a session.
    path("api/me", Me.as_view(), name="me"),
    path("", RedirectView.as_view(pattern_name="pages:signin"), name="home"),
    # runserver serves static files only with DEBUG on; the demo runs without it. A real
    # deployment serves collected files from its web server (or WhiteNoise) instead.
    re_path(rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.*)$", serve_static, {"insecure": True}),
    path("", include("django_mfa_enroll.urls")),
]
