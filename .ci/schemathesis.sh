#!/usr/bin/env bash
# Schemathesis against the running example project: every endpoint of its OpenAPI schema,
# authenticated, a bounded number of examples, the default checks. Loopback only; stops
# by itself. Uses DATABASE_URL / REDIS_URL from the environment (the PostgreSQL run).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
port=${SCHEMATHESIS_PORT:-8765}
examples=${SCHEMATHESIS_EXAMPLES:-40}
export DJANGO_SETTINGS_MODULE=example.settings MFA_AUTH_RATE=1000000/min
manage() { "$python" example_project/manage.py "$@"; }

# The checks run after the clean-up below: secrets an earlier run left under another
# SECRET_KEY (each checkout makes its own) would stop them (E007).
manage migrate --noinput -v 0 --skip-checks
manage shell -v 0 -c "
from django.contrib.auth import get_user_model
from django_mfa_enroll.models import Secret
User = get_user_model()
user, _ = User.objects.get_or_create(username='fuzz')
user.set_password('fuzz-password-123'); user.save()
Secret.objects.filter(user=user).delete()
"
manage check --fail-level ERROR
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "port $port is taken: set SCHEMATHESIS_PORT" >&2
    exit 2
fi
"$python" example_project/manage.py runserver "127.0.0.1:$port" --noreload \
    >/tmp/schemathesis-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/api/schema/" && break
    sleep 0.2
done
# The fuzz user's token comes from .ci/schemathesis_auth.py, minted again after a 401: the
# fuzzer sets the user's password, which ends every token of theirs.
export SCHEMATHESIS_HOOKS=schemathesis_auth PYTHONPATH=".ci${PYTHONPATH:+:$PYTHONPATH}"
"$(dirname "$python")/schemathesis" run "http://127.0.0.1:$port/api/schema/" \
    --max-examples "$examples" \
    --request-timeout 20 \
    --no-color \
    "$@"
