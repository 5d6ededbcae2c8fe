"""The schema says exactly what the server accepts: each published pattern is the constant the server checks, and
for values on both sides of each rule, "valid per the schema" and "accepted by the server" agree."""

import re
import uuid
from datetime import timedelta

import jsonschema_rs
import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from api import formats
from api.schema import LINKS, SEMANTIC_RULES
from cases.text import KANA_MAX_LENGTH, KANA_PATTERN, PHONE_PATTERN, is_kana, normalize_kana

from .helpers import assert_problem

LISTS = [
    "/api/v1/agencies/",
    "/api/v1/clients/",
    "/api/v1/clients/{id}/timeline/",
    "/api/v1/clients/{id}/shares/",
    "/api/v1/audit/events/",
]


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _resolve(openapi: dict, node: dict) -> dict:
    while "$ref" in node:
        node = openapi["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _property(openapi: dict, component: str, field: str) -> dict:
    return _resolve(openapi, openapi["components"]["schemas"][component]["properties"][field])


def _query_parameter(openapi: dict, path: str, name: str) -> dict:
    parameters = openapi["paths"][path]["get"]["parameters"]
    return next(p["schema"] for p in parameters if p["name"] == name)


def _valid(schema: dict, value) -> bool:
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value)


# --- one constant, two readers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "field", "pattern", "max_length"),
    [
        ("ClientCreateInRequest", "name_kana", KANA_PATTERN, KANA_MAX_LENGTH),
        ("PatchedClientUpdateInRequest", "name_kana", KANA_PATTERN, KANA_MAX_LENGTH),
        ("ClientCreateInRequest", "name", formats.REQUIRED_LINE_PATTERN, 100),
        ("ClientCreateInRequest", "phone", PHONE_PATTERN, 32),
        ("ClientCreateInRequest", "birth_date", formats.DATE_PATTERN, None),
        ("EntryCreateInRequest", "body", formats.REQUIRED_TEXT_PATTERN, 20000),
        ("EntryCreateInRequest", "occurred_at", formats.DATE_TIME_PATTERN, None),
        ("EntryCreateInRequest", "corrects", formats.UUID_PATTERN, None),
        ("ShareCreateInRequest", "agency", formats.AGENCY_CODE_PATTERN, 32),
        ("ShareCreateInRequest", "expires_at", formats.DATE_TIME_PATTERN, None),
    ],
)
def test_the_schema_publishes_the_patterns_the_server_checks(openapi, component, field, pattern, max_length):
    prop = _property(openapi, component, field)
    assert prop["pattern"] == pattern
    assert prop.get("maxLength") == max_length


def test_every_list_declares_its_cursor_format(openapi):
    for path in LISTS:
        cursor = _query_parameter(openapi, path, "cursor")
        assert cursor.get("pattern") == formats.CURSOR_PATTERN or any(
            branch.get("pattern") == formats.CURSOR_PATTERN for branch in cursor.get("oneOf", [])
        ), path
        assert "`errors.cursor`" in openapi["paths"][path]["get"]["description"]


