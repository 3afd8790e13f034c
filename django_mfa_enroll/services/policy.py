"""Who must use MFA (``REQUIRED``), and what a login of such a user without it gets.

A user who must use MFA and has no active method gets a SETUP login (only their own
secrets, to enroll) instead of an ACCESS one, except during ``REQUIRED_GRACE`` seconds from
the first login that found MFA missing, which still get ACCESS with the deadline. They
cannot remove their last method; an admin reset still can.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from ..conf import mfa_settings
from ..models import MFAState

logger = logging.getLogger("django_mfa_enroll")

#: The policies ``REQUIRED`` names without code.
NAMED = {"staff": lambda user: bool(getattr(user, "is_staff", False)), "all": lambda user: True}


@dataclass(frozen=True)
class Policy:
    """What the policy says of a login without MFA: ``required`` (must the user use MFA),
    and ``due``, the end of the grace (None: no grace left, or none needed)."""

    required: bool
    due: datetime | None = None

    @property
    def setup_now(self) -> bool:
        """Whether this login may only set MFA up (a SETUP answer)."""
        return self.required and self.due is None


NOT_REQUIRED = Policy(required=False)


def must_use_mfa(user: Any) -> bool:
    """Whether ``REQUIRED`` says this user must use MFA. A site's rule that fails says yes
    (and is logged): a broken policy must not let anyone around it."""
    required = mfa_settings.REQUIRED
    if required is None or user is None:
        return False
    rule = _rule(required)
    try:
        return bool(rule(user))
    except Exception:  # noqa: BLE001 - the site's code: fail closed
        logger.exception("MFA policy failed: REQUIRED=%s user=%s", required, user.pk)
        return True


@lru_cache(maxsize=8)
def _rule(required: str) -> Any:
    return NAMED.get(required) or import_string(required)


def login_policy(user: Any, now: datetime) -> Policy:
    """The policy for a login of ``user``, who has no active method, at ``now``.

    With ``REQUIRED_GRACE``, the grace starts at the first such login (written once: of
    parallel first logins, one start holds) and ends ``REQUIRED_GRACE`` seconds later.
    """
    if not must_use_mfa(user):
        return NOT_REQUIRED
    grace = mfa_settings.REQUIRED_GRACE
    if grace <= 0:
        return Policy(required=True)
    started = grace_started(user.pk, now)
    due = started + timedelta(seconds=grace)
    return Policy(required=True, due=due if now < due else None)


def grace_started(user_id: Any, now: datetime) -> datetime:
    """When the user's grace began: now, unless an earlier login started it. One read once
    it has begun; the first login writes it (of parallel first logins, one start holds)."""
    started = MFAState.objects.filter(user_id=user_id).values_list("setup_grace_from", flat=True)
    begun = started.first()
    if begun is not None:
        return begun
    MFAState.objects.bulk_create([MFAState(user_id=user_id)], ignore_conflicts=True)
    MFAState.objects.filter(user_id=user_id, setup_grace_from__isnull=True).update(
        setup_grace_from=now
    )
    return started.get() or now
