"""The example site's URLs plus the floor endpoint at ``/bench/floor``."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", include(views.urlpatterns)),
    path("", include("example.urls")),
]
