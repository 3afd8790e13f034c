"""Prove the installed wheel carries its migrations, templates and translations."""

import django
from django.core.management import call_command

django.setup()
call_command("migrate", verbosity=0)
call_command("check", fail_level="WARNING")
call_command("makemigrations", "django_mfa_enroll", check=True, dry_run=True, verbosity=0)

from django.template.loader import get_template  # noqa: E402
from django.utils import translation  # noqa: E402

import django_mfa_enroll  # noqa: E402
from django_mfa_enroll import services  # noqa: E402

assert "site-packages" in django_mfa_enroll.__file__, django_mfa_enroll.__file__
for name in (
    "django_mfa_enroll/admin/login.html",
    "django_mfa_enroll/admin/confirm_action.html",
):
    get_template(name)
with translation.override("de"):
    assert str(services.InvalidCode.message) == "Der Code ist ungültig."
with translation.override("fr"):
    assert str(services.InvalidCode.message) == "Le code n’est pas valide."
print(f"wheel OK: {django_mfa_enroll.__file__}")
