"""The security history in the admin: read-only, on a secret's page, on a user's page (with
``MFAUserAdminMixin``) and as a list of its own. Never a key or code: events hold none."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Event

#: How many of the newest events a secret's or a user's page shows.
HISTORY_ROWS = 20


def may_view_events(request: HttpRequest) -> bool:
    """Whether the viewer may see security events (they hold addresses): ``view_event``."""
    return bool(request.user.has_perm(f"{Event._meta.app_label}.view_event"))


def history_table(user: Any) -> SafeString:
    """The user's newest events as a small read-only table (one query). Show it only to a
    viewer who ``may_view_events``."""
    events = list(services.events_of(user)[:HISTORY_ROWS])
    if not events:
        return format_html("<p>{}</p>", _("No security events yet."))
    rows = format_html_join(
        "\n",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{event.at:%Y-%m-%d %H:%M:%S}",
                event.get_type_display(),
                event.agent,
                event.ip or "",
                event.actor,
            )
            for event in events
        ),
    )
    head = format_html(
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        _("at"),
        _("type"),
        _("device"),
        _("IP address"),
        _("by"),
    )
    return format_html("<table><thead>{}</thead><tbody>{}</tbody></table>", head, rows)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Every user's security history, to read and filter; nothing here is changed by hand."""

    list_display = ["at", "user", "type", "agent", "ip", "actor"]
    list_filter = ["type"]
    list_select_related = ["user"]
    fields = ("user", "type", "at", "secret_id", "actor", "ip", "agent", "detail")
    readonly_fields = fields
    date_hierarchy = "at"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [f"user__{get_user_model().USERNAME_FIELD}"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # append-only: the services write events

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # mfa_cleanup ends them after EVENT_RETENTION_DAYS; a user's, with them
