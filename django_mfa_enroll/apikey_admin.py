"""API keys in the admin: listed (prefix, description, dates; never a key or its hash), and
revoked by an action that goes through the service (its event, signal and log)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .admin_actions import confirm, has_perm, revoke_each
from .models import APIKey

REVOKE_QUESTION = _(
    "Revoke these API keys? Every client that sends one of them is refused from now on."
)


def revoke_keys_of(modeladmin: Any, request: HttpRequest, keys: list[APIKey]) -> None:
    """Revoke the keys as ``request.user``; say how many went."""
    revoke_each(
        modeladmin,
        request,
        keys,
        revoke=services.revoke_api_key,
        logged=_("Revoked API key %s"),
        done=lambda n: ngettext("Revoked %(n)d API key.", "Revoked %(n)d API keys.", n) % {"n": n},
    )


def confirm_and_revoke(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet, keys: list[APIKey]
) -> HttpResponse | None:
    page = confirm(
        modeladmin,
        request,
        queryset,
        action="revoke_api_keys",
        title=_("Revoke API keys"),
        question=REVOKE_QUESTION,
        objects=keys,
    )
    if page is None:
        revoke_keys_of(modeladmin, request, keys)
    return page


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "description", "created_at", "last_used_at", "expires_at"]
    list_filter = ["created_at", "last_used_at"]
    search_fields = ["prefix", "description"]
    fields = readonly_fields = (
        "user",
        "prefix",
        "description",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
    )
    list_select_related = ["user"]
    actions = ["revoke_api_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by their owners, and shown to them alone

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Revoke API keys" does it, with its event, signal and log

    def has_revoke_api_keys_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "revoke_api_keys")

    @admin.action(description=_("Revoke API keys"), permissions=["revoke_api_keys"])
    def revoke_api_keys(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return confirm_and_revoke(self, request, queryset, list(queryset.select_related("user")))
