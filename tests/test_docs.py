"""README.rst keeps in step with the code."""

from pathlib import Path

from django_mfa_enroll import checks
from django_mfa_enroll.conf import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.rst").read_text()


def test_every_setting_is_in_the_readme_table():
    missing = [key for key in DEFAULTS if f"``{key}``" not in README]
    assert missing == []


def test_every_check_id_is_in_the_readme():
    ids = [value for name, value in vars(checks).items() if name[:1] in "EW" and name[1:].isdigit()]
    assert ids and all(f"``{check_id}``" in README for check_id in ids)


def test_readme_quickstart_commands_are_the_ones_ci_runs():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    test_command = next(
        line.strip() for line in README.splitlines() if "-m tests" in line and "venv" in line
    )
    assert test_command in ci
