"""Input fields and output shapes of the DRF door (the JSON parser: ``parsers.py``)."""

from __future__ import annotations

import copy
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .conf import mfa_settings
from .fields import AnyCodeField, CodeField, PasswordField, StrictCharField
from .models import Event, Secret, TrustedDevice

#: The type of an API key in the secrets resource.
APIKEY = "apikey"
#: The type that sets the user's password (created, never listed).
PASSWORD = "password"  # noqa: S105 - a type name, not a password


class RequestSerializer(serializers.Serializer):
    """A request body's serializer whose fields are copied, not rebuilt, for each request.

    DRF deep-copies a serializer's declared fields for every instance, which builds each
    field anew from its arguments (validators included): a quarter of the CPU of a login
    step's own code. The declared fields are never bound or changed, so a shallow copy of
    each, bound to its serializer as DRF binds any field, serves the same.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


#: The types of the secrets resource: the MFA secret, and API keys for machine clients.
SECRET_TYPES = [*Secret.Type.choices, (APIKEY, _("API key"))]
#: What a create takes: those, and the password.
CREATE_TYPES = [*SECRET_TYPES, (PASSWORD, _("Password"))]
#: The longest life of an API key (ten years) whatever API_KEY_MAX_AGE says.
API_KEY_LONGEST = 10 * 366 * 86_400


class CreateSecretSerializer(serializers.Serializer):
    """``{"type": "mfa" | "apikey", "description"?, "expires_in"?}`` (``expires_in``, in
    seconds, for an API key only: another type ignores it), or ``{"type": "password",
    "secret": "<new password>", "token"?: "<current code>"}``."""

    type = serializers.ChoiceField(choices=CREATE_TYPES)
    description = StrictCharField(max_length=255, required=False, allow_blank=True, default="")
    expires_in = serializers.IntegerField(required=False, min_value=60, max_value=API_KEY_LONGEST)
    secret = PasswordField(required=False, help_text=_("The new password (type password only)."))
    token = AnyCodeField(
        required=False,
        help_text=_("A current code or a backup code (type password, with MFA on)."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == PASSWORD:
            if "secret" not in attrs:
                raise serializers.ValidationError(
                    {"secret": [_("Send the new password in 'secret'.")]}
                )
            return attrs
        attrs.pop("secret", None)  # only the password type takes these two
        attrs.pop("token", None)
        if attrs["type"] != APIKEY:
            attrs.pop("expires_in", None)  # only an API key expires
            return attrs
        longest = mfa_settings.API_KEY_MAX_AGE
        if longest is not None:
            if "expires_in" not in attrs:
                attrs["expires_in"] = longest
            elif attrs["expires_in"] > longest:
                raise serializers.ValidationError(
                    {
                        "expires_in": [
                            format_lazy(
                                _("Ask for at most {seconds} seconds (API_KEY_MAX_AGE)."),
                                seconds=longest,
                            )
                        ]
                    }
                )
        return attrs


class TokenSerializer(serializers.Serializer):
    token = CodeField()


class DeleteSecretSerializer(serializers.Serializer):
    token = AnyCodeField(required=False)


class SecretSerializer(serializers.ModelSerializer):
    """A secret as its owner sees it: never key material. An API key (``api_key_body``) has
    the same fields: its ``prefix`` and ``expires_at``, no backup codes."""

    type = serializers.ChoiceField(choices=SECRET_TYPES, read_only=True)
    backup_codes_remaining = serializers.IntegerField(read_only=True, default=0)
    prefix = serializers.CharField(read_only=True, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True, default=None)

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
            "prefix",
            "expires_at",
        ]
        read_only_fields = fields


class PasswordLoginSerializer(RequestSerializer):
    username = StrictCharField(max_length=255, trim_whitespace=False)
    password = PasswordField()
    device_token = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=128,
        trim_whitespace=False,
        help_text="A trusted device's token (TRUST_DAYS): no challenge while it holds.",
    )


class SecondFactorSerializer(RequestSerializer):
    """``token`` (a TOTP code) or ``backup_code``, exactly one; ``challenge`` optional."""

    token = CodeField(required=False)
    backup_code = StrictCharField(required=False, max_length=64, trim_whitespace=False)
    challenge = StrictCharField(required=False, max_length=4096, trim_whitespace=False)
    remember = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Trust this device for TRUST_DAYS: the answer holds a device_token.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("token" in attrs) == ("backup_code" in attrs):
            raise serializers.ValidationError(
                _("Send exactly one of 'token' (a code from your app) and 'backup_code'.")
            )
        return attrs


class RefreshSerializer(RequestSerializer):
    refresh = StrictCharField(max_length=4096, trim_whitespace=False)


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


class AccessSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ACCESS"])
    token = serializers.CharField()
    refresh = serializers.CharField()
    user_id = serializers.CharField()
    mfa_setup_due = serializers.DateTimeField(
        required=False,
        help_text="REQUIRED_GRACE: set MFA up before this; after it, logins answer SETUP.",
    )
    device_token = serializers.CharField(
        required=False, help_text='After "remember": true: this device\'s token, shown once.'
    )
    device_expires_in = serializers.IntegerField(
        required=False, help_text="Seconds the device stays trusted."
    )


class EnrollmentSerializer(SecretSerializer):
    """An active secret with its backup codes, shown this once (and, under a SETUP token,
    ACCESS tokens in ``access``)."""

    codes = serializers.ListField(child=serializers.CharField())
    access = AccessSerializer(required=False)

    class Meta(SecretSerializer.Meta):
        fields = [*SecretSerializer.Meta.fields, "codes", "access"]
        read_only_fields = fields


class PasswordSetSerializer(serializers.Serializer):
    """The answer to setting the password: when; never the password."""

    type = serializers.ChoiceField(choices=[PASSWORD])
    status = serializers.ChoiceField(choices=[Secret.Status.ACTIVE])
    updated_at = serializers.DateTimeField()


def password_set_body(updated_at: Any) -> Any:
    """The answer to setting the password: every credential of the user has ended."""
    return PasswordSetSerializer(
        {"type": PASSWORD, "status": Secret.Status.ACTIVE, "updated_at": updated_at}
    ).data


class NewAPIKeySerializer(SecretSerializer):
    """A new API key, with the key itself, shown this once."""

    secret = serializers.CharField()

    class Meta(SecretSerializer.Meta):
        fields = [*SecretSerializer.Meta.fields, "secret"]
        read_only_fields = fields


def api_key_body(row: Any) -> Any:
    """An API key as the secrets resource lists it (its prefix and dates, never the key)."""
    return SecretSerializer(
        {
            "id": row.pk,
            "type": APIKEY,
            "status": Secret.Status.ACTIVE,
            "description": row.description,
            "created_at": row.created_at,
            "enrolled_at": None,
            "last_used_at": row.last_used_at,
            "backup_codes_remaining": 0,
            "prefix": row.prefix,
            "expires_at": row.expires_at,
        }
    ).data


def new_api_key_body(new: Any) -> Any:
    """The answer to creating an API key: the key, this once."""
    body = api_key_body(new.row)
    body["secret"] = new.key
    return body


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


class DeviceSerializer(serializers.ModelSerializer):
    """A trusted device as its user sees it: never its token."""

    class Meta:
        model = TrustedDevice
        fields = ["id", "agent", "created_at", "last_used_at", "expires_at"]
        read_only_fields = fields


class CodesSerializer(serializers.Serializer):
    codes = serializers.ListField(child=serializers.CharField())


class SetupSerializer(serializers.Serializer):
    """A login that may only set MFA up (``REQUIRED``): its token reaches the user's own
    secrets endpoints only."""

    type = serializers.ChoiceField(choices=["SETUP"])
    token = serializers.CharField()
    user_id = serializers.CharField()
    expires_in = serializers.IntegerField()


class ChallengeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["CHALLENGE"])
    token = serializers.CharField()
    methods = serializers.ListField(child=serializers.ChoiceField(choices=["totp", "backup_code"]))
    expires_in = serializers.IntegerField()


class RefreshedSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["ACCESS"])
    token = serializers.CharField()
    refresh = serializers.CharField(required=False)
