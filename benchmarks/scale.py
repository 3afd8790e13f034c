"""Part 3: the second factor and backup codes with 1,000 and with 100,000 users (PostgreSQL).

Users, active secrets and ten backup codes each are written with COPY (``common.seed``);
then the same operations run on a sample of users spread over the whole table, first with
1,000 users, then after 99,000 more are added. Both phases get the same treatment after
seeding (VACUUM ANALYZE and a CHECKPOINT, as a table in service would have had), so a bulk
load's leftovers do not land in one phase only. The floor endpoint runs in both phases as a
control: if it moves too, the machine moved.

Import it once Django is set up (``run.py`` does).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from django_mfa_enroll import services
from django_mfa_enroll.authentication import ChallengeToken
from django_mfa_enroll.conf import mfa_settings
from django_mfa_enroll.models import BackupCode, Secret

from . import common
from .inprocess import Harness, Op, _clear_throttle, _expect_error, _expect_status, _ok, _post

SMALL, LARGE = 1_000, 100_000


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


def _operations(harness: Harness, total: int, sample: list[int], runs: dict[str, int]) -> list[Op]:
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
        index = context["index"]
        secret = SimpleNamespace(
            pk=common.secret_uuid(index),
            user=SimpleNamespace(**{jwt_settings.USER_ID_FIELD: common.user_uuid(index)}),
            challenge_epoch=context["epoch"],
        )
        context["challenge"] = f"jwt {ChallengeToken.for_secret(secret)}"
        _clear_throttle()
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
        return {"auth": f"jwt {token}"}

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
            runs["cheap"],
        ),
        Op(
            "totp_right",
            "TOTP second factor, right code",
            "service",
            lambda: fresh(next(cycles["right"])),
            verify(lambda c: c["code"], services.TOTP),
            _ok,
            runs["cheap"],
        ),
        Op(
            "totp_right",
            "TOTP right code  POST /auth/totp",
            "client",
            lambda: challenge(fresh(next(cycles["http"]))),
            lambda c: _post(client, "/auth/totp", {"token": c["code"]}, c["challenge"]),
            _expect_status(200),
            runs["cheap"],
        ),
        Op(
            "totp_wrong",
            "TOTP second factor, wrong code",
            "service",
            lambda: fresh(next(cycles["wrong"])),
            verify(lambda c: c["wrong"], services.TOTP),
            _expect_error(services.InvalidCode),
            runs["cheap"],
        ),
        Op(
            "backup_wrong_hit",
            "backup code, wrong, full set (row hit)",
            "service",
            lambda: fresh(next(cycles["hit"])),
            verify(wrong_backup, services.BACKUP_CODE),
            _expect_error(services.InvalidCode),
            runs["hashing"],
        ),
        Op(
            "backup_last",
            "backup code, the last unused one",
            "service",
            reset_last,
            verify(last_backup, services.BACKUP_CODE),
            _ok,
            runs["hashing"],
        ),
    ]


def run(*, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Seed 1,000 users, measure; grow to 100,000, measure again; return both and the ratios."""
    started = time.monotonic()
    harness = Harness(quick=quick, log=log)
    iterations = mfa_settings.BACKUP_CODE_ITERATIONS
    sample_size = 40 if quick else 100
    runs = {"cheap": 60 if quick else 300, "hashing": 30 if quick else 100}
    dummy = common.make_dummy_hash(iterations)
    common.truncate_all()
    now = timezone.now()
    phases: dict[int, list[dict[str, Any]]] = {}
    seeded = 0
    for total in (SMALL, LARGE):
        log(f"scale: seeding users {seeded:,} to {total:,} (COPY)")
        seed_started = time.monotonic()
        common.seed(seeded, total - seeded, now=now, dummy_hash=dummy, progress=log)
        seeded = total
        _maintain()
        log(f"scale: seeded in {time.monotonic() - seed_started:.1f} s; measuring {total:,}")
        sample = _sample(total, sample_size)
        _prepare_last_codes(sample[1::2], iterations)
        phases[total] = [harness.measure(op) for op in _operations(harness, total, sample, runs)]
    counts = {
        "secrets": Secret.objects.count(),
        "backup_codes": BackupCode.objects.count(),
    }
    operations = []
    for small, large in zip(phases[SMALL], phases[LARGE], strict=True):
        operations.append(
            {
                "key": small["key"],
                "name": small["name"],
                "layer": small["layer"],
                "small": {k: v for k, v in small.items() if k != "statements"},
                "large": {k: v for k, v in large.items() if k != "statements"},
                "ratio_median": round(large["median_ms"] / small["median_ms"], 2),
                "ratio_p95": round(large["p95_ms"] / small["p95_ms"], 2),
                "statements_large": large["statements"],
            }
        )
    plans = _plans()
    log(f"scale: done in {time.monotonic() - started:.1f} s")
    return {
        "users": [SMALL, LARGE],
        "rows_at_large": counts,
        "sample_users": sample_size,
        "operations": operations,
        "plans_at_large": plans,
        "seconds": round(time.monotonic() - started, 1),
    }


def _plans() -> dict[str, str]:
    """EXPLAIN of the SELECTs a second factor runs, at 100,000 users (UPDATEs are by pk)."""
    index = _sample(LARGE, 2)[0]
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
