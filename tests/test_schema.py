"""The OpenAPI schema: generated without warnings, valid, and as precise as the API."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    out = io.StringIO()
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_every_endpoint_is_in_the_schema_without_trailing_slashes(schema):
    assert set(schema["paths"]) >= {
        "/users/{user_id}/secrets",
        "/users/{user_id}/secrets/{secret_id}",
        "/users/{user_id}/secrets/{secret_id}/enroll",
        "/users/{user_id}/secrets/{secret_id}/qrcode",
        "/users/{user_id}/secrets/{secret_id}/codes",
        "/auth/password",
        "/auth/totp",
        "/auth/refresh",
        "/users/{user_id}/events",
    }


def test_the_history_is_a_cursor_paged_list_of_events(schema):
    operation = schema["paths"]["/users/{user_id}/events"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"user_id", "cursor"}
    assert set(operation["responses"]) == {"200", "401", "404"}
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][page.rsplit("/", 1)[1]]
    assert {"next", "previous", "results"} <= set(component["properties"])


def test_every_error_answer_is_documented_with_the_error_body(schema):
    paths = schema["paths"]
    enroll = paths["/users/{user_id}/secrets/{secret_id}/enroll"]["put"]["responses"]
    assert set(enroll) == {"200", "400", "401", "404", "409", "415", "429"}
    for status in ("400", "409", "429"):
        assert enroll[status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message"}


def test_codes_are_strings_of_digits_or_integers(schema):
    token = schema["components"]["schemas"]["TokenRequest"]["properties"]["token"]
    kinds = {branch["type"] for branch in token["anyOf"]}
    assert kinds == {"string", "integer"}
    assert token["anyOf"][1]["maximum"] == 999_999


def test_second_factor_takes_exactly_one_of_token_and_backup_code(schema):
    body = schema["paths"]["/auth/totp"]["post"]["requestBody"]
    assert body["required"] is True
    request = schema["components"]["schemas"]["SecondFactorRequest"]
    assert [shape["required"] for shape in request["oneOf"]] == [["token"], ["backup_code"]]


def test_login_answers_access_challenge_or_setup(schema):
    answer = schema["paths"]["/auth/password"]["post"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    login = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {branch["$ref"].rsplit("/", 1)[1] for branch in login["oneOf"]} == {
        "Access",
        "Challenge",
        "Setup",
    }


def test_created_secrets_link_to_their_operations(schema):
    created = schema["paths"]["/users/{user_id}/secrets"]["post"]["responses"]["200"]
    assert set(created["links"]) == {
        "GetSecret",
        "GetQRCode",
        "EnrollSecret",
        "RegenerateCodes",
        "DeleteSecret",
    }


def test_jwt_security_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["jwtAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}


def test_the_example_project_serves_the_schema_and_docs(tmp_path):
    from .test_example_project import manage

    result = manage(
        "shell",
        "-c",
        "from django.test import Client; c = Client(); "
        "print(c.get('/api/schema/').status_code, c.get('/api/docs/').status_code)",
        tmp_path=tmp_path,
    )
    assert result.stdout.strip().splitlines()[-1] == "200 200", result.stderr
