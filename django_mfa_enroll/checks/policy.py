"""System check on the MFA policy: ``REQUIRED`` names a rule that exists."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from ..conf import mfa_settings

E014 = "django_mfa_enroll.E014"


@register(Tags.security)
def check_required(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``REQUIRED`` is None, ``"staff"``, ``"all"``, or the dotted path of a callable: a
    typo must not turn the policy off, nor fail every login at run time."""
    required = mfa_settings.REQUIRED
    if required is None or required in ("staff", "all"):
        return []
    try:
        rule = import_string(required)
    except ImportError:
        rule = None
    if callable(rule):
        return []
    return [
        Error(
            f"MFA_ENROLL['REQUIRED'] is {required!r}: neither 'staff', 'all' nor the dotted "
            "path of a function user -> bool.",
            hint="Set it to None, 'staff', 'all', or e.g. 'myapp.policy.must_use_mfa'.",
            id=E014,
        )
    ]
