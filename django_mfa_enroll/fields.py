"""The request fields the app's serializers share: a code (TOTP, or any code), and text that
refuses numbers and NUL characters."""

from __future__ import annotations

from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .conf import mfa_settings


class CodeField(serializers.Field):
    """A TOTP code: a string of digits (spaces ignored) or a JSON integer.

    An integer is left-padded with zeros to the configured digit count, so the tutorial's
    ``021589`` sent as the number 21589 still means "021589".
    """

    default_error_messages = {
        "type": _("Must be a string of digits or an integer, not {kind}."),
        "digits": _("Must contain only digits."),
        "length": _("Must be exactly {digits} digits."),
    }

    def to_internal_value(self, data: Any) -> str:
        digits = mfa_settings.TOTP_DIGITS
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("type", kind=_json_kind(data))
        if isinstance(data, int):
            if data < 0:
                self.fail("digits")
            code = str(data).zfill(digits)
        else:
            if len(data) > 64:
                self.fail("length", digits=digits)
            code = _without_spaces(data)
            if code and not (code.isascii() and code.isdigit()):
                self.fail("digits")
        if len(code) != digits:
            self.fail("length", digits=digits)
        return code

    def to_representation(self, value: Any) -> Any:
        return value


class AnyCodeField(CodeField):
    """A TOTP code or a backup code (to turn MFA off): either shape, nothing else."""

    default_error_messages = {
        "type": _("Must be a string or an integer, not {kind}."),
        "shape": _("Must be a {digits}-digit code or a backup code."),
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and not _is_digits(_without_spaces(data)):
            text = data.strip()
            if not text or len(data) > 64:
                self.fail("shape", digits=mfa_settings.TOTP_DIGITS)
            return text
        return super().to_internal_value(data)


def _without_spaces(text: str) -> str:
    return "".join(text.split())


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _json_kind(data: Any) -> Any:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return _("a boolean")
    if isinstance(data, (list, tuple)):
        return _("an array")
    if isinstance(data, dict):
        return _("an object")
    if isinstance(data, float):
        return _("a decimal number")
    return type(data).__name__


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text.

    DRF refuses NUL characters in any CharField; here a regex does it instead of DRF's
    validator, so the OpenAPI schema says so too (a ``pattern``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]
        self.validators.append(
            RegexValidator("^[^\\x00]*$", message=_("Null characters are not allowed."))
        )

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PasswordField(StrictCharField):
    """A password: strict text, kept as typed (no trimming), ``format: password`` in the
    schema so that tools mask it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 4096)
        super().__init__(**kwargs)
