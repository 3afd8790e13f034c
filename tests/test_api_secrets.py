"""The secrets endpoints of API.md, walked as the tutorial walks them, and every bad input."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from django_mfa_enroll.models import BackupCode, Secret

from .conftest import access_token_for, make_user, sign_in

pytestmark = pytest.mark.django_db


def secret_state(user):
    """Everything a request could change, to assert that a refused one changed nothing."""
    return [
        (s.id, s.status, s.encrypted_key, s.last_step, s.description, s.enrolled_at)
        for s in Secret.objects.filter(user=user).order_by("id")
    ] + sorted(BackupCode.objects.filter(secret__user=user).values_list("code_hash", "used_at"))


# The tutorial, step by step.


def test_tutorial_flow_with_the_users_real_id(api_client, user, clock):
    user_id = str(user.pk)
    created = api_client.post(f"/users/{user_id}/secrets", {"type": "mfa"}, format="json")
    assert created.status_code == 200
    body = created.json()
    assert body["type"] == "mfa" and body["status"] == "pending"
    assert set(body) >= {"id", "type", "status", "description", "created_at", "secret"}
    key = body["secret"]["secret"]
    assert len(key) >= 32 and key.isalnum() and key.upper() == key

    enrolled = api_client.put(
        f"/users/{user_id}/secrets/{body['id']}/enroll",
        {"token": clock.code(key)},
        format="json",
    )
    assert enrolled.status_code == 200, enrolled.content
    answer = enrolled.json()
    assert answer["status"] == "active" and answer["id"] == body["id"]
    assert len(answer["codes"]) == 10 and len(set(answer["codes"])) == 10
    assert "secret" not in answer
    assert answer["backup_codes_remaining"] == 10


def test_create_answers_a_key_uri_authenticator_apps_read(api_client, user):
    body = api_client.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    uri = urlsplit(body["secret"]["otpauth_url"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert uri.path == f"/Example:{user.get_username()}"
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]["secret"]]
    assert query["issuer"] == ["Example"]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]


def test_issuer_defaults_to_the_sites_name(api_client, settings):
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "ISSUER": None}
    body = api_client.post("/users/me/secrets", {"type": "mfa"}, format="json").json()
    assert urlsplit(body["secret"]["otpauth_url"]).path.startswith("/testserver:")


def test_description_is_kept(flow):
    created = flow.create(description="Phone")
    assert created["description"] == "Phone"


def test_trailing_slash_works_on_every_path(flow, api_client):
    created = api_client.post("/users/me/secrets/", {"type": "mfa"}, format="json")
    assert created.status_code == 200
    sid = created.json()["id"]
    assert api_client.get("/users/me/secrets/").status_code == 200
    assert api_client.get(f"/users/me/secrets/{sid}/").status_code == 200
    assert api_client.get(f"/users/me/secrets/{sid}/qrcode/").status_code == 200
    code = flow.clock.code(created.json()["secret"]["secret"])
    assert (
        api_client.put(
            f"/users/me/secrets/{sid}/enroll/", {"token": code}, format="json"
        ).status_code
        == 200
    )


def test_second_create_while_pending_replaces_it(flow, user):
    first = flow.create()
    second = flow.create()
    assert first["id"] != second["id"]
    assert list(Secret.objects.filter(user=user).values_list("id", flat=True)) == [
        uuid.UUID(second["id"])
    ]
    response = flow.client.put(
        f"/users/me/secrets/{first['id']}/enroll",
        {"token": flow.clock.code(first["secret"]["secret"])},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_create_while_active_is_409_and_changes_nothing(flow, enrolled, user):
    before = secret_state(user)
    response = flow.client.post("/users/me/secrets", {"type": "mfa"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "secret_exists"
    assert secret_state(user) == before


def test_enrolling_twice_is_409(flow, enrolled, user):
    before = secret_state(user)
    response = flow.client.put(
        f"/users/me/secrets/{enrolled['id']}/enroll",
        {"token": flow.clock.code(enrolled["key"])},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"
    assert secret_state(user) == before


def test_token_as_json_integer_is_zero_padded(flow, monkeypatch):
    created = flow.create()
    code = flow.clock.code(created["secret"]["secret"])
    response = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll", {"token": int(code)}, format="json"
    )
    assert response.status_code == 200, response.content


def test_token_with_spaces_is_accepted(flow):
    created = flow.create()
    code = flow.clock.code(created["secret"]["secret"])
    response = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll",
        {"token": f"{code[:3]} {code[3:]}"},
        format="json",
    )
    assert response.status_code == 200


def test_wrong_code_on_enroll_is_400_and_changes_nothing(flow, user):
    created = flow.create()
    right = flow.clock.code(created["secret"]["secret"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    before = secret_state(user)
    response = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll", {"token": wrong}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_code",
        "status": 400,
        "message": "The code is not valid.",
    }
    assert secret_state(user) == before
    assert Secret.objects.get(user=user).failure_count == 1


def test_code_two_steps_old_is_refused_at_enroll(flow):
    created = flow.create()
    old = flow.clock.code(created["secret"]["secret"], offset_steps=-2)
    response = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll", {"token": old}, format="json"
    )
    assert response.status_code == 400


def test_list_and_detail_never_show_key_material(flow, enrolled, api_client, user):
    listing = api_client.get("/users/me/secrets")
    assert listing.status_code == 200
    [item] = listing.json()
    assert set(item) == {
        "id",
        "type",
        "status",
        "description",
        "created_at",
        "enrolled_at",
        "last_used_at",
        "backup_codes_remaining",
        "prefix",
        "expires_at",
    }
    assert item["prefix"] is None and item["expires_at"] is None  # an API key's fields
    assert item["backup_codes_remaining"] == 10 and item["enrolled_at"]
    detail = api_client.get(f"/users/{user.pk}/secrets/{enrolled['id']}")
    assert detail.json() == item
    for response in (listing, detail):
        assert enrolled["key"] not in response.content.decode()
        assert not any(code in response.content.decode() for code in enrolled["codes"])
        assert response["Cache-Control"] == "no-store"


def test_list_is_empty_before_any_secret(api_client):
    assert api_client.get("/users/me/secrets").json() == []


# QR code.


def test_qrcode_png_by_default(flow, api_client):
    created = flow.create()
    response = api_client.get(f"/users/me/secrets/{created['id']}/qrcode")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert response["Cache-Control"] == "no-store"


def test_qrcode_svg_with_format_svg(flow, api_client):
    created = flow.create()
    response = api_client.get(f"/users/me/secrets/{created['id']}/qrcode?format=svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


def test_qrcode_unknown_format_is_400(flow, api_client):
    created = flow.create()
    response = api_client.get(f"/users/me/secrets/{created['id']}/qrcode?format=gif")
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ["Must be 'png' or 'svg'."]}


def test_qrcode_of_an_active_secret_is_refused(enrolled, api_client):
    response = api_client.get(f"/users/me/secrets/{enrolled['id']}/qrcode")
    assert response.status_code == 409
    assert response.json()["code"] == "secret_active"
    assert enrolled["key"].encode() not in response.content


# Regenerate.


def test_regenerate_gives_a_fresh_set_and_kills_the_old(flow, enrolled, api_client, user):
    old_hashes = set(
        BackupCode.objects.filter(secret__user=user).values_list("code_hash", flat=True)
    )
    response = api_client.post(
        f"/users/me/secrets/{enrolled['id']}/codes",
        {"token": flow.clock.code(enrolled["key"])},
        format="json",
    )
    assert response.status_code == 200
    codes = response.json()["codes"]
    assert len(codes) == 10 and not set(codes) & set(enrolled["codes"])
    new_hashes = set(
        BackupCode.objects.filter(secret__user=user).values_list("code_hash", flat=True)
    )
    assert len(new_hashes) == 10 and not new_hashes & old_hashes


def test_regenerate_with_a_wrong_code_is_400_and_keeps_the_set(flow, enrolled, api_client, user):
    before = secret_state(user)
    right = flow.clock.code(enrolled["key"])
    response = api_client.post(
        f"/users/me/secrets/{enrolled['id']}/codes",
        {"token": f"{(int(right) + 1) % 1_000_000:06d}"},
        format="json",
    )
    assert response.status_code == 400
    assert secret_state(user) == before


def test_regenerate_refuses_the_code_that_enrolled(flow, api_client, user):
    created = flow.create()
    code = flow.clock.code(created["secret"]["secret"])
    assert (
        api_client.put(
            f"/users/me/secrets/{created['id']}/enroll", {"token": code}, format="json"
        ).status_code
        == 200
    )
    sign_in(api_client, user, created["id"])
    before = secret_state(user)
    response = api_client.post(
        f"/users/me/secrets/{created['id']}/codes", {"token": code}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "code_reused"
    assert secret_state(user) == before


def test_regenerate_a_pending_secret_is_409(flow, api_client):
    created = flow.create()
    code = flow.clock.code(created["secret"]["secret"])
    response = api_client.post(
        f"/users/me/secrets/{created['id']}/codes", {"token": code}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "not_enrolled"


def test_regenerate_does_not_take_a_backup_code(flow, enrolled, api_client):
    response = api_client.post(
        f"/users/me/secrets/{enrolled['id']}/codes", {"token": enrolled["codes"][0]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"token": ["Must contain only digits."]}


# Delete.


def test_delete_pending_needs_no_code(flow, api_client, user):
    created = flow.create()
    assert api_client.delete(f"/users/me/secrets/{created['id']}").status_code == 204
    assert not Secret.objects.filter(user=user).exists()


def test_delete_active_needs_a_code(flow, enrolled, api_client, user):
    before = secret_state(user)
    response = api_client.delete(f"/users/me/secrets/{enrolled['id']}")
    assert response.status_code == 400
    assert secret_state(user) == before


def test_delete_active_with_a_totp_code(flow, enrolled, api_client, user):
    response = api_client.delete(
        f"/users/me/secrets/{enrolled['id']}",
        {"token": flow.clock.code(enrolled["key"])},
        format="json",
    )
    assert response.status_code == 204
    assert not Secret.objects.filter(user=user).exists()
    assert not BackupCode.objects.filter(secret__user=user).exists()


def test_delete_active_with_a_backup_code_in_the_header(flow, enrolled, api_client, user):
    response = api_client.delete(
        f"/users/me/secrets/{enrolled['id']}", HTTP_X_MFA_TOKEN=enrolled["codes"][3].upper()
    )
    assert response.status_code == 204
    assert not Secret.objects.filter(user=user).exists()


def test_delete_active_with_a_wrong_backup_code(flow, enrolled, api_client, user):
    before = secret_state(user)
    response = api_client.delete(
        f"/users/me/secrets/{enrolled['id']}", {"token": "aaaa-aaaa-aaaa"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert secret_state(user) == before


def test_after_delete_the_user_can_enroll_again(flow, enrolled, api_client, user):
    api_client.delete(
        f"/users/me/secrets/{enrolled['id']}",
        {"token": flow.clock.code(enrolled["key"])},
        format="json",
    )
    # The login of the deleted factor ends with it; a password login follows.
    assert api_client.get("/users/me/secrets").json()["code"] == "mfa_reset"
    sign_in(api_client, user)
    again = flow.enroll()
    assert again["status"] == "active" and again["id"] != enrolled["id"]


# Other users, ids that are not ids.


def test_another_users_id_is_404_and_changes_nothing(api_client, other_user):
    for method, path in [
        ("get", f"/users/{other_user.pk}/secrets"),
        ("post", f"/users/{other_user.pk}/secrets"),
    ]:
        response = getattr(api_client, method)(path, {"type": "mfa"}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert not Secret.objects.filter(user=other_user).exists()


def test_a_secret_of_another_user_is_404(api_client, other_user, clock):
    other = Flow_for(other_user, clock)
    created = other.create()
    before = secret_state(other_user)
    sid = created["id"]
    code = clock.code(created["secret"]["secret"])
    for method, path, body in [
        ("get", f"/users/me/secrets/{sid}", None),
        ("get", f"/users/me/secrets/{sid}/qrcode", None),
        ("put", f"/users/me/secrets/{sid}/enroll", {"token": code}),
        ("post", f"/users/me/secrets/{sid}/codes", {"token": code}),
        ("delete", f"/users/me/secrets/{sid}", None),
    ]:
        response = getattr(api_client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
    assert secret_state(other_user) == before


def Flow_for(user, clock):
    from rest_framework.test import APIClient

    from .conftest import Flow

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return Flow(client, user, clock)


@pytest.mark.parametrize(
    "user_id",
    ["not-an-id", "00000000-0000-0000-0000-000000000000", "99999999999999999999999", "-1", "%20"],
)
def test_user_ids_that_are_not_ids_or_not_ours_are_404(api_client, user_id):
    response = api_client.get(f"/users/{user_id}/secrets")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("secret_id", ["1", "not-a-uuid", str(uuid.uuid4()), "0" * 300])
def test_secret_ids_that_are_not_ids_are_404(api_client, secret_id):
    for method in ("get", "delete"):
        response = getattr(api_client, method)(f"/users/me/secrets/{secret_id}")
        assert response.status_code == 404
    response = api_client.put(
        f"/users/me/secrets/{secret_id}/enroll", {"token": "123456"}, format="json"
    )
    assert response.status_code == 404


# Bad input: 400 naming the problem, nothing changed.


TUTORIAL_CREATE = '{\n    "type": "mfa",\n}'
TUTORIAL_ENROLL = '{\n    "token": 021589,\n}'


def test_the_tutorials_create_body_is_400_naming_the_trailing_comma(api_client, user):
    response = api_client.generic(
        "POST", "/users/me/secrets", TUTORIAL_CREATE, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and body["status"] == 400
    assert "trailing comma" in body["message"]
    assert not Secret.objects.filter(user=user).exists()


def test_the_tutorials_enroll_body_is_400_naming_the_leading_zero(flow, user):
    created = flow.create()
    before = secret_state(user)
    response = flow.client.generic(
        "PUT",
        f"/users/me/secrets/{created['id']}/enroll",
        '{"token": 021589}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "leading zero" in response.json()["message"]
    response = flow.client.generic(
        "PUT",
        f"/users/me/secrets/{created['id']}/enroll",
        TUTORIAL_ENROLL,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["message"]
    assert secret_state(user) == before


@pytest.mark.parametrize(
    "raw,needle",
    [
        ("{", "Malformed JSON"),
        ('{"type": NaN}', "Malformed JSON"),
        ("\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_bodies_are_400(api_client, raw, needle, user):
    data = raw.encode("latin-1")
    response = api_client.generic(
        "POST", "/users/me/secrets", data, content_type="application/json"
    )
    assert response.status_code == 400
    assert needle in response.json()["message"]
    assert not Secret.objects.filter(user=user).exists()


def test_oversized_body_is_400(api_client, user):
    body = '{"type": "mfa", "description": "' + "x" * 20_000 + '"}'
    response = api_client.generic(
        "POST", "/users/me/secrets", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "too large" in response.json()["message"]


def test_form_encoded_body_is_415(api_client):
    response = api_client.post(
        "/users/me/secrets", "type=mfa", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body,field,message",
    [
        ({}, "type", "This field is required."),
        ({"type": "sms"}, "type", '"sms" is not a valid choice.'),
        ({"type": None}, "type", "This field may not be null."),
        ({"type": ["mfa"]}, "type", None),
        ({"type": {"a": 1}}, "type", None),
        (
            {"type": "mfa", "description": "x" * 256},
            "description",
            "Ensure this field has no more than 255 characters.",
        ),
        ({"type": "mfa", "description": 5}, "description", "Not a valid string."),
        ({"type": "mfa", "description": None}, "description", "This field may not be null."),
        ([], "non_field_errors", None),
        ("mfa", "non_field_errors", None),
    ],
)
def test_bad_create_bodies_are_400_naming_the_field(api_client, user, body, field, message):
    response = api_client.post("/users/me/secrets", body, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid" and answer["status"] == 400
    assert field in answer["errors"]
    if message:
        assert answer["errors"][field] == [message]
        assert message in answer["message"]
    assert not Secret.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    "token,message",
    [
        ("12345", "Must be exactly 6 digits."),
        ("1234567", "Must be exactly 6 digits."),
        ("12a456", "Must contain only digits."),
        ("１２３４５６", "Must contain only digits."),
        ("", "Must be exactly 6 digits."),
        (1234567, "Must be exactly 6 digits."),
        (-12345, "Must contain only digits."),
        (12.5, "Must be a string of digits or an integer, not a decimal number."),
        (True, "Must be a string of digits or an integer, not a boolean."),
        (None, "This field may not be null."),
        (["123456"], "Must be a string of digits or an integer, not an array."),
        ({"code": "123456"}, "Must be a string of digits or an integer, not an object."),
    ],
)
def test_bad_tokens_on_enroll_are_400_and_change_nothing(flow, user, token, message):
    created = flow.create()
    before = secret_state(user)
    response = flow.client.put(
        f"/users/me/secrets/{created['id']}/enroll", {"token": token}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"token": [message]}
    assert response.json()["message"] == f"token: {message}"
    assert secret_state(user) == before
    assert Secret.objects.get(user=user).failure_count == 0


def test_missing_token_on_enroll_is_400(flow, user):
    created = flow.create()
    response = flow.client.put(f"/users/me/secrets/{created['id']}/enroll", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"token": ["This field is required."]}


def test_huge_integer_token_is_400(flow):
    created = flow.create()
    response = flow.client.generic(
        "PUT",
        f"/users/me/secrets/{created['id']}/enroll",
        '{"token": 1' + "0" * 4000 + "}",
        content_type="application/json",
    )
    assert response.status_code == 400


def test_wrong_method_is_405_in_the_error_shape(api_client):
    response = api_client.patch("/users/me/secrets", {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# Authentication of requests.


@pytest.mark.parametrize("scheme", ["jwt", "JWT", "Bearer", "bearer", "BEARER", "Jwt"])
def test_jwt_header_schemes_in_any_case(user, scheme):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {access_token_for(user)}")
    assert client.get("/users/me/secrets").status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "jwt", "jwt not.a.token", "Bearer a b", "Token abc", "jwt " + "x" * 5000],
)
def test_no_or_bad_credentials_are_401(anon_client, header):
    if header is not None:
        anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = anon_client.get("/users/me/secrets")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "status", "message"}


def test_refresh_token_is_not_an_access_token(user, anon_client):
    from rest_framework_simplejwt.tokens import RefreshToken

    anon_client.credentials(HTTP_AUTHORIZATION=f"jwt {RefreshToken.for_user(user)}")
    assert anon_client.get("/users/me/secrets").status_code == 401


def test_session_authentication_works(user, client):
    client.force_login(user)
    response = client.get("/users/me/secrets")
    assert response.status_code == 200


def test_token_of_a_deleted_user_is_401(db):
    from rest_framework.test import APIClient

    ghost = make_user("ghost")
    token = access_token_for(ghost)
    ghost.delete()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"jwt {token}")
    assert client.get("/users/me/secrets").status_code == 401


def test_no_query_count_explosion_on_list(
    api_client, enrolled, user, clock, django_assert_max_num_queries
):
    # user lookup, its MFA state, the annotated list, the API keys: whatever their number
    from django_mfa_enroll import services

    for _ in range(3):
        services.create_api_key(user, amr=["pwd", "mfa"], auth_time=int(clock.now.timestamp()))
    with django_assert_max_num_queries(4):
        assert len(api_client.get("/users/me/secrets").json()) == 4


def test_encrypted_key_column_does_not_hold_the_secret(flow, user):
    created = flow.create()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT encrypted_key FROM {Secret._meta.db_table}")  # noqa: S608
        [(raw,)] = cursor.fetchall()  # the only secret in the test database
    key = created["secret"]["secret"]
    assert key not in raw and key.lower() not in raw
    import base64

    assert base64.b32decode(key).hex() not in raw


# Found in review: inputs that once answered 500 or changed state.


@pytest.mark.parametrize(
    "path,method",
    [("/auth/password", "POST"), ("/users/me/secrets", "POST"), ("/auth/totp", "POST")],
)
def test_deeply_nested_json_is_400(api_client, path, method):
    balanced = "[" * 5000 + "]" * 5000
    response = api_client.generic(method, path, balanced, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]
    # Unbalanced: json gives up with a RecursionError on some Pythons, a parse error on others.
    response = api_client.generic(method, path, "[" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed JSON")


@pytest.mark.parametrize(
    "raw", ['{"type": "\\ud800"}', '{"type": "mfa", "description": "a\\udfffb"}', '{"\\ud800": 1}']
)
def test_lone_surrogates_are_400(api_client, user, raw):
    response = api_client.generic("POST", "/users/me/secrets", raw, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in response.json()["message"]
    assert not Secret.objects.filter(user=user).exists()


@pytest.mark.parametrize("body", ["false", "0", "[]", '""', "null", "[1]", '"123456"'])
def test_delete_with_a_body_that_is_not_an_object_is_400_and_keeps_the_secret(flow, user, body):
    created = flow.create()
    response = flow.client.generic(
        "DELETE", f"/users/me/secrets/{created['id']}", body, content_type="application/json"
    )
    assert response.status_code == 400, (body, response.content)
    assert Secret.objects.filter(user=user).exists()


@pytest.mark.parametrize("body", [None, "{}"])
def test_delete_active_without_a_token_is_400_and_not_a_failure(flow, enrolled, user, body):
    kwargs = {"content_type": "application/json"} if body else {}
    response = flow.client.generic(
        "DELETE", f"/users/me/secrets/{enrolled['id']}", body or "", **kwargs
    )
    assert response.status_code == 400
    assert response.json()["code"] == "code_required"
    assert Secret.objects.get(user=user).failure_count == 0


def test_format_api_still_answers_json_errors(api_client):
    response = api_client.post("/users/me/secrets?format=api", {"type": 1}, format="json")
    assert response.status_code in (400, 404)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "path", ["/users//secrets", "/users/me/secrets//", "/users/me/secrets//enroll"]
)
def test_empty_path_parts_answer_json(api_client, path):
    response = api_client.get(path)
    assert response["Content-Type"].startswith("application/json")
    assert response.status_code in (200, 404, 405)


def test_results_do_not_print_their_secrets(user, clock):
    from django_mfa_enroll import services

    new = services.create_secret(user, issuer="Example")
    enrollment = services.enroll_secret(user, new.secret.pk, clock.code(new.key_base32))
    assert new.key_base32 not in repr(new) and "otpauth" not in repr(new)
    assert not any(code in repr(enrollment) for code in enrollment.codes)


# Staff: read others' secrets with view_secret; reset with reset_mfa. Nothing else.


def grant(user, *codenames, staff=True):
    from django.contrib.auth.models import Permission

    user.is_staff = staff
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # a fresh instance: no permission cache


def test_permissions_without_staff_status_do_not_reach_others(api_client, user, other_user, clock):
    theirs = Flow_for(other_user, clock).enroll()
    grant(user, "view_secret", "reset_mfa", staff=False)
    assert api_client.get(f"/users/{other_user.pk}/secrets").status_code == 404
    assert api_client.delete(f"/users/{other_user.pk}/secrets/{theirs['id']}").status_code == 404
    assert Secret.objects.filter(user=other_user).exists()


def test_staff_with_view_permission_reads_others(api_client, user, other_user, clock):
    theirs = Flow_for(other_user, clock).create()
    assert api_client.get(f"/users/{other_user.pk}/secrets").status_code == 404
    grant(user, "view_secret")
    listing = api_client.get(f"/users/{other_user.pk}/secrets")
    assert listing.status_code == 200 and listing.json()[0]["id"] == theirs["id"]
    assert theirs["secret"]["secret"] not in listing.content.decode()
    assert api_client.get(f"/users/{other_user.pk}/secrets/{theirs['id']}").status_code == 200
    # ...but cannot see its key, enroll it, or make anything for them.
    assert (
        api_client.get(f"/users/{other_user.pk}/secrets/{theirs['id']}/qrcode").status_code == 404
    )
    assert (
        api_client.post(
            f"/users/{other_user.pk}/secrets", {"type": "mfa"}, format="json"
        ).status_code
        == 404
    )
    assert api_client.delete(f"/users/{other_user.pk}/secrets/{theirs['id']}").status_code == 404
    assert api_client.get("/users/99999999/secrets").status_code == 404


def test_staff_with_reset_permission_resets_others_without_a_code(
    api_client, user, other_user, clock
):
    other = Flow_for(other_user, clock)
    theirs = other.enroll()
    grant(user, "reset_mfa")
    response = api_client.delete(f"/users/{other_user.pk}/secrets/{theirs['id']}")
    assert response.status_code == 204
    assert not Secret.objects.filter(user=other_user).exists()
    assert not BackupCode.objects.filter(secret__user=other_user).exists()
