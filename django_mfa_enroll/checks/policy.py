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


E015 = "django_mfa_enroll.E015"


@register(Tags.security)
def check_trust_and_grace(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``TRUST_DAYS`` (None or 1 to 3650), ``TRUST_MAX_DEVICES`` (1 or more) and
    ``REQUIRED_GRACE`` (0 or more) are numbers a login can use."""
    problems = []
    for name, low, high in (
        ("TRUST_DAYS", 1, 3650),
        ("TRUST_MAX_DEVICES", 1, None),
        ("REQUIRED_GRACE", 0, None),
    ):
        try:
            value = getattr(mfa_settings, name)
        except (TypeError, ValueError):
            problems.append(f"{name} must be a whole number")
            continue
        if value is not None and not (low <= value and (high is None or value <= high)):
            bound = f"{low} to {high}" if high is not None else f"{low} or more"
            problems.append(f"{name} is {value}; use {bound}")
    return [Error(f"MFA_ENROLL: {problem}.", id=E015) for problem in problems]
