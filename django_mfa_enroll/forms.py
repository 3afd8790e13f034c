"""Login forms with a field for the second factor, for the admin and for a site's own views.

The order of the checks is the point (API.md, "Every credential follows..."): the password
and the account's right to this site (active; staff, for the admin) come first, the code
last, so a refused login never spends a code; and every refusal reads the same, so the
form tells an attacker nothing of which part was right. Attempts count per IP in the same
counters as ``/auth/*`` (``ratelimit``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.debug import SafeExceptionReporterFilter

from . import ratelimit, services
from .claims import PASSWORD_STAGE, stamp_login

if TYPE_CHECKING:
    _FormBase = AuthenticationForm
else:
    _FormBase = forms.Form


class MFACodeFormMixin(_FormBase):
    """Adds ``mfa_code`` (a TOTP code or a backup code) to a login form."""

    mfa_code = forms.CharField(
        label=_("Authentication code"),
        required=False,
        max_length=64,
        strip=True,
        help_text=_("From your authenticator app, or a backup code. Empty if you have no MFA."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off"}),
    )

    mfa_error_messages = {
        "invalid_login": _(
            "Please enter a correct %(username)s, password and authentication code. "
            "Note that the fields may be case-sensitive."
        ),
        "locked": _("Too many wrong codes; try again later."),
        "setup_required": _(
            "Your account must use two-step verification, which is not set up yet. Sign in "
            "to the site (not here) to set it up with an authenticator app, then sign in "
            "here with your code."
        ),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        code = self.cleaned_data.get("mfa_code") or None
        if username is not None and password:
            self._count_attempt()
            user = authenticate(
                self.request, username=username, password=password, mfa_stage=PASSWORD_STAGE
            )
            if user is None:
                raise self._refusal()
            try:
                self.confirm_login_allowed(user)  # active; for the admin, staff
            except forms.ValidationError:
                raise self._refusal() from None
            self.user_cache = self._second_factor(user, username, code)
        return self.cleaned_data

    def _second_factor(self, user: Any, username: str, code: str | None) -> Any:
        try:
            with services.origin(self.request):
                factor = services.complete_login(user, code)
        except services.Locked:
            # Said only after a right password: a wrong one never reaches the code.
            raise forms.ValidationError(self.mfa_error_messages["locked"], code="locked") from None
        except services.MFASetupRequired:
            # Also only after a right password, and for an account allowed here.
            raise forms.ValidationError(
                self.mfa_error_messages["setup_required"], code="mfa_setup_required"
            ) from None
        except services.MFAError:
            self._signal_failure(username)
            raise self._refusal() from None
        return stamp_login(
            user, factor.amr, int(factor.at.timestamp()), factor.secret_id, factor.setup_due
        )

    def _count_attempt(self) -> None:
        wait = ratelimit.login_wait(self.request) if self.request is not None else None
        if wait is not None:
            seconds = math.ceil(wait)
            raise forms.ValidationError(
                ngettext(
                    "Too many sign-in attempts from your network; try again in %(seconds)d second.",
                    "Too many sign-in attempts from your network; try again in %(seconds)d "
                    "seconds.",
                    seconds,
                )
                % {"seconds": seconds},
                code="throttled",
            )

    def _signal_failure(self, username: str) -> None:
        # A wrong second factor is a failed login, for whatever listens (lockout tools, logs),
        # with the password and the code masked as Django masks credentials.
        hidden = SafeExceptionReporterFilter.cleansed_substitute
        user_login_failed.send(
            sender=__name__,
            credentials={"username": username, "password": hidden, "mfa_token": hidden},
            request=self.request,
        )

    def _refusal(self) -> forms.ValidationError:
        # One message for a wrong password, an account not allowed here and a wrong code.
        return forms.ValidationError(
            self.mfa_error_messages["invalid_login"],
            code="invalid_login",
            params={"username": self.username_field.verbose_name},
        )


class MFAAuthenticationForm(MFACodeFormMixin, AuthenticationForm):
    """Django's AuthenticationForm with the code field, for a site's own login view."""


class MFAAdminAuthenticationForm(MFACodeFormMixin, AdminAuthenticationForm):
    """The admin's login form with the code field (see ``admin.use_mfa_login``)."""
