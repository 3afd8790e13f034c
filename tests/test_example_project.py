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


def test_without_django_secret_key_a_random_one_is_made_once_and_kept(tmp_path):
    key_file = tmp_path / "secret_key"
    env = {**os.environ, "DJANGO_SECRET_KEY_FILE": str(key_file)}
    env.pop("DJANGO_SECRET_KEY", None)
    show = "from django.conf import settings; print(settings.SECRET_KEY)"

    def key_in_use(**extra: str) -> str:
        result = subprocess.run(
            [sys.executable, str(MANAGE), "shell", "-c", show],
            env={**env, "DJANGO_SETTINGS_MODULE": "example.settings", **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    first = key_in_use()
    assert len(first) >= 50 and not first.startswith("django-insecure-")
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o777 == 0o600  # the owner's alone
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no draft left
    assert key_in_use() == first  # kept: sessions and secrets survive a restart
    assert key_in_use(DJANGO_SECRET_KEY="from-the-environment-" + "x" * 40).startswith(
        "from-the-environment-"
    )


def test_the_example_publishes_no_secret_key():
    settings_file = MANAGE.parent / "example" / "settings.py"
    assert "django-insecure-" not in settings_file.read_text()
    ignored = (MANAGE.parent.parent / ".gitignore").read_text().splitlines()
    assert "example_project/.secret_key" in ignored  # the kept key never lands in git


def test_the_example_reads_reauth_max_age_from_the_environment(tmp_path):
    show = "from django_mfa_enroll.conf import mfa_settings as s; print(s.REAUTH_MAX_AGE)"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "DJANGO_SECRET_KEY_FILE": str(tmp_path / "key"),
    }
    for given, expected in ((None, "600"), ("90", "90")):
        if given is not None:
            env["MFA_REAUTH_MAX_AGE"] = given
        result = subprocess.run(
            [sys.executable, str(MANAGE), "shell", "-c", show],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


def test_an_empty_key_file_stops_the_site_with_what_to_do(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("")
    env = {**os.environ, "DJANGO_SECRET_KEY_FILE": str(key_file)}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, str(MANAGE), "check"],
        env={**env, "DJANGO_SETTINGS_MODULE": "example.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "is empty: delete it and start again, or set DJANGO_SECRET_KEY" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key"]  # no drafts
