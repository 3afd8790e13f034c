"""A bounded load test of the whole MFA flow, over HTTP, with a check of every user's state.

    python benchmarks/flow_load.py [--users 300] [--seconds 60] [--concurrency 4]

It drops and recreates its own PostgreSQL database (``mfa_load``; it refuses a name not
starting with ``mfa_load``), migrates it, creates the users in one ``bulk_create`` sharing
one password hash (Django's MD5 hasher through the example's ``DJANGO_PASSWORD_HASHERS``,
so logins cost the MFA flow's work, not the site's password hasher; ``--site-password-hasher``
keeps Django's default), and starts the example project under
gunicorn (2 sync workers) on 127.0.0.1, with Redis as cache and ``MFA_AUTH_RATE`` at
``1000000/s``. One thread per user then walks the flow a client of the README walks:

    password login (ACCESS) -> create a secret -> enroll with a TOTP code
    -> password login (CHALLENGE) -> /auth/totp with a TOTP code
    -> password login (CHALLENGE) -> /auth/totp with a backup code
    -> [every --probe-every-th user: a new challenge; the spent backup code and the
        already-used TOTP code sent again, each must answer 401]
    -> regenerate the backup codes with a TOTP code

Codes come from pyotp, built from the secret's ``otpauth_url`` as an authenticator app
reads it, at the real clock. The server accepts a time step once per user and one step
either side of now: each TOTP use takes the first step after the last one it accepted and
not behind the clock, sends the next step's code when that step is one ahead, and sleeps
until the clock reaches the step before it when it is two ahead (``plan_totp_step``).

Requests go through a gate of ``--concurrency`` slots (the client's connection pool), a
user further along the flow first: flows finish instead of all stalling half-way. Nothing
is sent after ``--seconds``; a user the deadline catches stops between two requests, and
its state is checked for what it did. Afterwards the database is read through the ORM:
each user's one secret, its status, ``last_step`` (the last step it had accepted),
``challenge_epoch``, ``failure_count``, and its backup codes (which set, how many spent).

It prints requests, errors by status and code and p50/p95/p99 per endpoint, and exits 1 on
any unexpected answer or state mismatch (or when no user finished the flow). gunicorn is
stopped at the end, whatever happened. Loopback only.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402

HOST = common.HOST
WORKERS = common.GUNICORN_WORKERS
PERIOD = 30  # the example project's TOTP settings: SHA1, 6 digits, 30 s, tolerance 1
TOLERANCE = 1
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mfa_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# The whole load comes from one address: a rate high enough never to refuse, so a 429 here is
# an error. (The throttle's counter costs the same at any rate; see benchmarks/README.rst.)
AUTH_RATE = "1000000/s"
# A fixed Fernet key (base64 of 32 bytes): the script and the workers read the same secrets.
FERNET_KEY = base64.urlsafe_b64encode(b"django-mfa-enroll-flow-load-key!").decode()
PASSWORD = "flow-load-password-123"  # noqa: S105 - the load test's users, in its own database
MAX_USERS = 2000
MAX_SECONDS = 900

# Where a user got to; each stage is the state the database must show for it.
NEW, LOGGED_IN, CREATED, ENROLLED, TOTP_LOGIN, BACKUP_LOGIN, PROBED, DONE = range(8)
STAGES = [
    "not started",
    "logged in",
    "secret created",
    "enrolled",
    "TOTP login",
    "backup-code login",
    "replays refused",
    "codes regenerated (done)",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Bounded load test of the MFA flow against the example project."
    )
    parser.add_argument("--users", type=int, default=300, help=f"simulated users, 1 to {MAX_USERS}")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="time in which requests are sent"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once (the gate)"
    )
    parser.add_argument(
        "--probe-every",
        type=int,
        default=10,
        help="every n-th user re-sends a spent backup code and a used TOTP code (0: none)",
    )
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("MFA_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database whose name starts with mfa_load; dropped and recreated",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument(
        "--site-password-hasher",
        action="store_true",
        help="keep Django's default password hasher (each login then costs ~0.5-1 s of CPU)",
    )
    parser.add_argument(
        "--log", default=str(ROOT / "artifacts" / "flow_load" / "gunicorn.log"), help="server log"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be 1 to {MAX_USERS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be 1 to {MAX_SECONDS}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be 1 to 64")
    if args.probe_every < 0:
        parser.error("--probe-every must be 0 or more")
    if not 1 <= args.request_timeout <= 120:
        parser.error("--request-timeout must be 1 to 120 seconds")
    return args


# The schedule of TOTP codes.


def plan_totp_step(last_step: int | None, now_step: int) -> tuple[int, int]:
    """Return (the step whose code to send, the step the clock must be in to send it).

    The step is the first one after ``last_step`` (replay protection accepts each step
    once) and not behind the clock. Sent while the clock is at most one step before it,
    it is within the server's tolerance of one step however the request is delayed (up to
    a whole step): the current step's code, or the next step's.
    """
    step = now_step if last_step is None else max(last_step + 1, now_step)
    return step, max(now_step, step - TOLERANCE)


def ambiguous(totp: pyotp.TOTP, step: int) -> bool:
    """Whether ``step``'s code equals a neighbour's (about 1 in 250,000): the server takes the
    first match in its window, so the step it accepts could differ from the one we mean."""
    code = totp.at(step * PERIOD)
    return any(
        totp.at(other * PERIOD) == code
        for other in range(step - 2 * TOLERANCE, step + 2 * TOLERANCE + 1)
        if other != step
    )


# The client's side: a gate, answers, a user's record.


class Gate:
    """``slots`` requests in flight at once; among waiters, the smallest priority first."""

    def __init__(self, slots: int) -> None:
        self._condition = threading.Condition()
        self._free = slots
        self._waiting: list[tuple[Any, int]] = []
        self._order = itertools.count()

    def acquire(self, priority: Any) -> None:
        with self._condition:
            entry = (priority, next(self._order))
            heapq.heappush(self._waiting, entry)
            while not (self._free > 0 and self._waiting[0] == entry):
                self._condition.wait()
            heapq.heappop(self._waiting)
            self._free -= 1
            self._condition.notify_all()

    def release(self) -> None:
        with self._condition:
            self._free += 1
            self._condition.notify_all()


@dataclass
class Answer:
    status: int  # 0: no answer (connection error or timeout)
    body: Any
    seconds: float

    @property
    def code(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return self.body["code"]
        return "" if self.status else "no answer"


def http_call(
    port: int, method: str, path: str, body: Any, token: str | None, timeout: float
) -> Answer:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"jwt {token}"
    payload = json.dumps(body).encode() if body is not None else None
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        return Answer(0, {"error": type(error).__name__}, time.monotonic() - started)
    finally:
        connection.close()
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = {"unparsed": raw[:200].decode("utf-8", "replace")}
    return Answer(status, parsed, seconds)


@dataclass
class Sample:
    endpoint: str
    status: int
    code: str
    seconds: float
    expected: bool


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: list[Sample] = []
        self.problems: list[str] = []

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)


@dataclass
class UserRun:
    """What one simulated user did: what its state in the database must be."""

    index: int
    username: str
    probe: bool
    stage: int = NEW
    access: str = ""
    secret_id: str = ""
    key_base32: str = field(default="", repr=False)
    steps: list[int] = field(default_factory=list)  # TOTP steps accepted, in order
    first_set: list[str] = field(default_factory=list, repr=False)
    spent: list[str] = field(default_factory=list, repr=False)
    new_set: list[str] = field(default_factory=list, repr=False)
    failures: int = 0  # the failure_count it must have
    epoch: int = 0  # the challenge_epoch it must have
    uncertain: str = ""  # a request whose effect nobody knows: no exact check then
    stopped: str = ""  # why it stopped before the end

    @property
    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.key_base32, digits=6, interval=PERIOD)


class Stop(Exception):
    """The user stops here: the deadline, or an answer it did not expect."""


def _amr(access_token: str) -> list[str]:
    """The ``amr`` claim of a JWT (read, not verified: the server signed it, we only look)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return list(claims.get("amr", []))
    except (IndexError, ValueError, TypeError, AttributeError):
        return []


