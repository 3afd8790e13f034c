"""For a site's own UserAdmin: an "MFA" column and filter, the reset action, and the
user's security history on their page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_actions import RESET_QUESTION, confirm, has_perm, reset_users
from .apikey_admin import confirm_and_revoke
from .history_admin import history_table, may_view_events
from .models import APIKey, BackupCode, Event, MFAState, Secret


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
        added = [name for name in ("reset_mfa", "revoke_api_keys") if name not in actions]
        self.actions = [*actions, *added]

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

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is None or not may_view_events(request):
            return fieldsets
        return [*fieldsets, (_("Security history"), {"fields": ["mfa_history"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return readonly if obj is None else [*readonly, "mfa_history"]

    @admin.display(description=_("newest events"))
    def mfa_history(self, obj: Any) -> Any:
        return history_table(obj)

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "reset_mfa")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The MFA rows of a deleted user go with it (the database cascades them), though no
        # one deletes them by hand in their own admins: they never hold up deleting a user.
        deleted, counts, needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        models = (Secret, BackupCode, Event, MFAState, APIKey)
        ours = {str(model._meta.verbose_name) for model in models}
        return deleted, counts, {name for name in needed if str(name) not in ours}, protected

    def response_action(
        self, request: HttpRequest, queryset: QuerySet, *args: Any, **kw: Any
    ) -> Any:
        with services.origin(request):
            return super().response_action(request, queryset, *args, **kw)  # type: ignore[misc]

    @admin.action(description=_("Reset MFA"), permissions=["reset_mfa"])
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        users = list(queryset)
        page = confirm(
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
        reset_users(self, request, users)  # type: ignore[arg-type]
        return None

    def has_revoke_api_keys_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "revoke_api_keys")

    @admin.action(description=_("Revoke API keys"), permissions=["revoke_api_keys"])
    def revoke_api_keys(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        keys = list(APIKey.objects.filter(user__in=queryset).select_related("user"))
        return confirm_and_revoke(self, request, queryset, keys)
