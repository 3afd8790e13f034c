"""benchmarks/flow_load.py without a server: its arguments, TOTP schedule and request gate.

The load test itself needs gunicorn, PostgreSQL and Redis and runs by hand or in CI's
PostgreSQL step; these only check the parts that decide what it sends, in well under a second.
"""

from __future__ import annotations

import threading
import time

import pyotp
import pytest

from benchmarks import flow_load


def test_arguments_default_and_bounds() -> None:
    args = flow_load.parse_args([])
    assert (args.users, args.seconds, args.concurrency) == (300, 60.0, 4)
    assert args.database_url.rsplit("/", 1)[1].startswith("mfa_load")
    for bad in (["--users", "0"], ["--users", "100000"], ["--seconds", "0"], ["--seconds", "1e6"]):
        with pytest.raises(SystemExit):
            flow_load.parse_args(bad)


def test_schedule_of_one_user_reuses_no_step_and_stays_within_one_step() -> None:
    """Enroll, TOTP login and regenerate, all while the clock is in step 1000: the second
    use sends the next step's code at once, the third waits for the clock's next step."""
    clock = 1000
    enroll, send_enroll = flow_load.plan_totp_step(None, clock)
    login, send_login = flow_load.plan_totp_step(enroll, clock)
    regenerate, send_regenerate = flow_load.plan_totp_step(login, clock)
    assert (enroll, send_enroll) == (1000, 1000)
    assert (login, send_login) == (1001, 1000)
    assert (regenerate, send_regenerate) == (1002, 1001)


@pytest.mark.parametrize("last", [None, 5, 9, 10, 11, 12])
@pytest.mark.parametrize("now", [10, 11])
def test_planned_step_is_new_not_behind_and_at_most_one_ahead_when_sent(
    last: int | None, now: int
) -> None:
    step, send_in = flow_load.plan_totp_step(last, now)
    assert last is None or step > last
    assert step >= now
    assert send_in >= now
    assert step - send_in <= flow_load.TOLERANCE
    assert flow_load.plan_totp_step(last, now) == (step, send_in)  # deterministic


def test_ambiguity_check_matches_a_direct_comparison() -> None:
    totp = pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    for step in range(1000, 1050):
        codes = {other: totp.at(other * 30) for other in range(step - 2, step + 3)}
        clash = any(codes[o] == codes[step] for o in codes if o != step)
        assert flow_load.ambiguous(totp, step) == clash


def test_gate_lets_the_user_furthest_along_go_first() -> None:
    gate = flow_load.Gate(1)
    gate.acquire((0, 0))
    order: list[int] = []

    def user(stage: int, index: int) -> None:
        gate.acquire((-stage, index))
        order.append(index)
        gate.release()

    waiting = [(1, 7), (5, 3), (5, 1), (2, 0)]  # (stage, user index)
    threads = [threading.Thread(target=user, args=pair) for pair in waiting]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(gate._waiting) < len(waiting) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == [1, 3, 0, 7]
