"""Input fields and output shapes of the DRF door (the JSON parser: ``parsers.py``)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .conf import mfa_settings
from .models import Event, Secret


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


class RequestSerializer(serializers.Serializer):
    """A request body's serializer whose fields are copied, not rebuilt, for each request.

    DRF deep-copies a serializer's declared fields for every instance, which builds each
    field anew from its arguments (validators included): a quarter of the CPU of a login
    step's own code. The declared fields are never bound or changed, so a shallow copy of
    each, bound to its serializer as DRF binds any field, serves the same.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class CreateSecretSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Secret.Type.choices)
    description = StrictCharField(max_length=255, required=False, allow_blank=True, default="")


class TokenSerializer(serializers.Serializer):
    token = CodeField()


class DeleteSecretSerializer(serializers.Serializer):
    token = AnyCodeField(required=False)


class SecretSerializer(serializers.ModelSerializer):
    """A secret as its owner sees it: never key material."""

    backup_codes_remaining = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Secret
        fields = [
            "id",
            "type",
            "status",
            "description",
            "created_at",
            "enrolled_at",
            "last_used_at",
            "backup_codes_remaining",
        ]
        read_only_fields = fields


class PasswordLoginSerializer(RequestSerializer):
    username = StrictCharField(max_length=255, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class SecondFactorSerializer(RequestSerializer):
    """``token`` (a TOTP code) or ``backup_code``, exactly one; ``challenge`` optional."""

    token = CodeField(required=False)
    backup_code = StrictCharField(required=False, max_length=64, trim_whitespace=False)
    challenge = StrictCharField(required=False, max_length=4096, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("token" in attrs) == ("backup_code" in attrs):
            raise serializers.ValidationError(
                _("Send exactly one of 'token' (a code from your app) and 'backup_code'.")
            )
        return attrs


class RefreshSerializer(RequestSerializer):
    refresh = StrictCharField(max_length=4096)


# Answer shapes, for the OpenAPI schema (schema.py) and for the views that build them.


class ErrorSerializer(serializers.Serializer):
    """Every error: a stable ``code``, the HTTP ``status``, a ``message`` for people."""

    code = serializers.CharField()
    status = serializers.IntegerField()
    message = serializers.CharField()
    # A field named like Serializer.errors: DRF's metaclass takes it out of the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class KeyMaterialSerializer(serializers.Serializer):
    otpauth_url = serializers.CharField()
    secret = serializers.CharField()


class NewSecretSerializer(SecretSerializer):
    """A pending secret with its key, shown this once."""

    secret = KeyMaterialSerializer()

    class Meta(SecretSerializer.Meta):
        fields = [*SecretSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EnrollmentSerializer(SecretSerializer):
    """An active secret with its backup codes, shown this once."""

    codes = serializers.ListField(child=serializers.CharField())

    class Meta(SecretSerializer.Meta):
        fields = [*SecretSerializer.Meta.fields, "codes"]
        read_only_fields = fields


def new_secret_body(new: Any) -> Any:
    """The answer to a create: the pending secret, with its key material this once."""
    body = SecretSerializer(new.secret).data
    body["secret"] = {"otpauth_url": new.otpauth_url, "secret": new.key_base32}
    return body


def enrollment_body(enrollment: Any) -> Any:
    """The answer to an enroll: the active secret, with its backup codes this once."""
    body = SecretSerializer(enrollment.secret).data
    body["codes"] = enrollment.codes
    return body


class EventSerializer(serializers.ModelSerializer):
    """One entry of the user's security history: what, when, from where; never a secret.
    ``operator`` says an administrator did it (which one, the admin's log says)."""

    operator = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "type", "at", "secret_id", "ip", "agent", "detail", "operator"]
        read_only_fields = fields

    def get_operator(self, event: Event) -> bool:
        return bool(event.actor)

    def to_representation(self, event: Event) -> Any:
        shown = super().to_representation(event)
        if event.actor:  # where an administrator was is the admin's to know, not the user's
            shown["ip"], shown["agent"] = None, ""
        return shown


class CodesSerializer(serializers.Serializer):
    codes = serializers.ListField(child=serializers.CharField())


class AccessSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ACCESS"])
    token = serializers.CharField()
    refresh = serializers.CharField()
    user_id = serializers.CharField()


class ChallengeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["CHALLENGE"])
    token = serializers.CharField()
    methods = serializers.ListField(child=serializers.ChoiceField(choices=["totp", "backup_code"]))
    expires_in = serializers.IntegerField()


class RefreshedSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ACCESS"])
    token = serializers.CharField()
    refresh = serializers.CharField(required=False)
