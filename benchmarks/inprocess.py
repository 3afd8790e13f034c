"""Part 1: every MFA operation in process, through the services and through Django's test client.

Import it once Django is set up (``run.py`` does).

Each operation runs many times after a few warm-up runs; only the call itself is timed, and
whatever puts the data in the state the operation needs (a fresh time step on the fake clock,
a failure count back to zero, the last backup code unspent again, a new challenge) happens
before the clock starts. One more, untimed run under ``CaptureQueriesContext`` counts the SQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from django_mfa_enroll import services
from django_mfa_enroll.authentication import ChallengeToken
from django_mfa_enroll.backends import PASSWORD_STAGE
from django_mfa_enroll.backup_codes import ALPHABET
from django_mfa_enroll.models import BackupCode, Secret

from . import common


@dataclass
class Op:
    """One measured operation."""

    key: str
    name: str
    layer: str  # "service" or "client"
    setup: Callable[[], Any]  # untimed; returns what run() needs
    run: Callable[[Any], Any]  # timed
    check: Callable[[Any, Any], None]  # untimed; raises if the outcome is not the expected one
    runs: int
    hashed_login: bool = False
    #: The key of the operation it is measured against (default: the floor, for client ops).
    versus: str | None = None


class Harness:
    def __init__(self, *, quick: bool, log: Callable[[str], None]) -> None:

        from django_mfa_enroll import services

        self.quick = quick
        self.log = log
        self.clock = common.Clock(timezone.now())
        services.clock.now = self.clock  # replay protection: each run gets a time step of its own
        self.hashes = common.HashMeter()
        self.hashes.install()
        self.client = Client()

    def runs(self, cheap: int) -> int:
        return max(5, cheap // 5) if self.quick else cheap

    def _timed(self, op: Op) -> tuple[int, int, int, int]:
        """One run of ``op``: (elapsed ns, CPU ns of this thread, ns in PBKDF2, PBKDF2 calls).

        The CPU time leaves out the waits on PostgreSQL and Redis; on a loaded machine each
        round trip to another process can cost far more than the work it does.
        """
        context = op.setup()
        self.hashes.reset()
        cpu_started = time.thread_time_ns()
        started = time.perf_counter_ns()
        outcome = op.run(context)
        elapsed = time.perf_counter_ns() - started
        cpu = time.thread_time_ns() - cpu_started
        op.check(context, outcome)
        return elapsed, cpu, self.hashes.ns, self.hashes.calls

    def raw(self, op: Op, runs: int, warmup: int) -> dict[str, list[int]]:
        """Time ``runs`` runs of ``op`` after ``warmup`` untimed ones; the samples in ns."""
        for _ in range(warmup):
            self._timed(op)
        samples: dict[str, list[int]] = {"elapsed": [], "cpu": [], "hashed": [], "calls": []}
        for _ in range(runs):
            for name, value in zip(samples, self._timed(op), strict=True):
                samples[name].append(value)
        return samples

    def count(self, op: Op) -> dict[str, Any]:
        """Run ``op`` once more, untimed, and count its SQL statements and hash evaluations."""
        context = op.setup()
        self.hashes.reset()
        with CaptureQueriesContext(connection) as captured:
            op.check(context, op.run(context))
        statements = [q["sql"] for q in captured.captured_queries]
        return {
            "queries_app": len(common.app_statements(captured.captured_queries)),
            "queries_total": len(statements),
            "statements": statements,
            "hash_evaluations": self.hashes.calls,
            "hash_iterations": self.hashes.iterations,
        }

    def measure(self, op: Op, reference: Op | None = None) -> dict[str, Any]:
        """Time ``op``; with a ``reference`` (the floor), alternate a run of each.

        Interleaving puts the floor's runs in the same seconds as the operation's, so the
        ratio holds even when the machine's load changes during the benchmark.
        """
        warmup = 2 if self.quick else 5
        for _ in range(warmup):
            self._timed(op)
            if reference is not None:
                self._timed(reference)
        samples, cpu, hashed, hash_calls, floor, floor_cpu = [], [], [], set(), [], []

        def run_reference() -> None:
            elapsed, cpu_ns, *_ = self._timed(reference)  # type: ignore[arg-type]
            floor.append(elapsed)
            floor_cpu.append(cpu_ns)

        for i in range(op.runs):
            if reference is not None and i % 2:
                run_reference()
            elapsed, cpu_ns, hash_ns, calls = self._timed(op)
            samples.append(elapsed)
            cpu.append(cpu_ns)
            hashed.append(hash_ns)
            hash_calls.add(calls)
            if reference is not None and not i % 2:
                run_reference()
        result: dict[str, Any] = {
            "key": op.key,
            "name": op.name,
            "layer": op.layer,
            "runs": op.runs,
            **common.summary_ms(samples),
            "cpu_median_ms": round(common.percentile(cpu, 0.5) / 1e6, 4),
            **self.count(op),
            "hash_evaluations_seen": sorted(hash_calls),
        }
        if any(hashed):
            result["hashing"] = "password hasher" if op.hashed_login else "backup-code hashing"
            result["hasher_median_ms"] = round(common.percentile(hashed, 0.5) / 1e6, 4)
            rest = [total - hash_ns for total, hash_ns in zip(samples, hashed, strict=True)]
            result["without_hasher"] = common.summary_ms(rest)
        if floor:
            floor_median = common.summary_ms(floor)["median_ms"]
            result["floor_interleaved_median_ms"] = floor_median
            result["ratio_to_floor"] = round(result["median_ms"] / floor_median, 2)
            floor_cpu_median = common.percentile(floor_cpu, 0.5) / 1e6
            result["floor_interleaved_cpu_median_ms"] = round(floor_cpu_median, 4)
            result["cpu_ratio_to_floor"] = round(result["cpu_median_ms"] / floor_cpu_median, 2)
            if "without_hasher" in result:
                result["ratio_to_floor_without_hasher"] = round(
                    result["without_hasher"]["median_ms"] / floor_median, 2
                )
        if reference is not None and op.versus:
            result["versus"] = op.versus
        self.log(
            f"  {op.layer:7} {op.name:42} median {result['median_ms']:8.3f} ms"
            f"  p95 {result['p95_ms']:8.3f} ms  queries {result['queries_app']}"
            f"/{result['queries_total']}  hashes {result['hash_evaluations']}"
            + (f"  x {op.versus or 'floor'} {result['ratio_to_floor']}" if floor else "")
        )
        return result


# Users in the state each operation needs, made through the services themselves.


def _make_user(name: str, password: str | None = None) -> Any:

    model = get_user_model()
    if password is None:
        user = model(username=name, email=f"{name}@example.org")
        user.set_unusable_password()
        user.save()
        return user
    return model.objects.create_user(username=name, email=f"{name}@example.org", password=password)


@dataclass
class Enrolled:
    user: Any
    secret_id: Any
    key: bytes
    codes: list[str]


def _enroll(harness: Harness, user: Any) -> Enrolled:

    created = services.create_secret(user, issuer="Bench")
    key = common.key_from_base32(created.key_base32)
    harness.clock.next_step()
    enrollment = services.enroll_secret(
        user, created.secret.pk, common.code_for(key, harness.clock.now.timestamp())
    )
    return Enrolled(user, created.secret.pk, key, enrollment.codes)


def _access_header(user: Any, at: Any, secret_id: Any = None) -> str:
    """An access token as a login of ``at`` issues it: a password's, or with ``secret_id``
    a TOTP login's (a user with MFA has no other). Bearer, which simplejwt's class reads too."""
    refresh = RefreshToken.for_user(user)
    refresh["amr"] = ["pwd"] if secret_id is None else ["pwd", "otp", "mfa"]
    refresh["auth_time"] = int(at.timestamp())
    if secret_id is not None:
        refresh["sid"] = str(secret_id)
    return f"Bearer {refresh.access_token}"


def _challenge_header(secret_id: Any) -> str:

    secret = Secret.objects.select_related("user").get(pk=secret_id)
    return f"jwt {ChallengeToken.for_secret(secret)}"


def _epoch(secret_id: Any) -> int:

    return Secret.objects.values_list("challenge_epoch", flat=True).get(pk=secret_id)


def _clear_failures(secret_id: Any) -> None:

    Secret.objects.filter(pk=secret_id).update(failure_count=0, locked_until=None)


def _expect_status(status: int) -> Callable[[Any, Any], None]:
    def check(context: Any, response: Any) -> None:
        if response.status_code != status:
            raise AssertionError(
                f"expected {status}, got {response.status_code}: {response.content[:300]!r}"
            )

    return check


def _expect_error(kind: type) -> Callable[[Any, Any], None]:
    def check(context: Any, outcome: Any) -> None:
        if not isinstance(outcome, kind):
            raise AssertionError(f"expected {kind.__name__}, got {outcome!r}")

    return check


def _returns_error(call: Callable[[], Any]) -> Any:

    try:
        return call()
    except services.MFAError as error:
        return error


def _ok(context: Any, outcome: Any) -> None:

    if isinstance(outcome, services.MFAError):
        raise AssertionError(f"expected success, got {outcome!r}")


def _post(client: Any, path: str, body: dict[str, Any], authorization: str) -> Any:
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=authorization
    )


def operations(harness: Harness) -> list[Op]:
    """Set up the users and return the operations to measure, in the table's order."""

    clock, client = harness.clock, harness.client
    cheap, hashing, heavy, login = (
        harness.runs(300),
        harness.runs(100),
        harness.runs(30),
        harness.runs(15),
    )
    password = "a-long-benchmark-password-123"  # noqa: S105 - a benchmark user's
    floor_user = _make_user("floor")
    api_key = services.create_api_key(
        floor_user, amr=["pwd"], auth_time=int(clock.now.timestamp())
    ).key
    creator = _make_user("creator")
    totp_user = _enroll(harness, _make_user("totp"))
    full_set = _enroll(harness, _make_user("fullset"))
    last_code = _enroll(harness, _make_user("lastcode"))
    regen = _enroll(harness, _make_user("regen"))
    login_user = _enroll(harness, _make_user("login", password))
    _make_user("nomfa", password)
    _make_user("required", password)
    device = services.remember_device(login_user.user, login_user.secret_id, clock.now)
    if device is None:
        raise RuntimeError("the benchmark site must set TRUST_DAYS")

    # The last unused code: spend nine of ten, keep the tenth for the runs.
    kept = last_code.codes[-1].replace("-", "")
    BackupCode.objects.filter(secret_id=last_code.secret_id).exclude(selector=kept[0]).update(
        used_at=clock.now
    )
    # Wrong codes against the full set: one whose selector names a row (a hash checked) and one
    # whose selector names none (a hash burnt, so a miss costs what a wrong code costs).
    hit = full_set.codes[0].replace("-", "")
    wrong_hit = hit[:-1] + ("2" if hit[-1] != "2" else "3")
    free = [ch for ch in ALPHABET if ch not in {c[0] for c in full_set.codes}]
    wrong_miss = free[0] + hit[1:]

    def fresh_step(enrolled: Enrolled) -> dict[str, Any]:
        clock.next_step()
        _clear_failures(enrolled.secret_id)
        return {
            "code": common.code_for(enrolled.key, clock.now.timestamp()),
            "epoch": _epoch(enrolled.secret_id),
        }

    def for_login(enrolled: Enrolled, **extra: Any) -> Callable[[], dict[str, Any]]:
        def setup() -> dict[str, Any]:
            context = fresh_step(enrolled)
            context.update(extra)
            context["challenge"] = _challenge_header(enrolled.secret_id)
            return context

        return setup

    def reset_last() -> dict[str, Any]:
        BackupCode.objects.filter(secret_id=last_code.secret_id, selector=kept[0]).update(
            used_at=None
        )
        return for_login(last_code)()

    def no_secret() -> dict[str, Any]:
        Secret.objects.filter(user=creator).delete()
        return {"auth": _access_header(creator, clock.now)}

    def pending() -> dict[str, Any]:
        Secret.objects.filter(user=creator).delete()
        created = services.create_secret(creator, issuer="Bench")
        clock.next_step()
        key = common.key_from_base32(created.key_base32)
        return {
            "secret_id": created.secret.pk,
            "code": common.code_for(key, clock.now.timestamp()),
            "auth": _access_header(creator, clock.now),
        }

    def regen_setup() -> dict[str, Any]:
        context = fresh_step(regen)
        context["auth"] = _access_header(regen.user, clock.now, regen.secret_id)
        return context

    def totp(enrolled: Enrolled, code_key: str = "code") -> Callable[[Any], Any]:
        return lambda c: _returns_error(
            lambda: services.verify_second_factor(
                enrolled.user.pk, enrolled.secret_id, c[code_key], method="totp", epoch=c["epoch"]
            )
        )

    def backup(enrolled: Enrolled, typed: str) -> Callable[[Any], Any]:
        return lambda c: _returns_error(
            lambda: services.verify_second_factor(
                enrolled.user.pk, enrolled.secret_id, typed, method="backup_code", epoch=c["epoch"]
            )
        )

    def redeem(body: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
        return lambda c: _post(client, "/auth/totp", body(c), c["challenge"])

    def with_wrong(setup: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def wrapped() -> dict[str, Any]:
            context = setup()
            context["wrong"] = common.wrong_code(context["code"])
            return context

        return wrapped

    def mfa_login() -> dict[str, Any]:
        return {"auth": _access_header(totp_user.user, clock.now, totp_user.secret_id)}

    def get_as_user(path: str) -> Callable[[Any], Any]:
        return lambda c: client.get(path, HTTP_AUTHORIZATION=c["auth"])

    def login_setup() -> dict[str, Any]:
        return {}

    def backend_login(c: Any) -> Any:
        user = authenticate(None, username="login", password=password, mfa_stage=PASSWORD_STAGE)
        return services.active_secret(user)

    def has_secret(context: Any, outcome: Any) -> None:
        if outcome is None:
            raise AssertionError("login step one found no active secret")

    def answers(kind: str) -> Callable[[Any, Any], None]:
        def check(context: Any, response: Any) -> None:
            _expect_status(200)(context, response)
            if response.json()["type"] != kind:
                raise AssertionError(response.content)

        return check

    is_challenge = answers("CHALLENGE")

    def password_login(username: str, **extra: str) -> Callable[[Any], Any]:
        body = json.dumps({"username": username, "password": password, **extra})
        return lambda c: client.post("/auth/password", body, content_type="application/json")

    invalid = services.InvalidCode
    issuer = "Bench"
    ops = [
        Op(
            "floor",
            "floor: JWT auth + 1 indexed SELECT + 1 UPDATE",
            "client",
            lambda: {"auth": _access_header(floor_user, clock.now)},
            lambda c: _post(client, "/bench/floor", {"note": "x"}, c["auth"]),
            _expect_status(200),
            cheap,
        ),
        Op(
            "auth_stock",
            "GET, simplejwt's JWTAuthentication",
            "client",
            mfa_login,
            get_as_user("/bench/whoami/stock"),
            _expect_status(200),
            cheap,
        ),
        Op(
            "auth_mfa",
            "GET, the app's JWTAuthentication (MFA state)",
            "client",
            mfa_login,
            get_as_user("/bench/whoami/mfa"),
            _expect_status(200),
            cheap,
            versus="auth_stock",
        ),
        Op(
            "auth_apikey",
            "GET, an API key",
            "client",
            lambda: {"auth": f"apikey {api_key}"},
            get_as_user("/bench/whoami/apikey"),
            _expect_status(200),
            cheap,
            versus="auth_stock",
        ),
        Op(
            "create_secret",
            "create a secret",
            "service",
            no_secret,
            lambda c: services.create_secret(creator, issuer=issuer),
            _ok,
            cheap,
        ),
        Op(
            "create_secret",
            "create a secret  POST /users/me/secrets",
            "client",
            no_secret,
            lambda c: _post(client, "/users/me/secrets", {"type": "mfa"}, c["auth"]),
            _expect_status(200),
            cheap,
        ),
        Op(
            "enroll",
            "enroll (first code, 10 backup codes)",
            "service",
            pending,
            lambda c: services.enroll_secret(creator, c["secret_id"], c["code"]),
            _ok,
            heavy,
        ),
        Op(
            "enroll",
            "enroll  PUT .../enroll",
            "client",
            pending,
            lambda c: client.put(
                f"/users/me/secrets/{c['secret_id']}/enroll",
                json.dumps({"token": c["code"]}),
                content_type="application/json",
                HTTP_AUTHORIZATION=c["auth"],
            ),
            _expect_status(200),
            heavy,
        ),
        Op(
            "totp_right",
            "TOTP second factor, right code",
            "service",
            lambda: fresh_step(totp_user),
            totp(totp_user),
            _ok,
            cheap,
        ),
        Op(
            "totp_right",
            "TOTP right code  POST /auth/totp",
            "client",
            for_login(totp_user),
            redeem(lambda c: {"token": c["code"]}),
            _expect_status(200),
            cheap,
        ),
        Op(
            "totp_wrong",
            "TOTP second factor, wrong code",
            "service",
            with_wrong(lambda: fresh_step(totp_user)),
            totp(totp_user, "wrong"),
            _expect_error(invalid),
            cheap,
        ),
        Op(
            "totp_wrong",
            "TOTP wrong code  POST /auth/totp",
            "client",
            with_wrong(for_login(totp_user)),
            redeem(lambda c: {"token": c["wrong"]}),
            _expect_status(401),
            cheap,
        ),
        Op(
            "backup_wrong_hit",
            "backup code, wrong, full set (row hit)",
            "service",
            lambda: fresh_step(full_set),
            backup(full_set, wrong_hit),
            _expect_error(invalid),
            hashing,
        ),
        Op(
            "backup_wrong_hit",
            "backup wrong (row hit)  POST /auth/totp",
            "client",
            for_login(full_set),
            redeem(lambda c: {"backup_code": wrong_hit}),
            _expect_status(401),
            hashing,
        ),
        Op(
            "backup_wrong_miss",
            "backup code, wrong, full set (no row)",
            "service",
            lambda: fresh_step(full_set),
            backup(full_set, wrong_miss),
            _expect_error(invalid),
            hashing,
        ),
        Op(
            "backup_wrong_miss",
            "backup wrong (no row)  POST /auth/totp",
            "client",
            for_login(full_set),
            redeem(lambda c: {"backup_code": wrong_miss}),
            _expect_status(401),
            hashing,
        ),
        Op(
            "backup_last",
            "backup code, the last unused one",
            "service",
            reset_last,
            backup(last_code, kept),
            _ok,
            hashing,
        ),
        Op(
            "backup_last",
            "backup last unused  POST /auth/totp",
            "client",
            reset_last,
            redeem(lambda c: {"backup_code": kept}),
            _expect_status(200),
            hashing,
        ),
        Op(
            "regenerate",
            "regenerate backup codes",
            "service",
            lambda: fresh_step(regen),
            lambda c: services.regenerate_backup_codes(regen.user, regen.secret_id, c["code"]),
            _ok,
            heavy,
        ),
        Op(
            "regenerate",
            "regenerate  POST .../codes",
            "client",
            regen_setup,
            lambda c: _post(
                client,
                f"/users/me/secrets/{regen.secret_id}/codes",
                {"token": c["code"]},
                c["auth"],
            ),
            _expect_status(200),
            heavy,
        ),
        Op(
            "login_password",
            "login step one (backend + active_secret)",
            "service",
            login_setup,
            backend_login,
            has_secret,
            login,
            hashed_login=True,
        ),
        Op(
            "login_password",
            "login step one  POST /auth/password",
            "client",
            login_setup,
            password_login("login"),
            is_challenge,
            login,
            hashed_login=True,
        ),
        Op(
            "login_device",
            "login, a trusted device  POST /auth/password",
            "client",
            login_setup,
            password_login("login", device_token=device.token),
            answers("ACCESS"),
            login,
            hashed_login=True,
            versus="login_password",
        ),
        Op(
            "login_nomfa",
            "login, no MFA, policy asked  POST /auth/password",
            "client",
            login_setup,
            password_login("nomfa"),
            answers("ACCESS"),
            login,
            hashed_login=True,
        ),
        Op(
            "login_setup",
            "login, MFA required: SETUP  POST /auth/password",
            "client",
            login_setup,
            password_login("required"),
            answers("SETUP"),
            login,
            hashed_login=True,
            versus="login_nomfa",
        ),
    ]
    return ops


def run(*, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure every operation; client ones interleaved with the floor, for their ratio."""
    harness = Harness(quick=quick, log=log)
    log("in-process: preparing users (each enrollment hashes 10 backup codes)")
    ops = operations(harness)
    floor = ops[0]
    by_key = {op.key: op for op in ops if op.layer == "client"}
    results = [harness.measure(floor)]
    for op in ops[1:]:
        reference = by_key[op.versus] if op.versus else floor if op.layer == "client" else None
        results.append(harness.measure(op, reference=reference))
    results[0]["ratio_to_floor"] = 1.0
    return {
        "operations": results,
        "state_check": state_check(results),
        "api_key_check": api_key_check(results),
    }


def _beside_stock(results: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The GET ``key`` against the same GET behind simplejwt's JWT, measured side by side."""
    ours = next(r for r in results if r["key"] == key)
    stock = next(r for r in results if r["key"] == "auth_stock")
    return {
        "ratio": ours["ratio_to_floor"],  # measured against the stock GET, interleaved
        "cpu_ratio": ours["cpu_ratio_to_floor"],
        "ours_median_ms": ours["median_ms"],
        "stock_median_ms": ours["floor_interleaved_median_ms"],
        "queries": ours["queries_total"],
        "extra_queries": ours["queries_total"] - stock["queries_total"],
        "extra_app_queries": ours["queries_app"] - stock["queries_app"],
        "extra_statement": [s for s in ours["statements"] if s not in stock["statements"]],
    }


def api_key_check(results: list[dict[str, Any]]) -> dict[str, Any]:
    """What a key-authenticated GET costs beside the same GET behind simplejwt's JWT."""
    return _beside_stock(results, "auth_apikey")


def state_check(results: list[dict[str, Any]]) -> dict[str, Any]:
    """What following the MFA state costs an authenticated request: the same GET behind the
    app's JWTAuthentication against simplejwt's, measured side by side."""
    return _beside_stock(results, "auth_mfa")
