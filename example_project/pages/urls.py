"""The example pages, mounted under ``/site/`` so no path of the app's API is taken."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "pages"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="pages:signin"), name="index"),
    path("signin/", views.PageView.as_view(template_name="pages/signin.html"), name="signin"),
    path("security/", views.PageView.as_view(template_name="pages/security.html"), name="security"),
]
