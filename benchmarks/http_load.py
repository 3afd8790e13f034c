"""Part 4: over HTTP. gunicorn (2 sync workers) on 127.0.0.1, PostgreSQL and Redis.

Every /auth/totp request redeems a real login challenge with the code the user's
authenticator shows at that moment, each for a different user: replay protection accepts a
time step once per user, so a user is never used twice. Challenges are issued by the app's
own ``ChallengeToken.for_secret`` (what /auth/password hands out), minted just before each
phase so that the password hasher, a cost of the site's and not of the second factor, stays
out of the measurement. The floor endpoint gets the same load, with access tokens of the
same users. Phases alternate (floor, TOTP, floor, TOTP) so both see the same machine.

Import it once Django is set up (``run.py`` does).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connections
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from django_mfa_enroll.conf import mfa_settings

from . import common, loadgen

ROOT = Path(__file__).resolve().parent.parent
HOST = common.HOST
WORKERS = common.GUNICORN_WORKERS


def _access(index: int) -> str:
    token = AccessToken()
    token[jwt_settings.USER_ID_CLAIM] = str(common.user_uuid(index))
    return str(token)


class Users:
    """Hands out seeded users, each once for /auth/totp."""

    def __init__(self, total: int) -> None:
        self.total, self.next = total, 0

    def take(self, count: int) -> range:
        count = min(count, self.total - self.next)
        taken = range(self.next, self.next + count)
        self.next += count
        return taken


def _phase(
    pool: Any,
    master: int,
    port: int,
    kind: str,
    indexes: range,
    seconds: float,
    concurrency: int,
    processes: int,
) -> dict[str, Any]:
    if kind == "totp":
        path = "/auth/totp"
        items = [(common.challenge_for(i), common.user_key(i).hex()) for i in indexes]
    else:
        path = "/bench/floor"
        items = [(_access(i),) for i in indexes]
    threads = max(1, concurrency // processes)
    chunks = [items[p::processes] for p in range(processes)]
    jobs = [(HOST, port, path, kind, chunk, threads, seconds) for chunk in chunks]
    cpu_before = common.gunicorn_cpu_seconds(master, with_master=False)
    per_process = pool.map(loadgen._run_worker, jobs)
    cpu = common.gunicorn_cpu_seconds(master, with_master=False) - cpu_before
    samples = [sample for chunk in per_process for sample in chunk]
    window = max((max(s + lat for s, lat, _ in chunk) for chunk in per_process if chunk), default=0)
    return {
        "kind": kind,
        "samples": samples,
        "window": window,
        "items": len(items),
        "server_cpu_seconds": cpu,
        "ran_out": len(samples) >= len(items),
    }


def _summarise(name: str, phases: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [sample for phase in phases for sample in phase["samples"]]
    seconds = sum(phase["window"] for phase in phases)
    latencies = [lat * 1000 for _, lat, _ in samples]
    statuses: dict[int, int] = {}
    for _, _, status in samples:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "name": name,
        "requests": len(samples),
        "errors": sum(count for status, count in statuses.items() if status != 200),
        "statuses": statuses,
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(samples) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(common.percentile(latencies, 0.5), 2),
        "p99_ms": round(common.percentile(latencies, 0.99), 2),
        # CPU the gunicorn workers spent per request: the least noisy figure on a busy machine.
        "server_cpu_ms_per_request": round(
            1000 * sum(phase["server_cpu_seconds"] for phase in phases) / len(samples), 3
        )
        if samples
        else None,
        "per_phase_rps": [
            round(len(phase["samples"]) / phase["window"], 1) if phase["window"] else 0.0
            for phase in phases
        ],
        "ran_out_of_users": any(phase["ran_out"] for phase in phases),
    }


def run(
    *,
    quick: bool,
    seconds: float | None,
    concurrency: int,
    artifacts: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    seconds = seconds or (5.0 if quick else 15.0)
    rounds = 2
    warmup_seconds = 2.0
    # Enough users for every TOTP request at a rate well above what 2 workers reach here.
    per_second_cap = 900
    total_users = int((rounds * seconds + warmup_seconds) * per_second_cap) + 1000
    started = time.monotonic()
    common.truncate_all()
    log(f"http: seeding {total_users:,} users with active secrets")
    dummy = common.make_dummy_hash(mfa_settings.BACKUP_CODE_ITERATIONS)
    common.seed(0, total_users, now=timezone.now(), dummy_hash=dummy, progress=log)
    connections.close_all()  # gunicorn's workers open their own
    port = common.free_port()
    log(f"http: gunicorn, {WORKERS} workers, on {HOST}:{port}")
    log_path = artifacts / "gunicorn.log"
    server = common.launch_gunicorn(port, "benchmarks.bench_site.wsgi:application", ROOT, log_path)
    processes = min(2, concurrency)
    users = Users(total_users)
    floor_users = range(total_users)
    phases: dict[str, list[dict[str, Any]]] = {"floor": [], "totp": []}
    try:
        common.wait_for_gunicorn(
            server,
            port,
            log_path,
            lambda: loadgen._request(HOST, port, "/bench/floor", b"{}", "Bearer x") in (401, 403),
        )
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            cap = int(warmup_seconds * per_second_cap)
            _phase(
                pool,
                server.pid,
                port,
                "floor",
                floor_users[:cap],
                warmup_seconds,
                concurrency,
                processes,
            )
            _phase(
                pool,
                server.pid,
                port,
                "totp",
                users.take(cap),
                warmup_seconds,
                concurrency,
                processes,
            )
            for round_number in range(rounds):
                for kind in ("floor", "totp"):
                    cap = int(seconds * per_second_cap)
                    indexes = users.take(cap) if kind == "totp" else floor_users[:cap]
                    phase = _phase(
                        pool, server.pid, port, kind, indexes, seconds, concurrency, processes
                    )
                    phases[kind].append(phase)
                    log(
                        f"  round {round_number + 1} {kind:5}: {len(phase['samples'])} requests"
                        f" in {phase['window']:.1f} s"
                    )
    finally:
        common.stop_gunicorn(server)
    floor = _summarise("floor  POST /bench/floor", phases["floor"])
    totp = _summarise("TOTP  POST /auth/totp (real challenge, real code)", phases["totp"])
    ratio = round(totp["requests_per_second"] / floor["requests_per_second"], 2)
    totp["ratio_to_floor"], floor["ratio_to_floor"] = ratio, 1.0
    if totp["server_cpu_ms_per_request"] and floor["server_cpu_ms_per_request"]:
        totp["server_cpu_ratio_to_floor"] = round(
            totp["server_cpu_ms_per_request"] / floor["server_cpu_ms_per_request"], 2
        )
    return {
        "server": f"gunicorn, {WORKERS} sync workers, {HOST}",
        "client": f"{concurrency} connections from {processes} processes, new connection each",
        "phase_seconds": seconds,
        "rounds": rounds,
        "auth_rate": mfa_settings.AUTH_RATE,
        "endpoints": [floor, totp],
        "totp_to_floor_rps": ratio,
        "seconds": round(time.monotonic() - started, 1),
    }
