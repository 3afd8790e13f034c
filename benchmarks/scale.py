"""Part 3: the second factor and backup codes with 1,000 and with 100,000 users (PostgreSQL).

Two databases, one per size, each seeded by a worker process of its own with COPY
(``common.seed``): users, active secrets, ten backup codes each. Both get the treatment a
table in service has had (VACUUM ANALYZE, then a CHECKPOINT so a bulk load's writes do not
land in one size's timings). The parent then runs every operation on both sizes in rounds,
alternating which goes first, on a sample of users spread over the whole table: the two
sizes are measured in the same minutes of the same machine, and only the table size
differs. The floor endpoint runs on both as a control.

Import it once Django is set up (``run.py`` does).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from django_mfa_enroll import services
from django_mfa_enroll.conf import mfa_settings
from django_mfa_enroll.models import BackupCode, Secret

from . import common
from .inprocess import Harness, Op, _expect_error, _expect_status, _ok, _post

SMALL, LARGE = 1_000, 100_000
ROOT = Path(__file__).resolve().parent.parent


def _maintain() -> None:
    """What a table in service has had: statistics, a visibility map, no pending checkpoint."""
    tables = [get_user_model()._meta.db_table, Secret._meta.db_table, BackupCode._meta.db_table]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'VACUUM ANALYZE "{table}"')
        cursor.execute("CHECKPOINT")


def _sample(total: int, size: int) -> list[int]:
    """``size`` user indexes spread evenly over ``total`` (the middle of each stride)."""
    stride = total // size
    return [k * stride + stride // 2 for k in range(size)]


def _prepare_last_codes(indexes: list[int], iterations: int) -> None:
    """Spend nine of each user's ten codes and give the tenth a real hash."""
    last = common.SELECTORS[-1]
    secrets = [common.secret_uuid(i) for i in indexes]
    BackupCode.objects.filter(secret_id__in=secrets).exclude(selector=last).update(
        used_at=timezone.now()
    )
    for i in indexes:
        code = common.backup_code(i, len(common.SELECTORS) - 1)
        BackupCode.objects.filter(secret_id=common.secret_uuid(i), selector=last).update(
            code_hash=common.real_hash(code, iterations), used_at=None
        )


def _operations(harness: Harness, sample: list[int]) -> list[Op]:
    """The operations each worker measures; how many runs, the parent decides."""
    clock, client = harness.clock, harness.client
    full = sample[0::2]  # a full set of unused codes: TOTP and wrong backup codes
    last = sample[1::2]  # nine codes spent: the last unused one
    cycles = {name: itertools.cycle(full) for name in ("right", "wrong", "hit", "http", "floor")}
    cycle_last = itertools.cycle(last)

    def fresh(index: int) -> dict[str, Any]:
        clock.next_step()
        Secret.objects.filter(pk=common.secret_uuid(index)).update(
            failure_count=0, locked_until=None
        )
        epoch = (
            Secret.objects.values_list("challenge_epoch", flat=True)
            .filter(pk=common.secret_uuid(index))
            .get()
        )
        code = common.code_for(common.user_key(index), clock.now.timestamp())
        return {"index": index, "code": code, "wrong": common.wrong_code(code), "epoch": epoch}

    def challenge(context: dict[str, Any]) -> dict[str, Any]:
        context["challenge"] = f"jwt {common.challenge_for(context['index'], context['epoch'])}"
        return context

    def reset_last() -> dict[str, Any]:
        index = next(cycle_last)
        BackupCode.objects.filter(
            secret_id=common.secret_uuid(index), selector=common.SELECTORS[-1]
        ).update(used_at=None)
        return fresh(index)

    def floor_setup() -> dict[str, Any]:
        token = AccessToken()
        token[jwt_settings.USER_ID_CLAIM] = str(common.user_uuid(next(cycles["floor"])))
        return {"auth": f"Bearer {token}"}  # the floor is behind simplejwt's own class

    def verify(typed: Callable[[dict[str, Any]], str], method: str) -> Callable[[Any], Any]:
        def call(c: dict[str, Any]) -> Any:
            try:
                return services.verify_second_factor(
                    common.user_uuid(c["index"]),
                    common.secret_uuid(c["index"]),
                    typed(c),
                    method=method,
                    epoch=c["epoch"],
                )
            except services.MFAError as error:
                return error

        return call

    def wrong_backup(c: dict[str, Any]) -> str:
        code = common.backup_code(c["index"], 0)  # its row holds the shared dummy hash
        return code[:-1] + ("2" if code[-1] != "2" else "3")

    def last_backup(c: dict[str, Any]) -> str:
        return common.backup_code(c["index"], len(common.SELECTORS) - 1)

    return [
        Op(
            "floor",
            "floor: JWT auth + 1 indexed SELECT + 1 UPDATE",
            "client",
            floor_setup,
            lambda c: _post(client, "/bench/floor", {"note": "x"}, c["auth"]),
            _expect_status(200),
            0,
        ),
        Op(
            "totp_right",
            "TOTP second factor, right code",
            "service",
            lambda: fresh(next(cycles["right"])),
            verify(lambda c: c["code"], services.TOTP),
            _ok,
            0,
        ),
        Op(
            "totp_right",
            "TOTP right code  POST /auth/totp",
            "client",
            lambda: challenge(fresh(next(cycles["http"]))),
            lambda c: _post(client, "/auth/totp", {"token": c["code"]}, c["challenge"]),
            _expect_status(200),
            0,
        ),
        Op(
            "totp_wrong",
            "TOTP second factor, wrong code",
            "service",
            lambda: fresh(next(cycles["wrong"])),
            verify(lambda c: c["wrong"], services.TOTP),
            _expect_error(services.InvalidCode),
            0,
        ),
        Op(
            "backup_wrong_hit",
            "backup code, wrong, full set (row hit)",
            "service",
            lambda: fresh(next(cycles["hit"])),
            verify(wrong_backup, services.BACKUP_CODE),
            _expect_error(services.InvalidCode),
            0,
        ),
        Op(
            "backup_last",
            "backup code, the last unused one",
            "service",
            reset_last,
            verify(last_backup, services.BACKUP_CODE),
            _ok,
            0,
        ),
    ]


