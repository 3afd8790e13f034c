"""Run the suite once with Django's default User and once with a UUID-keyed custom user.

``python -m tests [pytest args]``: AUTH_USER_MODEL cannot change inside one process, so each
user model gets a pytest run of its own. Exits non-zero if either run fails.
"""

import os
import subprocess
import sys

RUNS = [("auth", "Django's default User (integer pk)"), ("uuid", "a custom user with a UUID pk")]


def main(argv: list[str]) -> int:
    worst = 0
    for model, what in RUNS:
        print(f"\n=== tests with {what} (MFA_TEST_USER_MODEL={model}) ===", flush=True)
        env = {**os.environ, "MFA_TEST_USER_MODEL": model}
        code = subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
        worst = worst or code
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
