"""Settings for the test suite.

``MFA_TEST_USER_MODEL=uuid`` swaps in a custom user with a UUID primary key (the suite runs
once with each: see ``python -m tests``). ``DATABASE_URL`` selects the database (SQLite in
memory by default) and ``REDIS_URL`` the cache.
"""

import os

import dj_database_url

SECRET_KEY = "tests-only-not-secret-but-long-enough-for-hs256-keys"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_mfa_enroll",
]

USER_MODEL = os.environ.get("MFA_TEST_USER_MODEL", "auth")
# tests/test_simplejwt_views.py runs itself once more without simplejwt's blacklist app:
# its refusals must not depend on it.
WITHOUT_BLACKLIST = os.environ.get("MFA_TEST_WITHOUT_BLACKLIST") == "1"
if WITHOUT_BLACKLIST:
    INSTALLED_APPS.remove("rest_framework_simplejwt.token_blacklist")
if USER_MODEL == "uuid":
    INSTALLED_APPS.append("tests.uuid_user")
    AUTH_USER_MODEL = "uuid_user.UUIDUser"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_mfa_enroll.middleware.MFASessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

AUTHENTICATION_BACKENDS = ["django_mfa_enroll.backends.MFAModelBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
        os.environ.get("DATABASE_URL", "sqlite://:memory:"), conn_max_age=0
    )
}
DATABASES["default"]["TEST"] = {
    "NAME": f"test_mfa_enroll_{USER_MODEL}{'_noblacklist' if WITHOUT_BLACKLIST else ''}"
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {}  # in memory
    # Writers queue at BEGIN instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE"}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"mfa-tests-{USER_MODEL}",
        }
    }

# Fast password hashing for test users; backup codes use their own hasher and settings.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

MFA_ENROLL = {
    "ISSUER": "Example",
    "ENCRYPTION_KEYS": ["q8VQ4W8Pq1k0Yq2V7wQ1kz0E5sLrB9bq0cYt8wP3s2E="],
    # Tests hash many backup codes; the production default (20,000) is measured in benchmarks/.
    "BACKUP_CODE_ITERATIONS": 1_000,
    # The suite logs in far more often than a person; the throttle has tests of its own.
    "AUTH_RATE": "10000/min",
}

# simplejwt's own views, routed in tests/urls.py, with the serializers that follow the
# user's MFA state (README); sliding tokens too, so their doors are tested.
SIMPLE_JWT = {
    "TOKEN_OBTAIN_SERIALIZER": "django_mfa_enroll.token_serializers.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "django_mfa_enroll.token_serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "django_mfa_enroll.token_serializers.TokenVerifySerializer",
    "SLIDING_TOKEN_OBTAIN_SERIALIZER": (
        "django_mfa_enroll.token_serializers.TokenObtainSlidingSerializer"
    ),
    "SLIDING_TOKEN_REFRESH_SERIALIZER": (
        "django_mfa_enroll.token_serializers.TokenRefreshSlidingSerializer"
    ),
    "AUTH_TOKEN_CLASSES": (
        "rest_framework_simplejwt.tokens.AccessToken",
        "rest_framework_simplejwt.tokens.SlidingToken",
    ),
}

# As README recommends for a site's own views: the app's error shape everywhere.
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "django_mfa_enroll.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "COMPONENT_SPLIT_REQUEST": True,
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