def _op_id(op: Op) -> str:
    return f"{op.key}/{op.layer}"


def serve() -> None:
    """The worker's side: seed one database, then measure what the parent asks, in JSON lines.

    Started by ``run()`` as ``python -m benchmarks.scale_worker`` with DATABASE_URL naming
    its own database; stdout carries only the protocol (everything else goes to stderr).
    """
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    harness: Harness | None = None
    ops: dict[str, Op] = {}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    for line in sys.stdin:
        message = json.loads(line)
        command = message["command"]
        answer: dict[str, Any] = {}
        if command == "setup":
            started = time.monotonic()
            total, quick = message["users"], message["quick"]
            call_command("migrate", verbosity=0, interactive=False)
            iterations = mfa_settings.BACKUP_CODE_ITERATIONS
            common.seed(
                0,
                total,
                now=timezone.now(),
                dummy_hash=common.make_dummy_hash(iterations),
                progress=lambda text, total=total: log(f"scale {total:,}: {text}"),
            )
            _maintain()
            sample = _sample(total, message["sample"])
            _prepare_last_codes(sample[1::2], iterations)
            harness = Harness(quick=quick, log=log)
            ops = {_op_id(op): op for op in _operations(harness, sample)}
            answer = {
                "seconds": round(time.monotonic() - started, 1),
                "ops": [[_op_id(op), op.key, op.name, op.layer] for op in ops.values()],
                "rows": {
                    "secrets": Secret.objects.count(),
                    "backup_codes": BackupCode.objects.count(),
                },
            }
        elif command == "measure" and harness is not None:
            answer = harness.raw(ops[message["op"]], message["runs"], message["warmup"])
        elif command == "count" and harness is not None:
            answer = harness.count(ops[message["op"]])
        elif command == "explain":
            answer = _plans(message["users"])
        elif command == "quit":
            break
        else:
            answer = {"error": f"unknown or premature command {command!r}"}
        protocol.write(json.dumps(answer, default=str) + "\n")
        protocol.flush()


class Worker:
    """A worker process on its own database, spoken to in JSON lines."""

    def __init__(self, users: int, database_url: str, artifacts: Path) -> None:
        self.users = users
        self.stderr = (artifacts / f"scale-{users}.log").open("w")
        env = {**os.environ, "DATABASE_URL": database_url}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "benchmarks.scale_worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )

        self.to_worker = cast(IO[str], self.process.stdin)
        self.from_worker = cast(IO[str], self.process.stdout)

    def send(self, **message: Any) -> None:
        self.to_worker.write(json.dumps(message) + "\n")
        self.to_worker.flush()

    def receive(self) -> Any:
        line = self.from_worker.readline()
        if not line:
            raise RuntimeError(f"the {self.users:,}-user worker died; see {self.stderr.name}")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def ask(self, **message: Any) -> Any:
        self.send(**message)
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(command="quit")
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=10)
        self.stderr.close()


def _summary(
    key: str, name: str, layer: str, raw: dict[str, list[int]], counted: dict[str, Any]
) -> dict[str, Any]:
    summary = {
        "key": key,
        "name": name,
        "layer": layer,
        "runs": len(raw["elapsed"]),
        **common.summary_ms(raw["elapsed"]),
        "cpu_median_ms": round(common.percentile(raw["cpu"], 0.5) / 1e6, 4),
        **{k: v for k, v in counted.items() if k != "statements"},
    }
    if any(raw["hashed"]):
        # What the table's size can change: everything but the one PBKDF2 evaluation.
        rest = [total - hashed for total, hashed in zip(raw["elapsed"], raw["hashed"], strict=True)]
        summary["without_hashing_median_ms"] = round(common.percentile(rest, 0.5) / 1e6, 4)
    return summary