@dataclass
class Context:
    port: int
    gate: Gate
    deadline: float  # time.monotonic()
    timeout: float
    recorder: Recorder
    stop: threading.Event


class Flow:
    """One user's walk through the flow, in its own thread."""

    def __init__(self, run: UserRun, ctx: Context) -> None:
        self.run, self.ctx = run, ctx

    # Sending.

    def send(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: Callable[[], Any],
        token: str | None,
        expect: int = 200,
    ) -> Answer:
        """Send one request through the gate; ``body`` is built once a slot is ours, so a
        TOTP code is computed at the moment it leaves. Returns the answer; one whose status
        is not ``expect`` is recorded as a problem, and the caller stops."""
        ctx, run = self.ctx, self.run
        self._check_time()
        ctx.gate.acquire((-run.stage, run.index))
        try:
            self._check_time()
            answer = http_call(ctx.port, method, path, body(), token, ctx.timeout)
        finally:
            ctx.gate.release()
        ok = answer.status == expect
        ctx.recorder.add(Sample(endpoint, answer.status, answer.code, answer.seconds, ok))
        if not ok:
            ctx.recorder.problem(
                f"user {run.index} ({STAGES[run.stage]}): {endpoint} answered"
                f" {answer.status} {answer.code or ''} where {expect} was expected:"
                f" {json.dumps(answer.body)[:300]}"
            )
            if answer.status == 0 or answer.status >= 500:
                run.uncertain = f"{endpoint} answered {answer.status or 'nothing'}"
        return answer

    def _check_time(self) -> None:
        if self.ctx.stop.is_set() or time.monotonic() >= self.ctx.deadline:
            raise Stop("deadline")

    def _sleep_until(self, wall_time: float) -> None:
        remaining = wall_time - time.time()
        if remaining > 0:
            if time.monotonic() + remaining >= self.ctx.deadline:
                raise Stop("deadline (waiting for the next time step)")
            if self.ctx.stop.wait(remaining):
                raise Stop("interrupted")

    def expect_ok(self, answer: Answer, endpoint: str, check: bool, what: str) -> None:
        if answer.status == 200 and not check:
            self.ctx.recorder.problem(
                f"user {self.run.index}: {endpoint} answered 200 but {what}:"
                f" {json.dumps(answer.body)[:300]}"
            )
            raise Stop(what)
        if answer.status != 200:
            raise Stop(f"{endpoint} answered {answer.status}")

    def totp_request(
        self, endpoint: str, method: str, path: str, token: str | None, field_name: str
    ) -> tuple[Answer, int]:
        """Send a TOTP code for the next step this user may use (see plan_totp_step)."""
        run = self.run
        totp = run.totp
        last = run.steps[-1] if run.steps else None
        while True:
            step, send_in = plan_totp_step(last, int(time.time()) // PERIOD)
            if not ambiguous(totp, step):
                break
            last = step  # never send a code the server could read as another step's
        self._sleep_until(send_in * PERIOD + 0.05)
        chosen: list[int] = []

        def body() -> dict[str, str]:
            # Planned again at the moment of sending: time passed in the gate.
            now_step = int(time.time()) // PERIOD
            planned, _ = plan_totp_step(last, now_step)
            while ambiguous(totp, planned):
                planned += 1
            if planned > now_step + TOLERANCE:  # cannot happen after the sleep above
                raise Stop("schedule: no usable step")
            chosen.append(planned)
            # What an authenticator app shows at that time: now, or one step ahead.
            return {field_name: totp.at(planned * PERIOD)}

        answer = self.send(endpoint, method, path, body, token)
        if answer.status in (400, 401) and answer.code in ("invalid_code", "code_reused"):
            run.failures += 1  # the server counted it
        return answer, chosen[-1] if chosen else -1

    def password_login(self, expected_type: str) -> str:
        endpoint = f"POST /auth/password -> {expected_type}"
        answer = self.send(
            endpoint,
            "POST",
            "/auth/password",
            lambda: {"username": self.run.username, "password": PASSWORD},
            None,
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        good = body.get("type") == expected_type and isinstance(body.get("token"), str)
        if good and expected_type == "CHALLENGE":
            good = body.get("methods") == ["totp", "backup_code"]
        self.expect_ok(answer, endpoint, good, f"not a {expected_type} answer")
        return str(body["token"])

    # The flow.

    def __call__(self) -> None:
        run = self.run
        try:
            self.walk()
        except Stop as stop:
            run.stopped = str(stop)
        except Exception as error:  # noqa: BLE001 - a bug of the script: report, never hang
            run.stopped = f"script error: {error!r}"
            run.uncertain = run.uncertain or run.stopped
            self.ctx.recorder.problem(f"user {run.index}: script error {error!r}")

    def walk(self) -> None:
        run = self.run
        # 1. Password login, no MFA yet: an access token.
        run.access = self.password_login("ACCESS")
        run.stage = LOGGED_IN

        # 2. A new secret; the app reads the Key URI, as from the QR code.
        endpoint = "POST /users/me/secrets"
        answer = self.send(
            endpoint, "POST", "/users/me/secrets", lambda: {"type": "mfa"}, run.access
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        shown = body.get("secret") or {}
        good = body.get("status") == "pending" and isinstance(shown, dict)
        if good:
            try:
                from_uri = pyotp.parse_uri(shown["otpauth_url"])
                good = (
                    isinstance(from_uri, pyotp.TOTP)
                    and from_uri.secret == shown["secret"]
                    and from_uri.interval == PERIOD
                    and from_uri.digits == 6
                )
            except (KeyError, ValueError, TypeError):
                good = False
        if answer.status == 200 and "id" in body:  # even an answer we dislike made a secret
            run.secret_id, run.key_base32 = str(body["id"]), str(shown.get("secret", ""))
            run.stage = CREATED
        self.expect_ok(answer, endpoint, good, "no usable otpauth_url and secret")
        secret_path = f"/users/me/secrets/{run.secret_id}"

        # 3. Enroll with the code the app shows now.
        endpoint = "PUT /users/me/secrets/:id/enroll"
        answer, step = self.totp_request(
            endpoint, "PUT", f"{secret_path}/enroll", run.access, "token"
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        codes = body.get("codes")
        if answer.status == 200:
            run.steps.append(step)
            run.failures = 0
            run.first_set = list(codes) if isinstance(codes, list) else []
            run.stage = ENROLLED
        self.expect_ok(
            answer,
            endpoint,
            body.get("status") == "active" and isinstance(codes, list) and len(codes) == 10,
            "not active with 10 codes",
        )

        # 4. Password login answers a challenge; a TOTP code redeems it.
        challenge = self.password_login("CHALLENGE")
        endpoint = "POST /auth/totp {token}"
        answer, step = self.totp_request(endpoint, "POST", "/auth/totp", challenge, "token")
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200:
            run.steps.append(step)
            run.failures, run.epoch = 0, run.epoch + 1
            run.stage = TOTP_LOGIN
            run.access = str(body.get("token", ""))
        self.expect_ok(
            answer,
            endpoint,
            body.get("type") == "ACCESS" and _amr(run.access) == ["pwd", "otp", "mfa"],
            "not ACCESS with amr pwd, otp, mfa",
        )

        # 5. Again, with a backup code from the first set.
        challenge = self.password_login("CHALLENGE")
        spent = run.first_set[run.index % len(run.first_set)]
        endpoint = "POST /auth/totp {backup_code}"
        answer = self.send(
            endpoint, "POST", "/auth/totp", lambda: {"backup_code": spent}, challenge
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200:
            run.spent.append(spent)
            run.failures, run.epoch = 0, run.epoch + 1
            run.stage = BACKUP_LOGIN
            run.access = str(body.get("token", ""))
        elif answer.status in (400, 401) and answer.code in ("invalid_code", "code_reused"):
            run.failures += 1
        self.expect_ok(
            answer,
            endpoint,
            body.get("type") == "ACCESS" and _amr(run.access) == ["pwd", "mfa"],
            "not ACCESS with amr pwd, mfa",
        )

        # 6. Some users try both codes again, on a fresh challenge: each must answer 401.
        if run.probe:
            self.probe_replays()
            run.stage = PROBED

        # 7. New backup codes, for a TOTP code of a later step.
        endpoint = "POST /users/me/secrets/:id/codes"
        answer, step = self.totp_request(
            endpoint, "POST", f"{secret_path}/codes", run.access, "token"
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        codes = body.get("codes")
        if answer.status == 200:
            run.steps.append(step)
            run.failures = 0
            run.new_set = list(codes) if isinstance(codes, list) else []
            run.stage = DONE
        self.expect_ok(
            answer,
            endpoint,
            isinstance(codes, list) and len(codes) == 10 and not set(codes) & set(run.first_set),
            "not 10 new codes",
        )

    def probe_replays(self) -> None:
        run = self.run
        challenge = self.password_login("CHALLENGE")
        totp, used = run.totp, run.steps[-1]
        used_code = totp.at(used * PERIOD)
        replays = [("POST /auth/totp replay {backup_code}", {"backup_code": run.spent[-1]})]
        # The step the TOTP login took: still within the window, or just out of it. Unless
        # (about 1 in 100,000) a later step, still unused, happens to show the same code.
        later = range(used + 1, int(time.time()) // PERIOD + 2 * TOLERANCE + 2)
        if all(totp.at(step * PERIOD) != used_code for step in later):
            replays.append(("POST /auth/totp replay {token}", {"token": used_code}))
        for endpoint, payload in replays:
            answer = self.send(
                endpoint, "POST", "/auth/totp", lambda p=payload: p, challenge, expect=401
            )
            if answer.status == 401 and answer.code in ("invalid_code", "code_reused"):
                run.failures += 1
            elif answer.status == 200:
                self.ctx.recorder.problem(f"user {run.index}: REPLAY ACCEPTED at {endpoint}")
                run.uncertain = f"replay accepted at {endpoint}"
                raise Stop("replay accepted")
            else:
                raise Stop(f"{endpoint} answered {answer.status} {answer.code}")


# The server and the database.


def prepare_environment(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "MFA_AUTH_RATE": AUTH_RATE,
        "MFA_ENCRYPTION_KEYS": FERNET_KEY,
        "DJANGO_DEBUG": "0",
    }
    if not args.site_password_hasher:
        # Django's default PBKDF2 makes each password login cost ~0.5-1 s of CPU here: three
        # of them a flow would let two workers finish a few dozen flows a minute, measuring
        # the site's password hasher instead of the MFA flow.
        env["DJANGO_PASSWORD_HASHERS"] = "django.contrib.auth.hashers.MD5PasswordHasher"  # noqa: S105
    os.environ.update(env)
    example = str(ROOT / "example_project")
    if example not in sys.path:
        sys.path.insert(0, example)
    return env


def setup_database(users: int) -> list[str]:
    """Migrate, then create the users in one INSERT with one password hash made by Django's
    default hasher (each login still checks it at full cost). Returns their usernames."""
    import django
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    encoded = make_password(PASSWORD)
    names = [f"flow{index:05d}" for index in range(users)]
    user_model._default_manager.bulk_create(
        [user_model(username=name, password=encoded) for name in names], batch_size=1000
    )
    connections.close_all()
    return names


def launch_gunicorn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return common.launch_gunicorn(
        port,
        "example.wsgi:application",
        ROOT / "example_project",
        log_path,
        env,
        extra=("--timeout", "120", "--graceful-timeout", "10"),
    )


def wait_until_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    common.wait_for_gunicorn(
        process,
        port,
        log_path,
        lambda: http_call(port, "GET", "/users/me/secrets", None, None, 5).status == 401,
    )


# The state check.


def _codes_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["selector"]: row for row in rows}


def check_state(runs: list[UserRun], sample_hashes: Callable[[UserRun], bool]) -> list[str]:
    """Compare each user's secret and backup codes in the database with what it did."""
    from django.contrib.auth import get_user_model

    from django_mfa_enroll import backup_codes
    from django_mfa_enroll.models import BackupCode, Secret

    user_model = get_user_model()
    ids = dict(
        user_model._default_manager.filter(username__in=[r.username for r in runs]).values_list(
            "username", "pk"
        )
    )
    secrets: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in Secret.objects.values():
        secrets[row["user_id"]].append(row)
    codes: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in BackupCode.objects.values():
        codes[row["secret_id"]].append(row)

    mismatches: list[str] = []
    total_secrets = sum(len(rows) for rows in secrets.values())
    expected_secrets = sum(1 for r in runs if r.stage >= CREATED and not r.uncertain)
    uncertain = [r for r in runs if r.uncertain]
    if not uncertain and total_secrets != expected_secrets:
        mismatches.append(f"{total_secrets} secrets in the database, {expected_secrets} made")

    def normal(code: str) -> str:
        result = backup_codes.normalise(code)
        assert result is not None, code  # noqa: S101 - the server's own display form
        return result

    for run in runs:
        if run.uncertain:
            continue  # already an error; its state cannot be predicted
        who = f"user {run.index} ({STAGES[run.stage]})"
        mine = secrets.get(ids.get(run.username), [])
        if run.stage < CREATED:
            if mine:
                mismatches.append(f"{who}: has {len(mine)} secret(s), made none")
            continue
        if len(mine) != 1:
            mismatches.append(f"{who}: has {len(mine)} secrets, made one")
            continue
        secret = mine[0]
        rows = codes.get(secret["id"], [])
        by_selector = _codes_of(rows)
        used = [row for row in rows if row["used_at"] is not None]
        expected: dict[str, Any] = {
            "id": run.secret_id,
            "status": "pending" if run.stage == CREATED else "active",
            "last_step": run.steps[-1] if run.steps else None,
            "failure_count": run.failures,
            "challenge_epoch": run.epoch,
            "locked_until": None,
        }
        actual = {key: secret[key] for key in expected}
        actual["id"] = str(actual["id"])
        for key, value in expected.items():
            if actual[key] != value:
                mismatches.append(f"{who}: {key} is {actual[key]!r}, expected {value!r}")
        if run.stage == CREATED:
            if rows:
                mismatches.append(f"{who}: {len(rows)} backup codes while pending")
            continue
        current_set = run.new_set if run.stage == DONE else run.first_set
        selectors = sorted(backup_codes.selector_of(normal(c)) for c in current_set)
        if sorted(by_selector) != selectors or len(rows) != 10:
            mismatches.append(
                f"{who}: {len(rows)} backup codes with selectors {sorted(by_selector)},"
                f" expected the 10 of the set it holds {selectors}"
            )
        spent_now = [] if run.stage == DONE else run.spent
        if len(used) != len(spent_now):
            mismatches.append(f"{who}: {len(used)} used backup codes, expected {len(spent_now)}")
        for code in spent_now:
            row = by_selector.get(backup_codes.selector_of(normal(code)))
            if row is None or row["used_at"] is None:
                mismatches.append(f"{who}: the backup code it spent is not marked used")
            elif not backup_codes.check(normal(code), row["code_hash"]):
                mismatches.append(f"{who}: the used row is not the code it spent")
        if run.stage == DONE:
            # The old set is gone: every row was made by the regeneration, after enrolling.
            old = [row for row in rows if row["created_at"] <= secret["enrolled_at"]]
            if old:
                mismatches.append(f"{who}: {len(old)} backup codes of the first set remain")
            for code in run.spent:  # the spent code of the old set matches nothing now
                row = by_selector.get(backup_codes.selector_of(normal(code)))
                if row is not None and backup_codes.check(normal(code), row["code_hash"]):
                    mismatches.append(f"{who}: its spent code of the first set still matches")
            if sample_hashes(run):
                for code in run.new_set:
                    row = by_selector.get(backup_codes.selector_of(normal(code)))
                    if row is None or not backup_codes.check(normal(code), row["code_hash"]):
                        mismatches.append(f"{who}: new code {code[:4]}... has no matching row")
        if len(run.steps) != len(set(run.steps)) or run.steps != sorted(run.steps):
            mismatches.append(f"{who}: the script reused a step: {run.steps}")
    return mismatches


# Reporting.


def endpoint_table(samples: list[Sample]) -> str:
    order: list[str] = []
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.endpoint not in by_endpoint:
            order.append(sample.endpoint)
        by_endpoint[sample.endpoint].append(sample)
    rows = []
    for endpoint in order:
        group = by_endpoint[endpoint]
        ms = [s.seconds * 1000 for s in group]
        rows.append(
            [
                endpoint,
                len(group),
                sum(1 for s in group if s.expected),
                sum(1 for s in group if not s.expected),
                round(common.percentile(ms, 0.50), 1),
                round(common.percentile(ms, 0.95), 1),
                round(common.percentile(ms, 0.99), 1),
            ]
        )
    every = [s.seconds * 1000 for s in samples]
    rows.append(
        [
            "all",
            len(samples),
            sum(1 for s in samples if s.expected),
            sum(1 for s in samples if not s.expected),
            round(common.percentile(every, 0.50), 1),
            round(common.percentile(every, 0.95), 1),
            round(common.percentile(every, 0.99), 1),
        ]
    )
    return common.format_table(
        ["endpoint", "requests", "as expected", "unexpected", "p50 ms", "p95 ms", "p99 ms"], rows
    )


def error_table(samples: list[Sample]) -> str:
    counts = Counter(
        (s.endpoint, s.status, s.code or "-", "expected" if s.expected else "UNEXPECTED")
        for s in samples
        if s.status != 200
    )
    if not counts:
        return "(none)\n"
    rows = [[*key, count] for key, count in sorted(counts.items())]
    return common.format_table(["endpoint", "status", "code", "", "count"], rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def out(message: str = "") -> None:
        print(message, flush=True)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = prepare_environment(args)
    name = common.recreate_database(args.database_url, prefix="mfa_load")
    names = setup_database(args.users)
    out(
        f"flow_load: {args.users} users, {args.seconds:g} s, {args.concurrency} requests in"
        f" flight; database {name} (recreated, migrated, {len(names)} users)"
        f" in {time.monotonic() - started:.1f} s"
    )
    port = common.free_port()
    log_path = Path(args.log)
    server = launch_gunicorn(port, env, log_path)
    stop = threading.Event()
    recorder = Recorder()
    runs = [
        UserRun(i, username, probe=bool(args.probe_every) and i % args.probe_every == 0)
        for i, username in enumerate(names)
    ]
    threads: list[threading.Thread] = []
    load_seconds = server_cpu = 0.0
    try:
        wait_until_ready(server, port, log_path)
        out(f"gunicorn: {WORKERS} sync workers on {HOST}:{port}, log {log_path}")
        load_started = time.monotonic()
        ctx = Context(
            port=port,
            gate=Gate(args.concurrency),
            deadline=load_started + args.seconds,
            timeout=args.request_timeout,
            recorder=recorder,
            stop=stop,
        )
        threads = [
            threading.Thread(target=Flow(run, ctx), name=f"user-{run.index}", daemon=True)
            for run in runs
        ]
        cpu_before = common.gunicorn_cpu_seconds(server.pid)
        for thread in threads:
            thread.start()
        # Bounded: nothing is sent after the deadline, and a request lasts its timeout at most.
        hard_stop = ctx.deadline + args.request_timeout + 10
        for thread in threads:
            thread.join(max(0.0, hard_stop - time.monotonic()))
        load_seconds = time.monotonic() - load_started
        server_cpu = common.gunicorn_cpu_seconds(server.pid) - cpu_before
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            recorder.problem(f"{len(stuck)} user threads still running at the hard stop")
    finally:
        stop.set()
        common.stop_gunicorn(server)
        out(f"gunicorn stopped; load phase {load_seconds:.1f} s")

    samples = recorder.samples
    out()
    out(
        f"Requests: {len(samples)} in {load_seconds:.1f} s"
        f" ({len(samples) / max(load_seconds, 0.001):.1f}/s); gunicorn's CPU {server_cpu:.1f} s"
        f" ({1000 * server_cpu / max(len(samples), 1):.0f} ms a request)"
    )
    out(endpoint_table(samples))
    out("Non-200 answers, by endpoint, status and code:")
    out(error_table(samples))

    stages = Counter(run.stage for run in runs)
    done = stages[DONE]
    out(f"Flows: {done}/{len(runs)} users finished the whole flow.")
    for stage in range(DONE):
        if stages[stage]:
            reasons = Counter(run.stopped for run in runs if run.stage == stage)
            why = ", ".join(f"{reason or '?'}: {count}" for reason, count in reasons.items())
            out(f"  stopped after '{STAGES[stage]}': {stages[stage]} ({why})")
    if done < len(runs) and done:
        per_flow = server_cpu / done
        out(
            f"  Not all finished in {args.seconds:g} s: the server is CPU-bound, about"
            f" {per_flow:.1f} s of gunicorn CPU per finished flow (3 password logins at"
            f" Django's default PBKDF2 cost, 2 sets of 10 backup-code hashes). {len(runs)} users"
            f" would need about {len(runs) * load_seconds / done:.0f} s here (--seconds)."
        )
    probed = [run for run in runs if run.probe and run.stage >= PROBED]
    out(
        f"Replays: {len(probed)} users re-sent their spent backup code and their used TOTP code"
        f" on a fresh challenge; {sum(s.expected for s in samples if 'replay' in s.endpoint)}"
        f" of {sum(1 for s in samples if 'replay' in s.endpoint)} answered 401."
    )

    out()
    check_started = time.monotonic()
    mismatches = check_state(runs, sample_hashes=lambda run: run.probe)
    checked = [run for run in runs if not run.uncertain]
    started_runs = sum(1 for run in checked if run.stage > NEW)
    out(
        f"State check (Django ORM, {time.monotonic() - check_started:.1f} s): {len(checked)}"
        f" users compared with what they did ({started_runs} that started, the others must"
        f" have no secret): one secret, status, last_step = the last step accepted,"
        f" challenge_epoch, failure_count, backup codes (which set, which spent, the old set"
        f" gone); {len(mismatches)} mismatches."
    )
    for line in mismatches[:30]:
        out(f"  MISMATCH {line}")
    problems = recorder.problems
    for line in problems[:30]:
        out(f"  ERROR {line}")
    unexpected = sum(1 for s in samples if not s.expected)
    failed = bool(mismatches or problems or unexpected or done == 0)
    out()
    out(
        f"Result: {'FAIL' if failed else 'OK'}: {unexpected} unexpected answers,"
        f" {len(mismatches)} state mismatches, {done} complete flows;"
        f" wall time {time.monotonic() - started:.1f} s."
    )
    if done == 0 and not (mismatches or problems or unexpected):
        out("  (no user finished the flow: give it more --seconds)")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted (gunicorn stopped)", file=sys.stderr)
        sys.exit(130)
