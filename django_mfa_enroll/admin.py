"""The admin door: see secrets (never their keys), reset, revoke codes, unlock; MFA login.

Every change goes through the services. Each action asks for confirmation, needs a
permission (superusers have them all), writes an admin LogEntry and sends a signal.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .claims import SESSION_AUTH_TIME
from .forms import MFAAdminAuthenticationForm
from .models import Secret

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
CONFIRM_TEMPLATE = "django_mfa_enroll/admin/confirm_action.html"
RESET_QUESTION = _(
    "Remove the MFA secret and backup codes of these users? They will log in with their "
    "password alone until they enroll again, and their refresh tokens end."
)


def use_mfa_login(site: admin.AdminSite = admin.site) -> None:
    """Give an admin site the login form with a code field. One line in urls.py::

    from django_mfa_enroll.admin import use_mfa_login
    use_mfa_login(admin.site)
    """
    site.login_form = MFAAdminAuthenticationForm
    site.login_template = LOGIN_TEMPLATE


def _has_perm(request: HttpRequest, codename: str) -> bool:
    return request.user.has_perm(f"{Secret._meta.app_label}.{codename}")


def _confirm(
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


def _reset_users(modeladmin: admin.ModelAdmin, request: HttpRequest, users: list[Any]) -> None:
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
    fields = tuple(SHOWN_FIELDS)
    readonly_fields = tuple(SHOWN_FIELDS)
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # secrets are made by their owners

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing here is edited by hand; the actions change state

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Reset MFA" removes a secret, with its log, signal and token revocation

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return _has_perm(request, "reset_mfa")

    def has_revoke_backup_codes_permission(self, request: HttpRequest) -> bool:
        return _has_perm(request, "revoke_backup_codes")

    def has_unlock_mfa_permission(self, request: HttpRequest) -> bool:
        return _has_perm(request, "unlock_mfa")

    @admin.action(
        description=_("Reset MFA of the selected secrets' users"), permissions=["reset_mfa"]
    )
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        secrets = list(queryset.select_related("user"))
        page = _confirm(
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
        _reset_users(self, request, [secret.user for secret in secrets])
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
        page = _confirm(
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


class MFAStatusFilter(admin.SimpleListFilter):
    """Filter users by MFA: enrolled, pending, none."""

    title = _("MFA")
    parameter_name = "mfa"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("enrolled", _("Enrolled")), ("pending", _("Pending")), ("none", _("Not enrolled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        status = {"enrolled": Secret.Status.ACTIVE, "pending": Secret.Status.PENDING}
        value = self.value() or ""
        if value in status:
            return queryset.filter(mfa_secrets__status=status[value])
        if value == "none":
            return queryset.exclude(mfa_secrets__status=Secret.Status.ACTIVE)
        return queryset


class MFAUserAdminMixin:
    """Add to your own UserAdmin: an "MFA" column and filter, and the reset action.

    ::

        @admin.register(User)
        class UserAdmin(MFAUserAdminMixin, auth_admin.UserAdmin):
            pass
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Added to the site's own actions; Django shows it to holders of reset_mfa only.
        actions = list(self.actions or [])  # type: ignore[has-type]
        if "reset_mfa" not in actions:
            self.actions = [*actions, "reset_mfa"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        active = Secret.objects.filter(user=OuterRef("pk"), status=Secret.Status.ACTIVE)
        return super().get_queryset(request).annotate(_mfa_enrolled=Exists(active))  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return [*super().get_list_display(request), "mfa_enrolled"]  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [*super().get_list_filter(request), MFAStatusFilter]  # type: ignore[misc]

    @admin.display(description=_("MFA"), boolean=True, ordering="_mfa_enrolled")
    def mfa_enrolled(self, obj: Any) -> bool:
        return bool(getattr(obj, "_mfa_enrolled", False))

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return _has_perm(request, "reset_mfa")

    def response_action(
        self, request: HttpRequest, queryset: QuerySet, *args: Any, **kw: Any
    ) -> Any:
        with services.origin(request):
            return super().response_action(request, queryset, *args, **kw)  # type: ignore[misc]

    @admin.action(description=_("Reset MFA"), permissions=["reset_mfa"])
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        users = list(queryset)
        page = _confirm(
            self,  # type: ignore[arg-type]
            request,
            queryset,
            action="reset_mfa",
            title=_("Reset MFA"),
            question=RESET_QUESTION,
            objects=users,
        )
        if page is not None:
            return page
        _reset_users(self, request, users)  # type: ignore[arg-type]
        return None
