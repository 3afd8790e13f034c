"""Finding users and secrets: who a path names, a user's secrets, the active one.

Reads only, but for ``locked_secret``, which takes the row lock a flow then holds.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, connections, router
from django.db.models import Count, Q, QuerySet

from ..models import Secret
from .errors import SecretNotFound, UserNotFound

#: The path's word for the requesting user, in place of their primary key.
ME = "me"


def owner_named(
    requester: Any,
    user_id: str,
    *,
    secret_id: Any = None,
    staff_permission: str | None = None,
) -> Any:
    """Return the user a path names: ``me`` or the requester's key, or for staff holding
    ``staff_permission`` (a codename of this app), another user. With ``secret_id``, that
    secret must be theirs.

    Anything else raises UserNotFound or SecretNotFound, never a refusal: an answer must not
    tell whether another account exists.
    """
    owner = _user_named(requester, user_id, staff_permission)
    if secret_id is not None:
        get_secret(owner, secret_id)
    return owner


def _user_named(requester: Any, user_id: str, staff_permission: str | None) -> Any:
    if user_id == ME:
        return requester
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except (DjangoValidationError, ValueError, TypeError, OverflowError):
        pk = None
    if pk is not None and str(pk) == str(requester.pk):
        return requester
    other = None
    if (
        pk is not None
        and staff_permission
        and getattr(requester, "is_staff", False)
        and requester.has_perm(f"{Secret._meta.app_label}.{staff_permission}")
    ):
        try:
            other = model._default_manager.filter(pk=pk).first()
        except (DjangoValidationError, ValueError, TypeError, OverflowError, DataError):
            other = None
    if other is None:
        raise UserNotFound
    return other


def secrets_of(user: Any) -> QuerySet[Secret]:
    """Return the user's secrets with ``backup_codes_remaining`` annotated (one query)."""
    return secrets_of_all(Secret.objects.filter(user=user))


def secrets_of_all(secrets: QuerySet[Secret]) -> QuerySet[Secret]:
    """Annotate secrets with ``backup_codes_remaining``, their unused backup codes."""
    return secrets.annotate(
        backup_codes_remaining=Count("backup_codes", filter=Q(backup_codes__used_at__isnull=True))
    )


def get_secret(user: Any, secret_id: Any) -> Secret:
    """Return one of the user's secrets, annotated as in ``secrets_of``."""
    try:
        return secrets_of(user).get(pk=as_uuid(secret_id))
    except Secret.DoesNotExist:
        raise SecretNotFound from None


def as_uuid(value: Any) -> uuid.UUID:
    """The value as a secret's key; SecretNotFound if it cannot be one."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise SecretNotFound from None


def lock_users(user_ids: Any) -> None:
    """Lock the users' rows until the transaction ends, in primary-key order.

    The first lock of every flow that changes a user's secrets: one order everywhere (the
    user, then their secrets), so two flows never wait on each other in a circle. (Without
    it, a create that held the user and wanted the pending secret deadlocked with an
    enroll that held the secret and, at its second UPDATE of the row, PostgreSQL's foreign
    key check wanted the user.) FOR NO KEY UPDATE where the database has it: it serialises
    these flows without blocking inserts elsewhere of rows that refer to the user.
    """
    model = get_user_model()
    alias = router.db_for_write(model)
    no_key = connections[alias].features.has_select_for_no_key_update
    rows = model._default_manager.using(alias).filter(pk__in=list(user_ids)).order_by("pk")
    list(rows.select_for_update(no_key=no_key).values_list("pk", flat=True))


def locked_secret(user: Any, secret_id: Any) -> Secret:
    """Return the user's secret with its row locked (after the user's) until the
    transaction ends."""
    lock_users([user.pk])
    try:
        return Secret.objects.select_for_update().get(pk=as_uuid(secret_id), user=user)
    except Secret.DoesNotExist:
        raise SecretNotFound from None


def active_secret(user: Any) -> Secret | None:
    """Return the user's active MFA secret, or None when a password alone logs them in."""
    if user is None or user.pk is None:
        return None
    return Secret.objects.filter(
        user=user, type=Secret.Type.MFA, status=Secret.Status.ACTIVE
    ).first()


def has_active_secret(user: Any, secret_id: Any) -> bool:
    """Whether ``secret_id`` names the user's active secret (a token's ``sid`` still holds)."""
    try:
        return Secret.objects.filter(
            pk=as_uuid(secret_id), user=user, status=Secret.Status.ACTIVE
        ).exists()
    except SecretNotFound:
        return False
