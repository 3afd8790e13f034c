"""E-mail to users about their security events (``NOTIFY``): after the commit, through
Django's mail, with text and HTML templates a site can override, in the language of the
request that caused them. A mail that cannot be sent is logged, never raised: the change
it tells of has happened.

Templates, the first that exists of: ``django_mfa_enroll/email/<type>.txt`` then
``event.txt`` (and ``.html``, ``_subject.txt`` alike).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import router, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ..models import Event

logger = logging.getLogger("django_mfa_enroll")

#: What each event says to its user, in the mail.
SENTENCES: dict[Any, Any] = {
    Event.Type.ENROLLED: _("Two-step verification was turned on for your account."),
    Event.Type.METHOD_ADDED: _("A second factor was added to your account."),
    Event.Type.METHOD_REMOVED: _("A second factor was removed from your account."),
    Event.Type.CODES_REGENERATED: _(
        "New backup codes were made for your account; the old ones no longer work."
    ),
    Event.Type.CODES_REVOKED: _("An administrator revoked the backup codes of your account."),
    Event.Type.BACKUP_CODE_USED: _("A backup code was used to sign in to your account."),
    Event.Type.LOGIN: _("Someone signed in to your account with a second factor."),
    Event.Type.WRONG_CODE: _("A wrong code was entered for your account."),
    Event.Type.LOCKED: _(
        "Too many wrong codes were entered for your account: its second factor is locked "
        "for a while."
    ),
    Event.Type.UNLOCKED: _("An administrator unlocked the second factor of your account."),
    Event.Type.RESET: _(
        "An administrator reset the two-step verification of your account: your "
        "authenticator app and backup codes no longer work for it. Set it up again when you "
        "next sign in."
    ),
    Event.Type.REAUTHENTICATED: _("You signed in again to your account."),
    Event.Type.DEVICE_ADDED: _("A device was trusted to sign in to your account."),
    Event.Type.DEVICE_REVOKED: _("A trusted device of your account was revoked."),
    Event.Type.PASSWORD_CHANGED: _(
        "The password of your account was changed, and every device signed in to it was "
        "signed out. API keys keep working: revoke any you do not know. If you did not do "
        "this, reset your password now."
    ),
}


def notify_after_commit(event: Event) -> None:
    """Mail the event to its user once the transaction commits (``NOTIFY`` names it)."""
    language = translation.get_language()
    transaction.on_commit(
        lambda: send_event_mail(event, language), using=router.db_for_write(Event)
    )


def send_event_mail(event: Event, language: str | None = None) -> bool:
    """Send the event's mail now; return whether it went. Users without an address are
    skipped; a failing mail backend (or template) is logged, never raised."""
    try:
        user = event.user
        field = user.get_email_field_name() if hasattr(user, "get_email_field_name") else ""
        address = getattr(user, field, "") if field else ""
        if not address:
            return False
        with translation.override(language):
            context = {
                "event": event,
                "user": user,
                "what": SENTENCES.get(event.type, ""),
                # Where an administrator was is the admin's to know, not the user's.
                "origin": None if event.actor else event.ip,
                "agent": "" if event.actor else event.agent,
                "language": language or settings.LANGUAGE_CODE,
            }
            subject = " ".join(_render(event, "_subject.txt", context).split())
            text = _render(event, ".txt", context)
            html = _render(event, ".html", context)
        send_mail(subject, text, None, [address], html_message=html)
    except Exception as exc:  # noqa: BLE001 - a mail outage must not undo or fail the change
        logger.warning(
            "MFA notice not sent: user=%s event=%s error=%s",
            event.user_id,
            event.type,
            type(exc).__name__,
        )
        return False
    return True


def _render(event: Event, suffix: str, context: dict[str, Any]) -> str:
    names = [
        f"django_mfa_enroll/email/{event.type}{suffix}",
        f"django_mfa_enroll/email/event{suffix}",
    ]
    return render_to_string(names, context)
