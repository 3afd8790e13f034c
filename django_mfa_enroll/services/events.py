"""The security history: an event for each change and use of a user's MFA, written in the
transaction of what it records (a rolled-back change leaves none; a refused code's event
commits with its failure count), with where it came from: the address and a short device
label, never the raw User-Agent, and never a key, code, hash or token.

The doors say where a request comes from with ``origin(request)`` around their calls (a
context variable, so that no service signature carries a request); operator actions name
their actor. ``notify`` mails the user about the events in ``NOTIFY``, after the commit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import Event
from ..ratelimit import client_ip
from . import clock

#: What an event's ``detail`` may hold: counts and reasons, nothing secret.
DETAIL_KEYS = frozenset({"method", "codes_left", "reason", "failures", "retry_after", "secrets"})


@dataclass(frozen=True)
class Origin:
    """Where a change comes from: the client's address and a short label of its device."""

    ip: str | None = None
    agent: str = ""


_NOWHERE = Origin()
_origin: ContextVar[Origin | None] = ContextVar("django_mfa_enroll_origin", default=None)


@contextmanager
def origin(request: Any) -> Iterator[None]:
    """Events written inside come from ``request`` (its address and device label)."""
    token = _origin.set(origin_of(request))
    try:
        yield
    finally:
        _origin.reset(token)


def origin_of(request: Any) -> Origin:
    if request is None or not hasattr(request, "META"):
        return Origin()
    address = client_ip(request)
    try:
        ip: str | None = str(ipaddress.ip_address(address.strip()))
    except ValueError:
        ip = None  # not an address (a test client's, a proxy's garbage): none recorded
    return Origin(ip, agent_label(str(request.META.get("HTTP_USER_AGENT", ""))))


# A User-Agent can carry identifiers: only a browser or client name and a system name,
# from these lists, are kept ("Firefox on Linux").
_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Samsung Internet", r"SamsungBrowser/"),
    ("Chrome", r"Chrome/|CriOS/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Safari", r"Safari/"),
    ("curl", r"^curl/"),
    ("Python", r"python-requests|python-urllib|httpx|aiohttp"),
    ("Postman", r"PostmanRuntime"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux"),
]


def agent_label(user_agent: str) -> str:
    """A short label of the client: ``"Firefox on Linux"``, ``"curl"``, or ``""``."""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system


def events_of(user: Any) -> Any:
    """The user's security history, newest first (the index on user and id)."""
    return Event.objects.filter(user=user).order_by("-id")


def actor_of(by: Any) -> str:
    """How an operator is named: ``"user <pk>"`` for an admin, else what the caller says
    (``"manage.py mfa_reset"``)."""
    return f"user {by.pk}" if getattr(by, "pk", None) is not None else str(by or "")


def record(
    user_id: Any,
    kind: Any,
    *,
    secret_id: Any = None,
    by: Any = None,
    at: datetime | None = None,
    **detail: Any,
) -> Event:
    """Write one event in the caller's transaction; mail it after the commit when ``NOTIFY``
    asks for it."""
    unknown = set(detail) - DETAIL_KEYS
    if unknown:
        raise ValueError(f"not an event detail: {sorted(unknown)}")
    where = _origin.get() or _NOWHERE
    event = Event.objects.create(
        user_id=user_id,
        type=str(kind),
        at=at or clock.now(),
        secret_id=secret_id,
        actor=actor_of(by),
        ip=where.ip,
        agent=where.agent,
        detail=detail,
    )
    from .notify import notify_after_commit

    notify_after_commit(event)
    return event
