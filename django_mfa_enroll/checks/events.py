"""System checks on the security history: where events are written, what is mailed."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register

from ..conf import mfa_settings

E012 = "django_mfa_enroll.E012"


@register(Tags.database)
def check_events_beside_secrets(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Events are written in the transaction of the change they record: in its database."""
    from django.db import router

    from ..models import Event, Secret

    if router.db_for_write(Event) == router.db_for_write(Secret):
        return []
    return [
        Error(
            "A database router sends django_mfa_enroll's Event and Secret to different "
            "databases: an event would commit without the change it records (and its mail "
            "go out for a change rolled back).",
            hint="Route every model of django_mfa_enroll to one database.",
            id=E012,
        )
    ]


W006 = "django_mfa_enroll.W006"


@register(Tags.security)
def check_notify(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """NOTIFY names event types; a typo would silently mail nothing."""
    from ..models import Event

    unknown = sorted(set(mfa_settings.NOTIFY) - set(Event.Type.values))
    if not unknown:
        return []
    return [
        Warning(
            f"MFA_ENROLL['NOTIFY'] names {unknown}, which are no security event types: no "
            "mail goes out for them.",
            hint=f"Use some of {sorted(Event.Type.values)}.",
            id=W006,
        )
    ]
