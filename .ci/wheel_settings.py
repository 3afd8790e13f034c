"""The least a site needs to run django-mfa-enroll: used by .ci/run on the built wheel."""

SECRET_KEY = "wheel-check-only-not-secret-but-long-enough-for-hs256"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_mfa_enroll",
]
AUTHENTICATION_BACKENDS = ["django_mfa_enroll.backends.MFAModelBackend"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "django_mfa_enroll.urls"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_mfa_enroll.middleware.MFASessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
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
USE_TZ = True
MFA_ENROLL = {"ENCRYPTION_KEYS": ["q8VQ4W8Pq1k0Yq2V7wQ1kz0E5sLrB9bq0cYt8wP3s2E="]}
