"""The example site: django-mfa-enroll mounted at ``/`` with a UUID user, as in the tutorial.

Deployment settings come from the environment (API.md): DATABASE_URL, REDIS_URL,
DJANGO_DEBUG, MFA_AUTH_RATE, MFA_REAUTH_MAX_AGE, MFA_REQUIRED, MFA_REQUIRED_GRACE,
MFA_TRUST_DAYS, DJANGO_EMAIL_BACKEND, DJANGO_EMAIL_FILE_PATH, plus DJANGO_SECRET_KEY and MFA_ENCRYPTION_KEYS (comma-separated
Fernet keys) for anything beyond a demo.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else a random key made on first run and kept in a git-ignored file
    (DJANGO_SECRET_KEY_FILE, default example_project/.secret_key): never a key published
    with the code, which would let anyone forge this site's tokens and read its secrets."""
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    from django.core.management.utils import get_random_secret_key

    path = Path(os.environ.get("DJANGO_SECRET_KEY_FILE", BASE_DIR / ".secret_key"))
    if not path.exists():
        # Written whole to a file of its own, then linked into place: of two processes
        # starting at once, one link wins and both read that key; none reads half of one.
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(get_random_secret_key())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it and start again, or set DJANGO_SECRET_KEY")
    return key


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_mfa_enroll",
    "accounts",
    "pages",
]

AUTH_USER_MODEL = "accounts.User"

# A password alone logs in nowhere once a user has MFA (admin and DRF logins included).
AUTHENTICATION_BACKENDS = ["django_mfa_enroll.backends.MFAModelBackend"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_mfa_enroll.middleware.MFASessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite has no row locks: IMMEDIATE transactions take the write lock at BEGIN, so two
    # requests on one secret queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }

# Django's own validators, as startproject writes them: the app's password change
# (POST /users/me/secrets {"type": "password"}) answers each objection.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A load test may swap in a cheap password hasher (benchmarks/flow_load.py): the site's own
# password cost is not what it measures. Never set this for anything a person uses.
if os.environ.get("DJANGO_PASSWORD_HASHERS"):
    PASSWORD_HASHERS = os.environ["DJANGO_PASSWORD_HASHERS"].split(",")

# The app mails users about their security events: on the console unless the environment
# names another backend (DJANGO_EMAIL_FILE_PATH for the file backend, which a test reads).
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
if os.environ.get("DJANGO_EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["DJANGO_EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = "security@example.test"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The site's own API (GET /api/me) takes API keys beside tokens and sessions; the app's
# endpoints never take keys, whatever this says.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_mfa_enroll.authentication.APIKeyAuthentication",
        "django_mfa_enroll.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "django_mfa_enroll.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "django-mfa-enroll example",
    "DESCRIPTION": "Enroll a TOTP secret, get backup codes, log in with a second factor.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the site itself: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Names for the app's enums (README: OpenAPI schema).
    "PREPROCESSING_HOOKS": ["django_mfa_enroll.schema.without_trailing_slashes"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "django_mfa_enroll.schema.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SecretTypeEnum": "django_mfa_enroll.serializers.SECRET_TYPES",
        "SecretStatusEnum": "django_mfa_enroll.models.Secret.Status",
        "AccessTypeEnum": ["ACCESS"],
        "ChallengeTypeEnum": ["CHALLENGE"],
        "LoginMethodEnum": ["totp", "backup_code"],
    },
}

MFA_ENROLL = {
    "ISSUER": "Example",
    "AUTH_RATE": os.environ.get("MFA_AUTH_RATE", "30/min"),
    "ENCRYPTION_KEYS": [k for k in os.environ.get("MFA_ENCRYPTION_KEYS", "").split(",") if k],
}
if os.environ.get("MFA_REAUTH_MAX_AGE"):
    MFA_ENROLL["REAUTH_MAX_AGE"] = int(os.environ["MFA_REAUTH_MAX_AGE"])
# Who must use MFA ("staff", "all", a dotted path), and for how long they may still sign in
# without it (seconds): MFA_REQUIRED=all MFA_REQUIRED_GRACE=0 makes every sign-in set it up.
# "Trust this browser for N days" on the sign-in page (MFA_TRUST_DAYS=0 turns it off).
MFA_ENROLL["TRUST_DAYS"] = int(os.environ.get("MFA_TRUST_DAYS", "30")) or None
if os.environ.get("MFA_REQUIRED"):
    MFA_ENROLL["REQUIRED"] = os.environ["MFA_REQUIRED"]
if os.environ.get("MFA_REQUIRED_GRACE"):
    MFA_ENROLL["REQUIRED_GRACE"] = int(os.environ["MFA_REQUIRED_GRACE"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_mfa_enroll": {"handlers": ["console"], "level": "INFO"}},
}
