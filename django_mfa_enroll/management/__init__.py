"""The operator's door: management commands, and what they share."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def find_user(value: str) -> Any:
    """Return the user named by ``value``: their USERNAME_FIELD value, else their pk."""
    model = get_user_model()
    manager = model._default_manager
    user = manager.filter(**{model.USERNAME_FIELD: value}).first()
    if user is not None:
        return user
    try:
        pk = model._meta.pk.to_python(value)
        user = manager.filter(pk=pk).first() if pk is not None else None
    except (ValidationError, ValueError, TypeError, OverflowError):
        user = None
    if user is None:
        raise CommandError(f"No user with {model.USERNAME_FIELD} or id {value!r}.")
    return user
