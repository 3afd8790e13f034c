"""The admin door: a login form that asks MFA users for their code."""

from __future__ import annotations

from django.contrib import admin

from .forms import MFAAdminAuthenticationForm

LOGIN_TEMPLATE = "django_mfa_enroll/admin/login.html"


def use_mfa_login(site: admin.AdminSite = admin.site) -> None:
    """Give an admin site the login form with a code field. One line in urls.py::

    from django_mfa_enroll.admin import use_mfa_login
    use_mfa_login(admin.site)
    """
    site.login_form = MFAAdminAuthenticationForm
    site.login_template = LOGIN_TEMPLATE
