"""The DRF door's JSON parser: size-limited, and saying what is wrong with a malformed body."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from .conf import mfa_settings

__all__ = ["MAX_DEPTH", "StrictJSONParser"]


class StrictJSONParser(JSONParser):
    """Parse JSON, refusing oversized bodies and naming the mistake in malformed ones.

    The tutorial's own examples are not JSON (a trailing comma, ``"token": 021589``): they
    get a 400 that says so, rather than a bare decoder message.
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = mfa_settings.MAX_REQUEST_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise exceptions.ParseError(
                _("Request body too large: at most %(limit)d bytes.") % {"limit": limit}
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError(_("Malformed JSON: the body is not UTF-8.")) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise exceptions.ParseError(_malformed_message(text, exc)) from None
        except RecursionError:
            raise exceptions.ParseError(_("Malformed JSON: nested too deeply.")) from None
        problem = _problem_in(data)
        if problem is not None:
            raise exceptions.ParseError(problem)
        return data


#: Deepest nesting a body may have; no endpoint takes more than an object of strings.
MAX_DEPTH = 32


def _problem_in(data: Any) -> Any:
    """Name what the parsed body holds that no endpoint takes, or None.

    Nesting deeper than MAX_DEPTH (Python versions disagree on how deep ``json`` goes
    before a RecursionError), and strings with an unpaired UTF-16 surrogate, which cannot
    be encoded as UTF-8 and so could reach neither the database nor an error message.
    """
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _("Malformed JSON: nested too deeply.")
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return _(
                    "Malformed JSON: a \\u escape names half of a surrogate pair, not a character."
                )
        elif isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


_LEADING_ZERO = re.compile(r"[:\[,]\s*-?0\d")
_TRAILING_COMMA = re.compile(r",\s*[}\]]")


def _malformed_message(text: str, exc: ValueError) -> str:
    where = ""
    if isinstance(exc, json.JSONDecodeError):
        where = str(
            _(" (line %(line)d, column %(column)d)") % {"line": exc.lineno, "column": exc.colno}
        )
    if _TRAILING_COMMA.search(text):
        hint = _("a trailing comma before a closing brace or bracket")
    elif _LEADING_ZERO.search(text):
        hint = _('a number with a leading zero; send codes as strings, e.g. "021589"')
    else:
        hint = _("not valid JSON")
    return str(_("Malformed JSON%(where)s: %(hint)s.") % {"where": where, "hint": hint})
