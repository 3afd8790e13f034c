"""Show who has MFA: enrolled, pending, locked, with their API keys; or one user's state."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count

from ... import services
from ...models import APIKey, Secret
from .. import find_user


class Command(BaseCommand):
    help = "Show MFA state: every user with a secret, or one user given by username or id."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("user", nargs="?", help="username (USERNAME_FIELD) or primary key")

    def handle(self, *args: Any, user: str | None = None, **options: Any) -> None:
        secrets = Secret.objects.select_related("user").order_by("created_at")
        keys = APIKey.objects.all()
        if user is not None:
            who = find_user(user)
            secrets, keys = secrets.filter(user=who), keys.filter(user=who)
            if not secrets.exists():
                self.stdout.write(f"{who.get_username()}: no MFA, API keys {keys.count()}")
                return
        counts = dict(keys.values_list("user").annotate(n=Count("pk")).values_list("user", "n"))
        rows = list(services.secrets_of_all(secrets))
        for secret in rows:
            state = secret.status
            if services.is_locked(secret):
                state += f", locked until {secret.locked_until:%Y-%m-%d %H:%M:%S %Z}"
            elif secret.failure_count:
                state += f", {secret.failure_count} failures in a row"
            self.stdout.write(
                f"{secret.user.get_username()}\t{state}\t"
                f"enrolled {_when(secret.enrolled_at)}\tlast used {_when(secret.last_used_at)}\t"
                f"backup codes left {secret.backup_codes_remaining}\t"
                f"API keys {counts.get(secret.user_id, 0)}"
            )
        if user is None:
            active = sum(s.status == Secret.Status.ACTIVE for s in rows)
            locked = sum(services.is_locked(s) for s in rows)
            self.stdout.write(
                f"{active} enrolled, {len(rows) - active} pending, {locked} locked; "
                f"{keys.count()} API keys"
            )


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"
