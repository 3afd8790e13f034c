"""The example project, README's first command, starts on a fresh checkout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def manage(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "example.settings",
    }
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_example_project_checks_and_has_its_migrations(tmp_path):
    check = manage("check", tmp_path=tmp_path)
    assert check.returncode == 0, check.stderr
    missing = manage("makemigrations", "--check", "--dry-run", tmp_path=tmp_path)
    assert missing.returncode == 0, missing.stdout + missing.stderr


@pytest.mark.parametrize("command", [["migrate", "--noinput"]])
def test_example_project_migrates_with_a_uuid_user(tmp_path, command):
    result = manage(*command, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    shell = manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as g; "
        "print(g()._meta.pk.get_internal_type())",
        tmp_path=tmp_path,
    )
    assert shell.stdout.strip().splitlines()[-1] == "UUIDField", shell.stderr
