"""Migrations: none missing, and the user foreign key follows AUTH_USER_MODEL."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import migrations
from django.db.migrations.migration import SwappableTuple

INITIAL = "django_mfa_enroll.migrations.0001_initial"


@pytest.mark.django_db
def test_no_migration_is_missing(capsys):
    # --check exits non-zero (SystemExit) when the models have changes with no migration.
    call_command("makemigrations", "django_mfa_enroll", "--check", "--dry-run")
    assert "No changes detected" in capsys.readouterr().out


def test_initial_migration_depends_on_the_swappable_user_model():
    migration = importlib.import_module(INITIAL).Migration
    assert migrations.swappable_dependency(settings.AUTH_USER_MODEL) in migration.dependencies
    # The swappable kind (a SwappableTuple carrying the model label), not a plain
    # ("auth", "__first__") tuple, which compares equal but is not rewritten by Django.
    swappable = [dep for dep in migration.dependencies if isinstance(dep, SwappableTuple)]
    assert [dep.setting for dep in swappable] == [settings.AUTH_USER_MODEL]


def test_initial_migration_user_fk_points_at_auth_user_model():
    migration = importlib.import_module(INITIAL).Migration
    [create_secret] = [
        op
        for op in migration.operations
        if isinstance(op, migrations.CreateModel) and op.name == "Secret"
    ]
    user_field = dict(create_secret.fields)["user"]
    assert user_field.remote_field.model == settings.AUTH_USER_MODEL
