"""The admin door: see secrets (never their keys), reset, revoke codes, unlock; MFA login.

Every change goes through the services. Each action asks for confirmation, needs a
permission (superusers have them all), writes an admin LogEntry and sends a signal.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from . import (
    apikey_admin,  # noqa: F401 - registers the API keys' admin
    device_admin,  # noqa: F401 - registers the trusted devices' admin
    services,
)
from .admin_actions import RESET_QUESTION, confirm, has_perm, reset_users
from .forms import MFAAdminAuthenticationForm
from .history_admin import EventAdmin, history_table, may_view_events
from .models import Secret
from .user_admin import MFAStatusFilter, MFAUserAdminMixin

__all__ = [
    "EventAdmin",
    "MFAStatusFilter",
    "MFAUserAdminMixin",
    "SecretAdmin",
    "use_mfa_login",
]

#: What the admin shows of a secret: its state, never its key or code hashes.
SHOWN_FIELDS = [
    "user",
    "type",
    "status",
    "description",
    "created_at",
    "enrolled_at",
    "last_used_at",
    "backup_codes_remaining",
    "failure_count",
    "locked_until",
]

LOGIN_TEMPLATE = "django_mfa_enroll/admin/login.html"


def use_mfa_login(site: admin.AdminSite = admin.site) -> None:
    """Give an admin site the login form with a code field. One line in urls.py::

    from django_mfa_enroll.admin import use_mfa_login
    use_mfa_login(admin.site)
    """
    site.login_form = MFAAdminAuthenticationForm
    site.login_template = LOGIN_TEMPLATE


class LockedFilter(admin.SimpleListFilter):
    title = _("locked")
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        locked = services.locked_filter()
        if self.value() == "yes":
            return queryset.filter(locked)
        if self.value() == "no":
            return queryset.exclude(locked)
        return queryset


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    """Secrets as an admin sees them: state and dates, never key material or code hashes."""

    list_display = [
        "user",
        "type",
        "status",
        "enrolled_at",
        "last_used_at",
        "backup_codes_remaining",
        "locked",
    ]
    list_filter = ["type", "status", LockedFilter]
    list_select_related = ["user"]
    fields = readonly_fields = (*SHOWN_FIELDS, "history")
    actions = ["reset_mfa", "revoke_backup_codes", "unlock"]
    ordering = ["-created_at"]

    #: The only lookups the changelist's query string may use: its own filters. Any other
    #: (say ``encrypted_key__startswith=``) would be an oracle on what the admin never shows.
    ALLOWED_LOOKUPS = frozenset({"type", "type__exact", "status", "status__exact", "locked"})

    def lookup_allowed(self, lookup: str, value: Any, request: Any = None) -> bool:
        return lookup in self.ALLOWED_LOOKUPS

    def response_action(
        self, request: HttpRequest, queryset: QuerySet, *args: Any, **kw: Any
    ) -> Any:
        # The events the actions write say where the admin was.
        with services.origin(request):
            return super().response_action(request, queryset, *args, **kw)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        user_model = get_user_model()
        names = [f"user__{user_model.USERNAME_FIELD}"]
        email = getattr(user_model, "EMAIL_FIELD", None)
        if email and email != user_model.USERNAME_FIELD:
            names.append(f"user__{email}")
        return names

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return services.secrets_of_all(super().get_queryset(request))

    @admin.display(description=_("backup codes remaining"), ordering="backup_codes_remaining")
    def backup_codes_remaining(self, obj: Secret) -> int:
        return obj.backup_codes_remaining

    @admin.display(description=_("locked"), boolean=True)
    def locked(self, obj: Secret) -> bool:
        return services.is_locked(obj)

    @admin.display(description=_("security history of the user"))
    def history(self, obj: Secret) -> Any:
        return history_table(obj.user)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        shown = list(super().get_fields(request, obj))
        return shown if may_view_events(request) else [f for f in shown if f != "history"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # secrets are made by their owners

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing here is edited by hand; the actions change state

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Reset MFA" removes a secret, with its log, signal and token revocation

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "reset_mfa")

    def has_revoke_backup_codes_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "revoke_backup_codes")

    def has_unlock_mfa_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "unlock_mfa")

    @admin.action(
        description=_("Reset MFA of the selected secrets' users"), permissions=["reset_mfa"]
    )
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        secrets = list(queryset.select_related("user"))
        page = confirm(
            self,
            request,
            queryset,
            action="reset_mfa",
            title=_("Reset MFA"),
            question=RESET_QUESTION,
            objects=[secret.user for secret in secrets],
        )
        if page is not None:
            return page
        reset_users(self, request, [secret.user for secret in secrets])
        return None

    def _act_on_secrets(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        title: Any,
        question: Any,
        apply: Any,
        logged: Any,
        done: Any,
    ) -> HttpResponse | None:
        """Confirm, then apply a service to each secret, log it, and tell the admin."""
        secrets = list(queryset.select_related("user"))
        page = confirm(
            self, request, queryset, action=action, title=title, question=question, objects=secrets
        )
        if page is not None:
            return page
        for secret in secrets:
            apply(secret, by=request.user)
            self.log_change(request, secret, str(logged))
        self.message_user(request, done, messages.SUCCESS)
        return None

    @admin.action(description=_("Revoke backup codes"), permissions=["revoke_backup_codes"])
    def revoke_backup_codes(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._act_on_secrets(
            request,
            queryset,
            action="revoke_backup_codes",
            title=_("Revoke backup codes"),
            question=_("Delete every backup code of these secrets? The MFA secrets stay."),
            apply=services.revoke_backup_codes,
            logged=_("Revoked backup codes"),
            done=_("Backup codes revoked."),
        )

    @admin.action(description=_("Unlock after too many failures"), permissions=["unlock_mfa"])
    def unlock(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._act_on_secrets(
            request,
            queryset,
            action="unlock",
            title=_("Unlock MFA"),
            question=_("Clear the failure count and lock of these secrets?"),
            apply=services.unlock,
            logged=_("Unlocked MFA"),
            done=_("Unlocked."),
        )
