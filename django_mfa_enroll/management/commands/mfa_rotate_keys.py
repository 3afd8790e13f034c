"""Re-encrypt every MFA secret under the first key of ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import crypto, services


class Command(BaseCommand):
    help = (
        "Re-encrypt every MFA secret under the first key of MFA_ENROLL['ENCRYPTION_KEYS']. "
        "Safe to interrupt and run again; afterwards the old keys can be removed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, batch_size: int = 200, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        try:
            rotated, current = services.rotate_encryption(batch_size=batch_size)
        except crypto.InvalidToken:
            raise CommandError(
                "A secret is encrypted under none of the configured keys; add its key back "
                "to ENCRYPTION_KEYS (or SECRET_KEY_FALLBACKS) and run again."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {rotated} secrets; {current} were already current.")
        )
