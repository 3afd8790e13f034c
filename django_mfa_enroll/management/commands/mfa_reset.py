"""Reset a user's MFA: their secret and backup codes go, and they may enroll again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import services
from .. import find_user


class Command(BaseCommand):
    help = "Remove a user's MFA secret and backup codes (asks first unless --yes)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("user", help="username (USERNAME_FIELD) or primary key")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, user: str, yes: bool = False, **options: Any) -> None:
        who = find_user(user)
        if not services.secrets_of(who).exists():
            self.stdout.write(f"{who.get_username()} has no MFA; nothing to reset.")
            return
        if not yes:
            if not self.stdin_is_tty():
                raise CommandError("Refusing to reset without confirmation: pass --yes.")
            answer = input(f"Reset MFA of {who.get_username()}? Type 'yes' to confirm: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Not reset.")
        services.reset_mfa(who, by="manage.py mfa_reset")
        self.stdout.write(self.style.SUCCESS(f"Reset MFA of {who.get_username()}."))

    def stdin_is_tty(self) -> bool:
        import sys

        return sys.stdin.isatty()
