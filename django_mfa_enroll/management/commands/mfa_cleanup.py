"""Delete pending MFA secrets that were never enrolled, and old security events."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import services
from ...conf import mfa_settings


class Command(BaseCommand):
    help = (
        "Delete pending MFA secrets older than MFA_ENROLL['PENDING_MAX_AGE'] seconds, and "
        "security events older than MFA_ENROLL['EVENT_RETENTION_DAYS'] days."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="events per DELETE")

    def handle(self, *args: Any, batch_size: int = 1000, **options: Any) -> None:
        deleted = services.delete_stale_pending()
        self.stdout.write(
            f"Deleted {deleted} pending secrets older than {mfa_settings.PENDING_MAX_AGE} s."
        )
        days = mfa_settings.EVENT_RETENTION_DAYS
        if days is None:
            self.stdout.write("Kept every security event (EVENT_RETENTION_DAYS is None).")
            return
        events = services.delete_old_events(batch_size=max(1, batch_size))
        self.stdout.write(f"Deleted {events} security events older than {days} days.")
