"""Every user-facing string is translatable; German and French ship compiled."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation

import django_mfa_enroll
from django_mfa_enroll import services

pytestmark = pytest.mark.django_db

LOCALE = Path(django_mfa_enroll.__file__).resolve().parent / "locale"


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_catalogs_are_compiled_and_complete(lang):
    po = (LOCALE / lang / "LC_MESSAGES" / "django.po").read_text()
    assert (LOCALE / lang / "LC_MESSAGES" / "django.mo").stat().st_size > 1000
    assert "#, fuzzy" not in po
    # No untranslated entry: an empty msgstr is only the header's.
    assert po.count('msgstr ""\n\n') == 0
    assert (LOCALE / "django.pot").exists()


def test_a_german_client_gets_a_german_error(anon_client):
    response = anon_client.post(
        "/auth/password",
        {"username": "nobody", "password": "x"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Falscher Benutzername oder falsches Passwort."
    assert response.json()["code"] == "invalid_credentials"  # codes stay stable


def test_a_french_client_gets_a_french_validation_error(api_client, flow):
    created = flow.create()
    response = api_client.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": "12"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.json()["errors"] == {"token": ["Doit comporter exactement 6 chiffres."]}


def test_malformed_json_is_explained_in_german(api_client):
    response = api_client.generic(
        "POST",
        "/users/me/secrets",
        '{"type": "mfa",}',
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9",
    )
    assert response.json()["message"].startswith("Fehlerhaftes JSON (Zeile 1, Spalte")
    assert "überzähliges Komma" in response.json()["message"]


def test_service_errors_translate_at_render_time():
    with translation.override("de"):
        assert str(services.InvalidCode().message) == "Der Code ist ungültig."
    with translation.override("en"):
        assert str(services.InvalidCode().message) == "The code is not valid."


def test_the_admin_login_code_field_is_translated(client):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Code d’authentification" in html


def _translatable_literals() -> set[str]:
    """Every msgid the package's Python code hands to gettext (a plural's singular form: the
    catalog keys a plural entry by it)."""
    import ast

    names = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}
    found: set[str] = set()
    for path in Path(django_mfa_enroll.__file__).resolve().parent.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in names:
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_every_string_in_the_code_is_in_the_catalog(lang):
    import gettext

    with (LOCALE / lang / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    known = {key[0] if isinstance(key, tuple) else key for key, value in catalog.items() if value}
    literals = _translatable_literals()
    assert len(literals) > 80  # the walk found the code's strings
    assert sorted(literals - known) == []