def run(
    *, quick: bool, database_url: str, artifacts: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """Seed 1,000 and 100,000 users in two databases; measure both, interleaved; compare.

    Each size has a worker process of its own. The operations run in rounds, each round
    running every operation on both sizes, the order of the sizes alternating, so both
    see the same machine at the same minutes.
    """
    started = time.monotonic()
    base = database_url.rpartition("/")[2].partition("?")[0]
    sample = 40 if quick else 100
    # Short blocks: the two sizes take turns every few runs, so a change in the machine's
    # load (other processes, PostgreSQL's own work) falls on both alike.
    rounds = 6 if quick else 20
    runs = {"cheap": 60 if quick else 300, "hashing": 30 if quick else 100}
    urls = {n: common.with_database_name(database_url, f"{base}_{n}") for n in (SMALL, LARGE)}
    for url in urls.values():
        common.recreate_database(url)
    workers = {n: Worker(n, urls[n], artifacts) for n in (SMALL, LARGE)}
    try:
        log(f"scale: seeding {SMALL:,} and {LARGE:,} users in two databases (COPY)")
        for n, worker in workers.items():
            worker.send(command="setup", users=n, sample=sample, quick=quick)
        setups = {n: worker.receive() for n, worker in workers.items()}
        log(f"scale: seeded in {max(s['seconds'] for s in setups.values())} s; measuring")
        raw: dict[tuple[int, str], dict[str, list[int]]] = {}
        for round_number in range(rounds):
            for op_id, key, _name, _layer in setups[SMALL]["ops"]:
                count = runs["hashing" if key.startswith("backup") else "cheap"] // rounds
                order = (SMALL, LARGE) if round_number % 2 == 0 else (LARGE, SMALL)
                for n in order:
                    samples = workers[n].ask(
                        command="measure",
                        op=op_id,
                        runs=count,
                        warmup=(2 if quick else 5) if round_number == 0 else 0,
                    )
                    collected = raw.setdefault((n, op_id), {k: [] for k in samples})
                    for k, values in samples.items():
                        collected[k].extend(values)
            if (round_number + 1) % 5 == 0 or round_number + 1 == rounds:
                log(f"scale: round {round_number + 1}/{rounds} done")
        operations = []
        for op_id, key, name, layer in setups[SMALL]["ops"]:
            small, large = (
                _summary(
                    key, name, layer, raw[(n, op_id)], workers[n].ask(command="count", op=op_id)
                )
                for n in (SMALL, LARGE)
            )
            operations.append(
                {
                    "key": key,
                    "name": name,
                    "layer": layer,
                    "small": small,
                    "large": large,
                    "ratio_median": round(large["median_ms"] / small["median_ms"], 2),
                    "ratio_p95": round(large["p95_ms"] / small["p95_ms"], 2),
                    "ratio_cpu": round(large["cpu_median_ms"] / small["cpu_median_ms"], 2),
                }
            )
            if "without_hashing_median_ms" in small:
                operations[-1]["ratio_without_hashing"] = round(
                    large["without_hashing_median_ms"] / small["without_hashing_median_ms"], 2
                )
            log(
                f"  {layer:7} {name:42} {small['median_ms']:8.3f} -> {large['median_ms']:8.3f}"
                f" ms  x{operations[-1]['ratio_median']}"
            )
        plans = workers[LARGE].ask(command="explain", users=LARGE)
    finally:
        for worker in workers.values():
            worker.close()
    return {
        "users": [SMALL, LARGE],
        "rows": {n: setups[n]["rows"] for n in (SMALL, LARGE)},
        "sample_users": sample,
        "rounds": rounds,
        "operations": operations,
        "plans_at_large": plans,
        "seconds": round(time.monotonic() - started, 1),
    }


def _plans(users: int) -> dict[str, str]:
    """EXPLAIN of the SELECTs a second factor runs (its UPDATEs are by primary key)."""
    index = _sample(users, 2)[0]
    secret, user = common.secret_uuid(index), common.user_uuid(index)
    queries = {
        "select_secret_for_update": Secret.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=secret, user_id=user, status=Secret.Status.ACTIVE),
        "select_backup_code": BackupCode.objects.filter(
            secret_id=secret, selector="2", used_at__isnull=True
        ).only("pk", "code_hash")[:1],
    }
    with transaction.atomic():
        return {name: query.explain() for name, query in queries.items()}
