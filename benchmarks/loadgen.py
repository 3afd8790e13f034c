"""A small closed-loop load generator: processes of threads, each with its own connections.

No Django here, so it runs in freshly spawned processes. It only ever connects to the
address it is given (the benchmark passes 127.0.0.1), stops at a deadline or when its work
runs out, whichever comes first, and never sends more requests than it has items.
"""

from __future__ import annotations

import collections
import http.client
import json
import threading
import time
from typing import Any

from django_mfa_enroll import totp

PERIOD = 30


def _request(host: str, port: int, path: str, body: bytes, authorization: str) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Authorization": authorization},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _body_and_header(kind: str, item: tuple[str, ...]) -> tuple[bytes, str]:
    if kind == "totp":
        challenge, key_hex = item
        # The code the user's app shows now: computed at send time, from the real clock,
        # as the server checks it.
        code = totp.code_at_step(bytes.fromhex(key_hex), int(time.time()) // PERIOD)
        return json.dumps({"token": code}).encode(), f"jwt {challenge}"
    (access,) = item
    return b'{"note": "x"}', f"Bearer {access}"  # simplejwt's own header type


def worker(
    host: str,
    port: int,
    path: str,
    kind: str,
    items: list[tuple[str, ...]],
    threads: int,
    deadline_in: float,
) -> list[tuple[float, float, int]]:
    """Send one request per item from ``threads`` threads until the items or the time run out.

    Returns (start, latency, status) per request, start in seconds from the common start.
    ``deadline_in`` is in seconds from now.
    """
    queue = collections.deque(items)
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + deadline_in

    def loop() -> None:
        mine = []
        while time.monotonic() < deadline:
            try:
                item = queue.popleft()
            except IndexError:
                break
            body, authorization = _body_and_header(kind, item)
            sent = time.monotonic()
            try:
                status = _request(host, port, path, body, authorization)
            except OSError:
                status = 0
            mine.append((sent - start, time.monotonic() - sent, status))
        with lock:
            results.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def _run_worker(args: tuple[Any, ...]) -> list[tuple[float, float, int]]:
    return worker(*args)
