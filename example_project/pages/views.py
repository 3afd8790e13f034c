"""Serve the pages; the browser does the rest through the app's JSON API.

The pages hold no Django session: they keep the API's access token in sessionStorage and
send it as ``Authorization: jwt <token>``, like any other client of the API.
"""

from django.urls import reverse
from django.views.generic import TemplateView

from django_mfa_enroll.conf import mfa_settings

API = "django_mfa_enroll"

# No inline script, no other origin: everything the pages run or show is served here.
# ``blob:`` is the QR code, fetched with the Authorization header and shown from memory.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def urls() -> dict[str, str]:
    """Where the app's endpoints are, wherever the site includes its URLconf, and the pages."""
    return {
        "password": reverse(f"{API}:auth-password"),
        "totp": reverse(f"{API}:auth-totp"),
        "refresh": reverse(f"{API}:auth-refresh"),
        "secrets": reverse(f"{API}:secret-list", kwargs={"user_id": "me"}),
        "events": reverse(f"{API}:events", kwargs={"user_id": "me"}),
        "devices": reverse(f"{API}:device-list", kwargs={"user_id": "me"}),
        "me": reverse("me"),
        "signinPage": reverse("pages:signin"),
        "securityPage": reverse("pages:security"),
    }


class PageView(TemplateView):
    """A page of the example site, told the URLs its script needs."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["urls"] = urls()
        context["trust_days"] = mfa_settings.TRUST_DAYS  # "Trust this browser for N days"
        return context

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
