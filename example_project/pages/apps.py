from django.apps import AppConfig


class PagesConfig(AppConfig):
    """Plain HTML pages that use the app's JSON API from the browser, as a site would."""

    name = "pages"
