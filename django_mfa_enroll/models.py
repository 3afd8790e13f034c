"""Secrets, backup codes, API keys, MFA state, events: fields and constraints, little
behaviour (that is the services)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Secret(models.Model):
    """A user's MFA secret: a TOTP key, encrypted at rest, pending until a first code."""

    class Type(models.TextChoices):
        MFA = "mfa", _("MFA (TOTP)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mfa_secrets",
        verbose_name=_("user"),
    )
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.MFA)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    encrypted_key = models.TextField(_("encrypted key"), editable=False)
    description = models.CharField(_("description"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    enrolled_at = models.DateTimeField(_("enrolled at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # RFC 6238 5.2: the last accepted time step; only a greater one is accepted next.
    last_step = models.BigIntegerField(_("last accepted time step"), null=True, blank=True)
    # NIST 800-63B 5.2.2: consecutive failures, counted per user in the database.
    failure_count = models.PositiveIntegerField(_("consecutive failures"), default=0)
    last_failure_at = models.DateTimeField(_("last failure at"), null=True, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # Bumped by each login's second factor. A login challenge carries the epoch it was
    # issued in and redeems only while it still holds: single use, with no table of its own.
    challenge_epoch = models.PositiveBigIntegerField(_("challenge epoch"), default=0)

    #: Unused backup codes; set by ``services.secrets_of`` (an annotation, not a column).
    backup_codes_remaining: int

    class Meta:
        verbose_name = _("MFA secret")
        verbose_name_plural = _("MFA secrets")
        ordering = ["created_at"]
        permissions = [
            ("reset_mfa", _("Can reset a user's MFA")),
            ("revoke_backup_codes", _("Can revoke a user's backup codes")),
            ("unlock_mfa", _("Can unlock MFA after too many failures")),
        ]
        constraints = [
            # One secret of a type per user, pending or active, enforced by the database.
            models.UniqueConstraint(
                fields=["user", "type"], name="django_mfa_enroll_secret_one_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} ({self.get_status_display()})"


class BackupCode(models.Model):
    """One single-use backup code: its selector in the clear, its secret part hashed."""

    secret = models.ForeignKey(
        Secret, on_delete=models.CASCADE, related_name="backup_codes", verbose_name=_("secret")
    )
    selector = models.CharField(_("selector"), max_length=4, editable=False)
    code_hash = models.CharField(_("code hash"), max_length=128, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("backup code")
        verbose_name_plural = _("backup codes")
        constraints = [
            models.UniqueConstraint(
                fields=["secret", "selector"], name="django_mfa_enroll_backupcode_selector"
            ),
        ]

    def __str__(self) -> str:
        return str(_("used backup code") if self.used_at else _("unused backup code"))


class APIKey(models.Model):
    """A key a machine client sends instead of logging in (``Authorization: apikey <key>``).

    The key is shown once, when made; the row keeps its public prefix (which names the row)
    and the SHA-256 of the key (``apikeys.py``). Deleting the row revokes the key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mfa_api_keys",
        verbose_name=_("user"),
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    description = models.CharField(_("description"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["created_at"]
        permissions = [("revoke_api_keys", _("Can revoke a user's API keys"))]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.description})" if self.description else self.prefix


class TrustedDevice(models.Model):
    """A browser or app the user asked to remember after a second factor (``TRUST_DAYS``):
    its token, sent with the password, logs in without a challenge.

    The row keeps the token's public prefix and SHA-256 (as for API keys). It belongs to
    the secret whose code earned it: a reset or a delete of that secret takes it along.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mfa_devices",
        verbose_name=_("user"),
    )
    secret = models.ForeignKey(
        Secret, on_delete=models.CASCADE, related_name="devices", verbose_name=_("secret")
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(_("token hash"), max_length=64, editable=False)
    agent = models.CharField(_("device"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("trusted since"), default=timezone.now)
    expires_at = models.DateTimeField(_("trusted until"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("trusted device")
        verbose_name_plural = _("trusted devices")
        ordering = ["created_at"]
        permissions = [("revoke_trusted_devices", _("Can revoke a user's trusted devices"))]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.agent})" if self.agent else self.prefix


class MFAState(models.Model):
    """When a user's MFA last changed (a method enrolled, removed or reset), and since when
    the policy has asked them to set it up.

    A session or token whose login is older than this no longer holds, whatever it claims:
    a password-only credential stolen before a user enrolled stays dead after they turn
    MFA off again (API.md, first section).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="mfa_state",
        verbose_name=_("user"),
    )
    changed_at = models.DateTimeField(_("MFA changed at"), null=True, blank=True)
    #: When a login first found that this user must use MFA and has none (``REQUIRED``):
    #: ``REQUIRED_GRACE`` counts from here.
    setup_grace_from = models.DateTimeField(_("MFA setup asked since"), null=True, blank=True)

    class Meta:
        verbose_name = _("MFA state")
        verbose_name_plural = _("MFA states")

    def __str__(self) -> str:
        if self.changed_at is None:
            return str(_("MFA never changed"))
        return str(_("MFA changed at %(when)s") % {"when": self.changed_at.isoformat()})


class Event(models.Model):
    """One entry of a user's security history: what happened to their MFA, when, from where.

    Append-only, written in the transaction of the change it records. Never a key, code,
    hash or token: ``detail`` holds counts and reasons only (``services.events``).
    """

    class Type(models.TextChoices):
        ENROLLED = "enrolled", _("MFA turned on")
        METHOD_ADDED = "method_added", _("Method added")
        METHOD_REMOVED = "method_removed", _("Method removed")
        CODES_REGENERATED = "codes_regenerated", _("Backup codes regenerated")
        CODES_REVOKED = "codes_revoked", _("Backup codes revoked")
        BACKUP_CODE_USED = "backup_code_used", _("Backup code used")
        LOGIN = "login", _("Login with a second factor")
        WRONG_CODE = "wrong_code", _("Wrong code")
        LOCKED = "locked", _("Locked after wrong codes")
        UNLOCKED = "unlocked", _("Unlocked")
        RESET = "reset", _("MFA reset by an administrator")
        REAUTHENTICATED = "reauthenticated", _("Logged in again")
        DEVICE_ADDED = "device_added", _("Trusted device added")
        DEVICE_REVOKED = "device_revoked", _("Trusted device revoked")
        API_KEY_CREATED = "apikey_created", _("API key created")
        API_KEY_USED = "apikey_used", _("API key used from a new address")
        API_KEY_REVOKED = "apikey_revoked", _("API key revoked")
        PASSWORD_CHANGED = "password_changed", _("Password changed")

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mfa_events",
        verbose_name=_("user"),
        db_index=False,  # the index on (user, -id) below serves the key too: one less to write
    )
    type = models.CharField(_("type"), max_length=32, choices=Type.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    # A plain id, not a key: the history outlives the secrets it tells of.
    secret_id = models.UUIDField(_("secret"), null=True, blank=True)
    actor = models.CharField(_("by"), max_length=150, blank=True, default="")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    agent = models.CharField(_("device"), max_length=64, blank=True, default="")
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-id"], name="django_mfa_enroll_event_user")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} ({self.at:%Y-%m-%d %H:%M})"
