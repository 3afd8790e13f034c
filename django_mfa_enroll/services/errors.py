"""The errors a service raises. Each has a stable ``code`` and a ``message`` for people;
each door maps them to its own answer (``exceptions.STATUS_OF_ERROR`` for HTTP)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class MFAError(Exception):
    """Base of the errors a service raises; ``code`` is stable, ``message`` is for people.

    A refused code that was counted carries the user's consecutive ``failures`` and the
    ``wait`` in seconds it earned (``failures.count_failure`` sets them); None and 0 when
    nothing was counted (a spent challenge, a lock).
    """

    code = "mfa_error"
    message: Any = _("Multi-factor authentication failed.")
    failures: int | None = None
    wait: int = 0
    #: Per-field problems the answer lists (a refused password's), or None.
    errors: dict[str, list[str]] | None = None

    def __init__(self, message: Any = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(str(self.message))


class UserNotFound(MFAError):
    code = "not_found"
    message = _("No such user.")


class SecretNotFound(MFAError):
    code = "not_found"
    message = _("No such secret.")


class SecretExists(MFAError):
    code = "secret_exists"
    message = _("MFA is already active for this user; delete the active secret first.")


class AlreadyEnrolled(MFAError):
    code = "already_enrolled"
    message = _("This secret is already enrolled.")


class NotPending(MFAError):
    code = "secret_active"
    message = _("This secret is active; its key is never shown again.")


class NotEnrolled(MFAError):
    code = "not_enrolled"
    message = _("This secret is not enrolled yet; confirm it with a first code.")


class CodeRequired(MFAError):
    code = "code_required"
    message = _("This needs a current code from your authenticator app, or a backup code.")


class InvalidCode(MFAError):
    code = "invalid_code"
    message = _("The code is not valid.")


class ReusedCode(InvalidCode):
    code = "code_reused"
    message = _("This code has been used already; wait for the next one.")


class ChallengeInvalid(MFAError):
    code = "challenge_invalid"
    message = _("The login challenge is invalid or has expired; log in with your password again.")


class ChallengeUsed(ChallengeInvalid):
    code = "challenge_used"
    message = _("This login challenge has been used already; log in with your password again.")


class KeyUnavailable(MFAError):
    code = "key_unavailable"
    message = _("Multi-factor authentication is unavailable right now; try again later.")


class Locked(MFAError):
    code = "too_many_failures"
    message = _("Too many failed attempts; try again later.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)


class CredentialRefused(MFAError):
    """A session or token that no longer matches its user's MFA state (API.md, first
    section): the client logs in again."""

    code = "credential_refused"


class MFARequired(CredentialRefused):
    code = "mfa_required"
    message = _("This account now requires a second factor; log in again.")


class MFAReset(CredentialRefused):
    code = "mfa_reset"
    message = _("The second factor of this login was reset or removed; log in again.")


class ReauthenticationRequired(CredentialRefused):
    code = "reauthentication_required"
    message = _(
        "For your security, this needs a recent login: log in again (with your second "
        "factor, if you have one), then retry."
    )


class APIKeyInvalid(MFAError):
    code = "api_key_invalid"
    message = _(
        "This API key is not valid: it was revoked, mistyped, or its user is inactive. "
        "Create a new key."
    )


class APIKeyExpired(APIKeyInvalid):
    code = "api_key_expired"
    message = _("This API key has expired; create a new key.")


class APIKeyLimit(MFAError):
    code = "api_key_limit"
    message = _("You have as many API keys as allowed; revoke one you no longer use first.")


class APIKeyNotAllowed(MFAError):
    code = "api_key_not_allowed"
    message = _("An API key cannot do this: log in with your password (and your second factor).")


class SecondFactorRequired(MFAError):
    code = "mfa_required"
    message = _(
        "This needs a login with your second factor: log in again with your password and "
        "a code, then retry."
    )


class PasswordChanged(CredentialRefused):
    code = "password_changed"
    message = _("The password of this account was changed; log in again with the new one.")


class PasswordRefused(MFAError):
    """A new password the site's ``AUTH_PASSWORD_VALIDATORS`` refuse; ``errors`` names
    each failure under the request's field."""

    code = "password_invalid"
    message = _("Choose another password: this one does not meet the site's rules.")

    def __init__(self, problems: list[str] | None = None) -> None:
        super().__init__()
        self.errors = {"secret": list(problems or [])}


class MFASetupRequired(MFAError):
    code = "mfa_setup_required"
    message = _(
        "This account must use two-step verification: set it up first (log in at "
        "/auth/password, then create and enroll a secret)."
    )


class LastMethodRequired(MFAError):
    code = "mfa_required"
    message = _(
        "This account must use two-step verification, so its last method cannot be "
        "removed: add another method first, or ask an administrator to reset it."
    )


class DeviceNotFound(SecretNotFound):
    message = _("No such trusted device.")


class GraceOver(CredentialRefused):
    """A login let in during ``REQUIRED_GRACE``, after it, with MFA still off."""

    code = "mfa_setup_required"
    message = _("The time to set up two-step verification is over: log in again, then set it up.")
