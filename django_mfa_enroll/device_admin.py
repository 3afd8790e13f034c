"""Trusted devices in the admin: listed (never a token or its hash), and revoked by an
action that goes through the service (its event and log): their next login asks for a
second factor again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .admin_actions import confirm, has_perm, revoke_each
from .models import TrustedDevice


@admin.register(TrustedDevice)
class TrustedDeviceAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "agent", "created_at", "last_used_at", "expires_at"]
    list_filter = ["created_at", "last_used_at"]
    search_fields = ["prefix", "agent"]
    fields = readonly_fields = (
        "user",
        "prefix",
        "agent",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_select_related = ["user"]
    actions = ["revoke_trusted_devices"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a device is trusted by its user, after a second factor

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Revoke trusted devices" does it, with its event and log

    def has_revoke_trusted_devices_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "revoke_trusted_devices")

    @admin.action(description=_("Revoke trusted devices"), permissions=["revoke_trusted_devices"])
    def revoke_trusted_devices(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        devices = list(queryset.select_related("user"))
        page = confirm(
            self,
            request,
            queryset,
            action="revoke_trusted_devices",
            title=_("Revoke trusted devices"),
            question=_("Revoke these devices? Their next login asks for a second factor."),
            objects=devices,
        )
        if page is None:
            revoke_each(
                self,
                request,
                devices,
                revoke=services.revoke_device,
                logged=_("Revoked trusted device %s"),
                done=lambda n: (
                    ngettext("Revoked %(n)d trusted device.", "Revoked %(n)d trusted devices.", n)
                    % {"n": n}
                ),
            )
        return page
