"""Schemathesis' credential for the fuzz user: an access token as /auth/password issues it,
minted in this process from the example project's database, and minted again after a 401.

The fuzzer sets the fuzz user's password (``{"type": "password"}``), which ends every
token of the user, as it must: a token read once from the command line would leave the
rest of the run at 401. Loaded by .ci/schemathesis.sh through SCHEMATHESIS_HOOKS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
import schemathesis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "example_project"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django.setup()


@schemathesis.auth(refresh_interval=60)  # and at once after a 401 (retry_on's default)
class FuzzUserToken:
    def get(self, case, context):
        from django.contrib.auth import get_user_model

        from django_mfa_enroll import services
        from django_mfa_enroll.authentication import access_answer

        user = get_user_model().objects.get(username="fuzz")
        return access_answer(user, services.AMR[None], services.clock.now())["token"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"jwt {data}"}
