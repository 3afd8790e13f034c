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

from ..conf import mfa_settings
from ..models import Event
from ..ratelimit import client_ip
from . import clock
from .event_statements import insert_event
from .notify import notify_after_commit

#: What an event's ``detail`` may hold: counts and reasons, nothing secret.
DETAIL_KEYS = frozenset(
    {"method", "codes_left", "reason", "failures", "retry_after", "secrets", "prefix"}
)


@dataclass(frozen=True)
class Origin:
    """Where a change comes from: the client's address and a short label of its device."""

    ip: str | None = None
    agent: str = ""


_NOWHERE = Origin()


class _Source:
    """The request events come from; its Origin is worked out at the first event only
    (most requests write none, and a login's one should not pay for the regexes twice)."""

    __slots__ = ("found", "request")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.found: Origin | None = None

    def origin(self) -> Origin:
        if self.found is None:
            self.found = origin_of(self.request)
        return self.found


_source: ContextVar[_Source | None] = ContextVar("django_mfa_enroll_origin", default=None)


@contextmanager
def origin(request: Any) -> Iterator[None]:
    """Events written inside come from ``request`` (its address and device label)."""
    token = _source.set(_Source(request))
    try:
        yield
    finally:
        _source.reset(token)


def current_origin() -> Origin:
    source = _source.get()
    return _NOWHERE if source is None else source.origin()


def origin_of(request: Any) -> Origin:
    if request is None or not hasattr(request, "META"):
        return _NOWHERE
    address = client_ip(request)
    try:
        ip: str | None = str(ipaddress.ip_address(address.strip()))
    except ValueError:
        ip = None  # not an address (a test client's, a proxy's garbage): none recorded
    return Origin(ip, agent_label(str(request.META.get("HTTP_USER_AGENT", ""))))


# A User-Agent can carry identifiers: only a browser or client name and a system name,
# from these lists, are kept ("Firefox on Linux").
def _names(pairs: dict[str, str]) -> list[tuple[str, re.Pattern[str]]]:
    return [(name, re.compile(pattern)) for name, pattern in pairs.items()]


# In order: the first that matches names the client (Edge says "Chrome" too).
_BROWSERS = _names(
    {
        "Edge": r"Edg(e|A|iOS)?/",
        "Opera": r"OPR/|Opera",
        "Samsung Internet": r"SamsungBrowser/",
        "Chrome": r"Chrome/|CriOS/",
        "Firefox": r"Firefox/|FxiOS/",
        "Safari": r"Safari/",
        "curl": r"^curl/",
        "Python": r"python-requests|python-urllib|httpx|aiohttp",
        "Postman": r"PostmanRuntime",
    }
)
_SYSTEMS = _names(
    {
        "Android": r"Android",
        "iOS": r"iPhone|iPad|iPod",
        "Windows": r"Windows",
        "macOS": r"Mac OS X|Macintosh",
        "ChromeOS": r"CrOS",
        "Linux": r"Linux",
    }
)


def agent_label(user_agent: str) -> str:
    """A short label of the client: ``"Firefox on Linux"``, ``"curl"``, or ``""``."""
    user_agent = user_agent[:512]  # a name is near the start; a huge header costs nothing more
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
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


def event_values(
    user_id: Any,
    kind: Any,
    *,
    secret_id: Any = None,
    by: Any = None,
    at: datetime | None = None,
    **detail: Any,
) -> tuple[Any, ...]:
    """An event's values, in ``event_statements.EVENT_COLUMNS``' order, with where it came
    from; ``detail`` takes counts and reasons only."""
    unknown = set(detail) - DETAIL_KEYS
    if unknown:
        raise ValueError(f"not an event detail: {sorted(unknown)}")
    where = current_origin()
    kind, at = str(kind), at or clock.now()
    return (user_id, kind, at, secret_id, actor_of(by), where.ip, where.agent, detail)


def written(values: tuple[Any, ...]) -> None:
    """What follows an event's INSERT: its mail after the commit, when ``NOTIFY`` asks."""
    if values[1] in mfa_settings.NOTIFY:  # a model instance only for the mail
        names = ("user_id", "type", "at", "secret_id", "actor", "ip", "agent", "detail")
        notify_after_commit(Event(**dict(zip(names, values, strict=True))))


def record(user_id: Any, kind: Any, **fields: Any) -> None:
    """Write one event in the caller's transaction (see ``event_values`` for ``fields``),
    and mail it after the commit when ``NOTIFY`` asks for it."""
    values = event_values(user_id, kind, **fields)
    insert_event(values)
    written(values)
