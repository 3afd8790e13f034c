"""Every MFA rule, in one place. Views, admin, backend and commands only call these.

Each function is one transaction. A change that a race could double (accepting a TOTP
step, spending a backup code, a login challenge) is a conditional UPDATE, and every code
is refused on its secret's locked row (a login's right TOTP code is first tried without
the lock, by an UPDATE that wins only while the secret takes codes). A refused code's
failure is written in that same transaction, which commits before the error is raised:
nothing rolls a failure back.

One module per section of the contract; this package re-exports what doors and sites
call, so ``from django_mfa_enroll import services; services.enroll_secret(...)`` holds
whichever module a function lives in:

- ``errors``: what a service raises; ``clock``: the one clock tests replace;
- ``keys``: encryption keys in force, a secret's TOTP key and Key URI;
- ``lookups``: who a path names, a user's secrets, the active one;
- ``failures``: the per-user failure counter, its delays and lock;
- ``statements``: the second factor's SQL, written out;
- ``verification``: checking one TOTP or backup code on a locked secret;
- ``totp_secrets``: create, show while pending, enroll, delete;
- ``code_sets``: backup code sets, regenerated;
- ``login``: the second factor of a password login;
- ``credentials``: whether a session or token still matches the user's MFA state, and
  whether its login is recent;
- ``events``: the security history, with where each change came from; ``notify``: its mail;
- ``operators``: reset, revoke, unlock, key rotation, cleanup;
- ``api_keys``: API keys for machine clients: made, checked, revoked;
- ``passwords``: the password, set through the site's validators; every credential ends;
- ``devices``: trusted devices, remembered after a second factor (``TRUST_DAYS``);
- ``policy``: who must use MFA (``REQUIRED``), and what their login without it gets.
"""

from . import clock
from .api_keys import (
    NewAPIKey,
    api_keys_of,
    authenticate_api_key,
    create_api_key,
    get_api_key,
    revoke_api_key,
)
from .code_sets import regenerate_backup_codes
from .credentials import (
    DEVICE_AMR,
    METHOD_TYPES,
    active_method_ids,
    blacklist_refresh_tokens,
    check_credential,
    check_password_stamp,
    check_recent,
    factor_entered,
    note_mfa_change,
    password_stamp,
)
from .devices import NewDevice, devices_of, remember_device, revoke_device, trusted_device
from .errors import (
    AlreadyEnrolled,
    APIKeyExpired,
    APIKeyInvalid,
    APIKeyLimit,
    APIKeyNotAllowed,
    ChallengeInvalid,
    ChallengeUsed,
    CodeRequired,
    CredentialRefused,
    DeviceNotFound,
    GraceOver,
    InvalidCode,
    KeyUnavailable,
    LastMethodRequired,
    Locked,
    MFAError,
    MFARequired,
    MFAReset,
    MFASetupRequired,
    NotEnrolled,
    NotPending,
    PasswordChanged,
    PasswordRefused,
    ReauthenticationRequired,
    ReusedCode,
    SecondFactorRequired,
    SecretExists,
    SecretNotFound,
    UserNotFound,
)
from .events import Origin, agent_label, events_of, origin, record
from .failures import is_locked, locked_filter
from .keys import encryption_keys, undecryptable_secrets
from .login import AMR, SecondFactor, complete_login, verify_second_factor
from .lookups import (
    ME,
    active_secret,
    get_secret,
    has_active_secret,
    owner_named,
    secrets_of,
    secrets_of_all,
)
from .operators import (
    delete_old_events,
    delete_stale_pending,
    reset_mfa,
    revoke_backup_codes,
    rotate_encryption,
    unlock,
)
from .passwords import change_password
from .policy import Policy, login_policy, must_use_mfa
from .totp_secrets import (
    Enrollment,
    NewSecret,
    create_secret,
    delete_secret,
    enroll_secret,
    provisioning_uri,
)
from .verification import BACKUP_CODE, TOTP, verify_any_code

__all__ = [
    "DEVICE_AMR",
    "DeviceNotFound",
    "GraceOver",
    "NewDevice",
    "devices_of",
    "factor_entered",
    "remember_device",
    "revoke_device",
    "trusted_device",
    "NewAPIKey",
    "api_keys_of",
    "authenticate_api_key",
    "create_api_key",
    "get_api_key",
    "revoke_api_key",
    "APIKeyExpired",
    "APIKeyInvalid",
    "APIKeyLimit",
    "APIKeyNotAllowed",
    "SecondFactorRequired",
    "AMR",
    "BACKUP_CODE",
    "ME",
    "METHOD_TYPES",
    "TOTP",
    "AlreadyEnrolled",
    "ChallengeInvalid",
    "ChallengeUsed",
    "CodeRequired",
    "CredentialRefused",
    "Enrollment",
    "InvalidCode",
    "KeyUnavailable",
    "LastMethodRequired",
    "Locked",
    "MFAError",
    "Origin",
    "MFARequired",
    "MFAReset",
    "MFASetupRequired",
    "NewSecret",
    "Policy",
    "NotEnrolled",
    "NotPending",
    "PasswordChanged",
    "PasswordRefused",
    "ReauthenticationRequired",
    "ReusedCode",
    "SecondFactor",
    "SecretExists",
    "SecretNotFound",
    "UserNotFound",
    "active_method_ids",
    "active_secret",
    "agent_label",
    "blacklist_refresh_tokens",
    "change_password",
    "check_credential",
    "check_password_stamp",
    "check_recent",
    "complete_login",
    "clock",
    "create_secret",
    "delete_old_events",
    "delete_secret",
    "delete_stale_pending",
    "encryption_keys",
    "enroll_secret",
    "events_of",
    "get_secret",
    "has_active_secret",
    "is_locked",
    "locked_filter",
    "login_policy",
    "must_use_mfa",
    "note_mfa_change",
    "origin",
    "owner_named",
    "password_stamp",
    "provisioning_uri",
    "regenerate_backup_codes",
    "record",
    "reset_mfa",
    "revoke_backup_codes",
    "rotate_encryption",
    "secrets_of",
    "secrets_of_all",
    "undecryptable_secrets",
    "unlock",
    "verify_any_code",
    "verify_second_factor",
]
