from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MFAEnrollConfig(AppConfig):
    name = "django_mfa_enroll"
    verbose_name = _("Multi-factor authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401  (registers the system checks)
        from .backends import remember_amr_in_session

        user_logged_in.connect(remember_amr_in_session, dispatch_uid="django_mfa_enroll.amr")
