"""What the benchmark's parts share: statistics, the fake clock, hash and query meters, seeding.

Seeding writes rows straight into PostgreSQL with COPY: users, active secrets whose keys are
encrypted with the app's own ``crypto`` and ``services.encryption_keys()``, and backup codes.
Hashing 100,000 sets of codes would take hours, so only the codes a run will spend get a real
hash; every other row carries one shared, well-formed PBKDF2 hash (20,000 iterations) of a
code nobody holds, so a wrong guess against it costs exactly what it costs in production.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PERIOD = 30


# Statistics.


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values``, interpolating linearly between ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    """Median, p95, p99, mean and min of timings in nanoseconds, in milliseconds."""
    ms = [value / 1e6 for value in samples_ns]
    return {
        "median_ms": round(statistics.median(ms), 4),
        "p95_ms": round(percentile(ms, 0.95), 4),
        "p99_ms": round(percentile(ms, 0.99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "min_ms": round(min(ms), 4),
    }


# The services' clock, moved by hand: replay protection accepts each time step once per secret.


class Clock:
    """Stands in for ``django_mfa_enroll.services.clock.now`` in the benchmark process."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def next_step(self) -> None:
        self.now += timedelta(seconds=PERIOD)

    def step(self) -> int:
        return int(self.now.timestamp()) // PERIOD


