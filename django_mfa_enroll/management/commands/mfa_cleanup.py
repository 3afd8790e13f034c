"""Delete pending MFA secrets that were never enrolled."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import services
from ...conf import mfa_settings


class Command(BaseCommand):
    help = "Delete pending MFA secrets older than MFA_ENROLL['PENDING_MAX_AGE'] seconds."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = services.delete_stale_pending()
        self.stdout.write(
            f"Deleted {deleted} pending secrets older than {mfa_settings.PENDING_MAX_AGE} s."
        )
