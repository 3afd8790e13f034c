"""What the admin's actions share: the permission test, the confirmation page (with the
recent-login rule), and the reset of users' MFA."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .claims import SESSION_AUTH_TIME
from .models import Secret

CONFIRM_TEMPLATE = "django_mfa_enroll/admin/confirm_action.html"
RESET_QUESTION = _(
    "Remove the MFA secret and backup codes of these users? They will log in with their "
    "password alone until they enroll again, and their refresh tokens end."
)


def has_perm(request: HttpRequest, codename: str) -> bool:
    return request.user.has_perm(f"{Secret._meta.app_label}.{codename}")


def confirm(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: Any,
    question: Any,
    objects: list[Any],
) -> HttpResponse | None:
    """Return the confirmation page, or None once the admin has confirmed.

    Changing another user's factors needs a recent login (API.md, "Recent authentication"):
    an older admin session is sent back to the changelist with a message saying to log in
    again, and nothing changes.
    """
    try:
        services.check_recent(request.session.get(SESSION_AUTH_TIME))
    except services.ReauthenticationRequired as error:
        modeladmin.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
    if request.POST.get("confirm") == "yes":
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": objects,
        "queryset": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def reset_users(modeladmin: admin.ModelAdmin, request: HttpRequest, users: list[Any]) -> None:
    done = 0
    for user in users:
        if services.reset_mfa(user, by=request.user):
            done += 1
            modeladmin.log_change(request, user, str(_("Reset MFA")))
    modeladmin.message_user(
        request,
        ngettext("Reset MFA of %(n)d user.", "Reset MFA of %(n)d users.", done) % {"n": done},
        messages.SUCCESS,
    )


def revoke_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    rows: list[Any],
    *,
    revoke: Any,
    logged: Any,
    done: Any,
) -> None:
    """Revoke each row (an API key, a trusted device) through its service as
    ``request.user``, logged on its user as ``logged % prefix``; say ``done(n)``."""
    count = 0
    with services.origin(request):
        for row in rows:
            try:
                revoke(row.user, row.pk, by=request.user)
            except services.SecretNotFound:  # revoked meanwhile (DeviceNotFound is one)
                continue
            count += 1
            modeladmin.log_change(request, row.user, str(logged) % row.prefix)
    modeladmin.message_user(request, done(count), messages.SUCCESS)