def code_for(key: bytes, when: float) -> str:
    """The six-digit code an authenticator app shows at Unix time ``when``."""
    from django_mfa_enroll import totp

    return totp.code_at_step(key, int(when) // PERIOD)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def key_from_base32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


# Meters.


@dataclass
class HashMeter:
    """Counts and times every PBKDF2 evaluation Django's hashers make (passwords and codes).

    Django's PBKDF2 hashers call the name ``pbkdf2`` imported into
    ``django.contrib.auth.hashers``; the meter replaces it with a counting wrapper.
    """

    calls: int = 0
    iterations: list[int] = field(default_factory=list)
    ns: int = 0

    def install(self) -> None:
        from django.contrib.auth import hashers

        real = hashers.pbkdf2

        def metered(password: Any, salt: Any, iterations: int, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return real(password, salt, iterations, *args, **kwargs)
            finally:
                self.ns += time.perf_counter_ns() - started
                self.calls += 1
                self.iterations.append(iterations)

        hashers.pbkdf2 = metered

    def reset(self) -> None:
        self.calls, self.iterations, self.ns = 0, [], 0


def app_statements(captured: Iterable[dict[str, Any]]) -> list[str]:
    """Statements on the app's own tables, counted as tests/test_login_mfa.py counts them."""
    return [q["sql"] for q in captured if "django_mfa_enroll_" in q["sql"]]


# Deterministic users, so every process (the seeder, the load generator) knows each key.

NAMESPACE = uuid.UUID("6f1b2c9e-8d7a-4e43-9a55-3b0d6c1f2e80")


def user_uuid(index: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"user-{index}")


#: The password column of a seeded user: unusable (they log in by minted challenges), and
#: what a minted challenge's password stamp is made from.
SEEDED_PASSWORD = "!"  # noqa: S105 - an unusable hash, not a password


def secret_uuid(index: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"secret-{index}")


def username(index: int) -> str:
    return f"bench{index:07d}"


def user_key(index: int) -> bytes:
    """A 160-bit TOTP key per user, derived from the index (a benchmark, not a secret)."""
    return hashlib.sha256(f"mfa-bench-key-{index}".encode()).digest()[:20]


def challenge_for(index: int, epoch: int = 0) -> str:
    """A login challenge for seeded user ``index``, as /auth/password issues it, minted by the
    app's own ``ChallengeToken.for_secret`` from a stand-in for the secret (no query)."""
    from types import SimpleNamespace

    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    from django_mfa_enroll.authentication import ChallengeToken

    secret = SimpleNamespace(
        pk=secret_uuid(index),
        user_id=user_uuid(index),
        user=SimpleNamespace(
            password=SEEDED_PASSWORD, **{jwt_settings.USER_ID_FIELD: user_uuid(index)}
        ),
        challenge_epoch=epoch,
    )
    return str(ChallengeToken.for_secret(secret))


SELECTORS = "23456789ab"  # the ten selectors each seeded user's set has


def backup_code(index: int, slot: int) -> str:
    """The normalised backup code in ``slot`` (0-9) of user ``index``'s seeded set."""
    from django_mfa_enroll.backup_codes import ALPHABET, SECRET_LENGTH

    digest = hashlib.sha256(f"mfa-bench-code-{index}-{slot}".encode()).digest()
    return SELECTORS[slot] + "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:SECRET_LENGTH])


def recreate_database(url: str, prefix: str = "mfa_bench") -> str:
    """Drop and create one of the benchmarks' own PostgreSQL databases; return its name.

    Only a name starting with ``prefix`` (``mfa_bench``, ``mfa_load``) is ever dropped.
    """
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit(f"the benchmarks need PostgreSQL, not {config['ENGINE']}")
    name = config["NAME"]
    if not name.startswith(prefix):
        raise SystemExit(f"refusing to drop {name!r}: this benchmark's database is {prefix}*")
    conninfo = psycopg.conninfo.make_conninfo(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres",
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        connect_timeout=10,
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def with_database_name(url: str, name: str) -> str:
    """The same database URL, naming another database on the same server."""
    base, _slash, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


# Seeding through COPY.


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    names = ", ".join(f'"{column}"' for column in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608
        for row in rows:
            copy.write_row(row)


def _row_writer(model: Any, explicit: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The columns a COPY into ``model``'s table names: ``explicit`` first, then the others;
    and the constant values (their defaults) of the others, to follow each row's own."""
    columns, constants = list(explicit), []
    for model_field in model._meta.concrete_fields:
        if model_field.attname in explicit or model_field.auto_created:
            continue
        columns.append(model_field.column)
        constants.append(model_field.get_default())
    return columns, constants


def seed(
    start: int,
    count: int,
    *,
    now: datetime,
    real_codes: Callable[[int], dict[int, str]] | None = None,
    used_slots: Callable[[int], Iterable[int]] | None = None,
    dummy_hash: str,
    progress: Callable[[str], None] = lambda message: None,
) -> None:
    """Insert users ``start`` .. ``start + count - 1``, each with an active secret and ten codes.

    ``real_codes(index)`` names the slots that get a real hash ({slot: code hash}); the others
    get ``dummy_hash``. ``used_slots(index)`` names slots already spent.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    from django_mfa_enroll import crypto, services
    from django_mfa_enroll.models import BackupCode, Secret

    user_model = get_user_model()
    keys = services.encryption_keys()
    user_columns, user_constants = _row_writer(
        user_model, ["id", "password", "username", "email", "date_joined"]
    )
    secret_columns, secret_constants = _row_writer(
        Secret,
        [
            "id",
            "user_id",
            "status",
            "encrypted_key",
            "created_at",
            "enrolled_at",
            "challenge_epoch",
        ],
    )
    batch = 20_000
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        for first in range(start, start + count, batch):
            indexes = range(first, min(first + batch, start + count))
            _copy(
                cursor,
                user_model._meta.db_table,
                user_columns,
                (
                    [user_uuid(i), SEEDED_PASSWORD, username(i), f"{username(i)}@example.org", now]
                    + user_constants
                    for i in indexes
                ),
            )
            _copy(
                cursor,
                Secret._meta.db_table,
                secret_columns,
                (
                    [
                        secret_uuid(i),
                        user_uuid(i),
                        Secret.Status.ACTIVE.value,
                        crypto.encrypt(user_key(i), keys),
                        now,
                        now,
                        0,
                    ]
                    + secret_constants
                    for i in indexes
                ),
            )

            def code_rows(indexes: range = indexes) -> Iterable[list[Any]]:
                for i in indexes:
                    real = real_codes(i) if real_codes else {}
                    used = set(used_slots(i)) if used_slots else set()
                    for slot, selector in enumerate(SELECTORS):
                        yield [
                            secret_uuid(i),
                            selector,
                            real.get(slot, dummy_hash),
                            now,
                            now if slot in used else None,
                        ]

            _copy(
                cursor,
                BackupCode._meta.db_table,
                ["secret_id", "selector", "code_hash", "created_at", "used_at"],
                code_rows(),
            )
            progress(f"seeded {min(first + batch, start + count) - start:,}/{count:,} users")
        cursor.execute(f"ANALYZE {user_model._meta.db_table}")
        cursor.execute(f"ANALYZE {Secret._meta.db_table}")
        cursor.execute(f"ANALYZE {BackupCode._meta.db_table}")


def truncate_all() -> None:
    """Empty the users table and everything hanging off it (the benchmark's own database)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{get_user_model()._meta.db_table}" CASCADE')


def make_dummy_hash(iterations: int) -> str:
    """A well-formed PBKDF2 hash of a code nobody holds: checking against it costs a real hash."""
    from django_mfa_enroll import backup_codes

    return backup_codes.make_hash("z" * backup_codes.CODE_LENGTH, iterations)


def real_hash(code: str, iterations: int) -> str:
    from django_mfa_enroll import backup_codes

    return backup_codes.make_hash(code, iterations)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in cells)) if cells else len(str(header))
        for i, header in enumerate(headers)
    ]
    numeric = [
        all(_is_number(row[i]) for row in rows if row[i] not in (None, ""))
        for i in range(len(headers))
    ]
    out = io.StringIO()
    line = "  ".join(
        str(h).rjust(w) if numeric[i] else str(h).ljust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out.write(line.rstrip() + "\n" + "-" * len(line.rstrip()) + "\n")
    for row in cells:
        out.write(
            "  ".join(
                value.rjust(w) if numeric[i] else value.ljust(w)
                for i, (value, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            + "\n"
        )
    return out.getvalue()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


# gunicorn on loopback, for the HTTP benchmark and the load test.

HOST = "127.0.0.1"  # loopback only
GUNICORN_WORKERS = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def launch_gunicorn(
    port: int,
    app: str,
    chdir: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start gunicorn (``GUNICORN_WORKERS`` sync workers) on ``HOST:port``, its output in
    ``log_path``; wait for it with ``wait_for_gunicorn``, end it with ``stop_gunicorn``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(GUNICORN_WORKERS),
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(chdir),
        *extra,
        "--log-level",
        "warning",
        app,
    ]
    with open(log_path, "wb") as log_file:
        # Its own process group, so that stop_gunicorn reaches the workers too.
        return subprocess.Popen(  # noqa: S603
            command,
            env={**os.environ, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_gunicorn(
    process: subprocess.Popen[bytes], port: int, log_path: Path, ready: Callable[[], bool]
) -> None:
    """Return once ``ready()`` says so; raise if gunicorn exits or 60 s pass (``ready`` may
    raise OSError while nothing listens yet)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {HOST}:{port} within 60 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (graceful), then SIGKILL to its process group if anything is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):  # all gone already
        os.killpg(process.pid, signal.SIGKILL)  # its own group: the master and its workers
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def gunicorn_cpu_seconds(master: int, *, with_master: bool = True) -> float:
    """User + system CPU seconds of gunicorn's workers (the master's children), and of the
    master unless ``with_master`` is False, from /proc (Linux)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            fields = stat.read_text().rpartition(")")[2].split()
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(fields[1]) == master or (with_master and pid == master):  # [1]: the parent
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")
