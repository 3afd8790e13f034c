"""Start the example site for a newcomer: migrate, make a demo user, print how to walk the flow."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

GUIDE = """
django-mfa-enroll example site, on {db}
Demo user: {username} / {password}  (id {user_id})

Click through it in a browser: http://{addr}/site/
  sign in, set up two-step verification on the Security page with any authenticator app,
  save the backup codes, sign out and in again. The pages are plain HTML and JavaScript
  (example_project/pages/) calling the JSON API below, as your own front end would.

Or walk the tutorial in another terminal (any JSON client will do; curl shown):

  B=http://{addr}
  # 1. log in with the password; keep the access token
  T=$(curl -s $B/auth/password -H 'Content-Type: application/json' \\
        -d '{{"username": "{username}", "password": "{password}"}}' | {py} -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  # 2. create an MFA secret (the answer holds otpauth_url and the base32 secret)
  curl -s -X POST $B/users/me/secrets -H "Authorization: jwt $T" \\
        -H 'Content-Type: application/json' -d '{{"type": "mfa"}}'
  # 3. scan $B/users/me/secrets/<id>/qrcode (PNG; ?format=svg) or compute a code:
  #      oathtool --totp -b <SECRET>     or     {py} -c "import pyotp; print(pyotp.TOTP('<SECRET>').now())"
  # 4. confirm with that first code; the answer carries your backup codes, shown once
  curl -s -X PUT $B/users/me/secrets/<id>/enroll -H "Authorization: jwt $T" \\
        -H 'Content-Type: application/json' -d '{{"token": "<CODE>"}}'

  # 5. from now on the password answers a CHALLENGE; a code (or a backup code) redeems it
  C=$(curl -s $B/auth/password -H 'Content-Type: application/json' \\
        -d '{{"username": "{username}", "password": "{password}"}}' | {py} -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -s -X POST $B/auth/totp -H "Authorization: jwt $C" -H 'Content-Type: application/json' -d '{{"token": "<NEXT CODE>"}}'

Also: the browsable API at http://{addr}/users/me/secrets (log in at http://{addr}/admin/
with the demo user, who is staff; once MFA is on, the admin asks for the code too). Stop with Ctrl-C.
"""


class Command(BaseCommand):
    help = "Migrate the database, create the demo user and start the example site."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--username", default="alice")
        parser.add_argument("--password", default="demo-password-123")

    def handle(self, *args, addrport, username, password, **options):
        call_command("migrate", interactive=False, verbosity=0)
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org", "is_staff": True}
        )
        if created:
            user.set_password(password)
            user.save()
        from django.db import connection

        self.stdout.write(
            GUIDE.format(
                db=connection.vendor,
                username=username,
                password=password if created or user.check_password(password) else "(unchanged)",
                user_id=user.pk,
                addr=addrport,
                py=os.path.relpath(os.sys.executable),
            )
        )
        call_command("runserver", addrport, use_reloader=False)
