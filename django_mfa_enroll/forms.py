"""Login forms with a field for the second factor, for the admin and for a site's own views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from . import services

if TYPE_CHECKING:
    _FormBase = AuthenticationForm
else:
    _FormBase = forms.Form


class MFACodeFormMixin(_FormBase):
    """Adds ``mfa_code`` (a TOTP code or a backup code), passed to authenticate() as
    ``mfa_token``: a name Django masks in the credentials of ``user_login_failed``."""

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
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        code = self.cleaned_data.get("mfa_code") or None
        if username is not None and password:
            self.user_cache = authenticate(
                self.request, username=username, password=password, mfa_token=code
            )
            if self.user_cache is None:
                raise self._refusal()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def _refusal(self) -> forms.ValidationError:
        # One message for a wrong password and a wrong code: the form must not tell an
        # attacker which of the two was right. A lock is said (only a right password gets it).
        if isinstance(getattr(self.request, "mfa_error", None), services.Locked):
            return forms.ValidationError(self.mfa_error_messages["locked"], code="locked")
        return forms.ValidationError(
            self.mfa_error_messages["invalid_login"],
            code="invalid_login",
            params={"username": self.username_field.verbose_name},
        )


class MFAAuthenticationForm(MFACodeFormMixin, AuthenticationForm):
    """Django's AuthenticationForm with the code field, for a site's own login view."""


class MFAAdminAuthenticationForm(MFACodeFormMixin, AdminAuthenticationForm):
    """The admin's login form with the code field (see ``admin.use_mfa_login``)."""