def test_idempotency_key_header_is_declared_with_its_pattern(openapi):
    for path in ("/api/v1/clients/", "/api/v1/clients/{id}/timeline/"):
        header = next(p for p in openapi["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key")
        assert header["schema"]["pattern"] == formats.IDEMPOTENCY_KEY_PATTERN


def test_rules_no_schema_states_are_described_with_the_field_named(openapi):
    operations = {op["operationId"]: op for item in openapi["paths"].values() for op in item.values()}
    for operation_id, rules in SEMANTIC_RULES.items():
        for field, rule in rules.items():
            assert f"`{field}`: {rule} (otherwise 400, `errors.{field}`)" in operations[operation_id]["description"]


def test_links_lead_from_new_ids_to_the_operations_that_use_them(openapi):
    operations = {op["operationId"]: op for item in openapi["paths"].values() for op in item.values()}
    create_client = operations["clients_create"]["responses"]["201"]["links"]
    assert create_client["GetClient"] == {"operationId": "clients_retrieve", "parameters": {"id": "$response.body#/id"}}
    assert {link["operationId"] for link in create_client.values()} >= {"shares_create", "timeline_create"}
    revoke = operations["shares_create"]["responses"]["201"]["links"]["RevokeShare"]
    assert revoke == {
        "operationId": "shares_revoke",
        "parameters": {"id": "$request.path.id", "share_id": "$response.body#/id"},
    }
    for responses in LINKS.values():
        for links in responses.values():
            assert all(link["operationId"] in operations for link in links.values())


# --- the patterns admit only what the services accept ---------------------------------------------------


@given(st.from_regex(KANA_PATTERN, fullmatch=True).filter(lambda s: len(s) <= KANA_MAX_LENGTH))
def test_every_kana_the_schema_admits_is_a_furigana_the_service_accepts(value):
    assert is_kana(value)
    assert len(normalize_kana(value)) <= len(value)


@given(st.from_regex(formats.REQUIRED_LINE_PATTERN, fullmatch=True))
def test_a_required_line_keeps_a_visible_character(value):
    assert " ".join(value.split())


@given(st.from_regex(formats.REQUIRED_TEXT_PATTERN, fullmatch=True))
def test_a_required_text_keeps_a_visible_character(value):
    assert value.strip()


# --- valid per the schema ⇔ accepted by the server ------------------------------------------------------

NEW_CLIENT = {"name": "鈴木 一郎", "name_kana": "すずき いちろう", "birth_date": "1960-01-02"}
PAST = (timezone.now() - timedelta(days=1)).replace(microsecond=0)


def _aware(moment) -> str:
    return moment.isoformat()


CLIENT_VALUES = [
    ("name_kana", "0", False),
    ("name_kana", " ", False),
    ("name_kana", "ｱﾞ", False),
    ("name_kana", "yamada", False),
    ("name_kana", "ﾔﾏﾀﾞ ﾀﾛｳ", True),
    ("name_kana", "やまだ\u3000たろう", True),
    ("name_kana", "ヤマダ・タロー", True),
    ("name_kana", "あ" * 101, False),
    ("name", 123, False),
    ("name", "   ", False),
    ("name", "鈴木\t一郎", False),
    ("name", " 鈴木  一郎 ", True),
    ("phone", "0256-00-0000", True),
    ("phone", "tel:0256", False),
    ("address", "三条市\n旭町", False),
    ("address", "", True),
    ("tags", ["a|b"], False),
    ("tags", [""], True),
    ("tags", ["t"] * 11, False),
    ("address_confidential", "true", False),
    ("address_confidential", True, True),
    ("birth_date", "19600102", False),
    ("birth_date", "1899-12-31", False),
    ("birth_date", "1960-02-30", False),
    ("birth_date", "1900-01-01", True),
]


@pytest.mark.parametrize(("field", "value", "valid"), CLIENT_VALUES)
def test_client_fields_schema_and_server_agree(openapi, cast, api, field, value, valid):
    component = openapi["components"]["schemas"]["ClientCreateInRequest"]
    body = {**NEW_CLIENT, field: value}
    assert _valid({**component, "components": openapi["components"]}, body) is valid
    response = api("alice").post("/api/v1/clients/", body, format="json")
    if valid:
        assert response.status_code == 201, response.content
    else:
        assert field in assert_problem(response, 400)["errors"] or f"{field}.0" in response.json()["errors"]


ENTRY_VALUES = [
    ("occurred_at", "2026-01-01T09:00:00", False),  # naive: no offset
    ("occurred_at", "2025-12-31T23:59:60Z", False),  # a leap second
    ("occurred_at", "2025-12-31 23:59:00Z", False),
    ("occurred_at", "2025-12-31T23:59:00+16:00", False),  # wider than any zone, and than PostgreSQL stores
    ("occurred_at", "1900-01-01T00:00:00+15:59", True),  # the earliest year, at the widest offset
    ("occurred_at", "2025-12-31T23:59:00-15:59", True),
    # values that differ from run to run carry fixed ids (parallel workers must collect the same tests)
    pytest.param("occurred_at", _aware(PAST), True, id="occurred_at-yesterday-offset-True"),
    pytest.param("occurred_at", PAST.strftime("%Y-%m-%dT%H:%M:%SZ"), True, id="occurred_at-yesterday-Z-True"),
    pytest.param("corrects", "{" + str(uuid.uuid4()) + "}", False, id="corrects-braced-uuid-False"),
    pytest.param("corrects", uuid.uuid4().hex, False, id="corrects-hex-uuid-False"),
    ("body", " \n ", False),
    ("body", "一行目\n二行目", True),
    ("body", "a\x01b", False),
]


@pytest.mark.parametrize(("field", "value", "valid"), ENTRY_VALUES)
def test_entry_fields_schema_and_server_agree(openapi, cast, api, field, value, valid):
    component = openapi["components"]["schemas"]["EntryCreateInRequest"]
    body = {"kind": "visit", "body": "訪問", field: value}
    assert _valid({**component, "components": openapi["components"]}, body) is valid
    response = api("alice").post(f"/api/v1/clients/{cast.client.id}/timeline/", body, format="json")
    if valid:
        assert response.status_code == 201, response.content
    else:
        assert field in assert_problem(response, 400)["errors"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(("cursor", "documented_format"), [("+", False), ("A" * 513, False), ("AAAA", True)])
def test_a_cursor_the_server_did_not_issue_is_a_400_on_every_list(openapi, cast, api, path, cursor, documented_format):
    schema = _query_parameter(openapi, path, "cursor")
    assert _valid(schema, cursor) is documented_format
    url = path.format(id=cast.client.id)
    body = assert_problem(api("penny" if "audit" in path else "alice").get(url, {"cursor": cursor}), 400)
    assert set(body["errors"]) == {"cursor"}


def test_an_issued_cursor_matches_the_documented_format(cast, api):
    response = api("alice").get("/api/v1/agencies/", {"page_size": 1})
    cursor = re.search(r"cursor=([^&]+)", response.json()["next"]).group(1)
    assert re.fullmatch(formats.CURSOR_PATTERN, cursor) and len(cursor) <= formats.CURSOR_MAX_LENGTH
    assert api("alice").get("/api/v1/agencies/", {"page_size": 1, "cursor": cursor}).status_code == 200


@pytest.mark.parametrize(
    ("key", "valid"), [("visit-2026-11-23-001", True), ("has space", False), ("キー", False), ("x" * 256, False)]
)
def test_idempotency_key_schema_and_server_agree(cast, api, key, valid):
    assert (re.fullmatch(formats.IDEMPOTENCY_KEY_PATTERN, key) is not None) is valid
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    try:
        response = api("alice").post(url, {"kind": "visit", "body": "訪問"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    except UnicodeEncodeError:  # a header cannot even carry it
        assert not valid
        return
    if valid:
        assert response.status_code == 201
    else:
        assert set(assert_problem(response, 400)["errors"]) == {"Idempotency-Key"}


def test_an_accept_header_the_api_cannot_serve_is_a_documented_406(openapi, api):
    """Every operation negotiates its response type; what it answers to an Accept it cannot serve is in the schema."""
    response = api("bob").get("/api/v1/agencies/", HTTP_ACCEPT="text/html")
    assert_problem(response, 406)
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            assert "406" in operation["responses"], f"{method.upper()} {path}"
