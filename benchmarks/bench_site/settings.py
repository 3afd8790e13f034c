"""The example project's settings, plus the floor endpoint's URLconf and the benchmark's knobs.

Everything else (middleware, authentication backend, DATABASE_URL, REDIS_URL,
MFA_AUTH_RATE, MFA_ENCRYPTION_KEYS from the environment) is the example site's, so the
benchmark measures what a site built from the README runs. ``benchmarks/run.py`` sets the
environment; ``example_project/`` must be on ``sys.path`` (run.py and gunicorn see to it).
"""

import os

from example.settings import *  # noqa: F403
from example.settings import MFA_ENROLL as _MFA_ENROLL

ROOT_URLCONF = "benchmarks.bench_site.urls"
WSGI_APPLICATION = "benchmarks.bench_site.wsgi.application"

# The production default, stated so a change of default shows in the benchmark's JSON.
MFA_ENROLL = {**_MFA_ENROLL, "BACKUP_CODE_ITERATIONS": 20_000}
# A policy that names one user, and trusted devices on: their cost beside a login's.
MFA_ENROLL["REQUIRED"] = "benchmarks.bench_site.policy.must_use_mfa"
MFA_ENROLL["TRUST_DAYS"] = 30
# ``run.py --auth-rate off`` turns the per-IP throttle off, to show its share of the cost.
if MFA_ENROLL["AUTH_RATE"] == "off":
    MFA_ENROLL["AUTH_RATE"] = None

# A key prefix of its own, so the benchmark never reads or clears the tests' throttle keys.
for _cache in globals().get("CACHES", {}).values():
    _cache["KEY_PREFIX"] = "mfa-bench"

# The app logs one INFO line per accepted code; it is part of the cost, so it stays on, but
# into a file rather than over the benchmark's table.
_LOG_FILE = os.environ.get("MFA_BENCH_LOG", os.devnull)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": _LOG_FILE}},
    "loggers": {"django_mfa_enroll": {"handlers": ["file"], "level": "INFO"}},
}
