"""A hidden client and a missing one cost the same work: the same SQL statements, in the same order and shape
(only the literal values differ), so response time does not tell them apart. Not a timed test: the statements are
what differ when the times do."""

import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.mfa import sign_in

_LITERALS = [
    (re.compile(r'"s\d+_x\d+"'), "?"),  # savepoint names
    (re.compile(r"'(?:[^']|'')*'"), "?"),  # quoted strings (uuids, reasons, timestamps, JSON)
    (re.compile(r"\b[0-9a-f]{32}\b"), "?"),  # uuids as SQLite stores them
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "?"),  # numbers
    (re.compile(r"\b(?:NULL|TRUE|FALSE|True|False|None)\b"), "?"),
]


def _shape(sql: str) -> str:
    for pattern, replacement in _LITERALS:
        sql = pattern.sub(replacement, sql)
    return sql


def _statements(client: Client, method: str, url: str, body: str | None, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        if body is None:
            response = getattr(client, method)(url, **headers)
        else:
            response = getattr(client, method)(url, data=body, content_type="application/json")
    assert response.status_code == 404, (url, response.status_code)
    return [_shape(q["sql"]) for q in queries.captured_queries]


ENDPOINTS = [
    ("get", "/api/v1/clients/{id}/", None),
    ("get", "/api/v1/clients/{id}/timeline/", None),
    ("get", "/api/v1/clients/{id}/shares/", None),
    ("post", "/api/v1/clients/{id}/timeline/", '{"kind": "note", "body": "メモ"}'),
    ("patch", "/api/v1/clients/{id}/", '{"phone": "0256-11-1111"}'),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("who", ["charlie", "erin", "rick"])  # no share, an expired one, a revoked one
def test_a_hidden_client_and_a_missing_one_run_the_same_queries(cast, api, who, method, path, body):
    client = api(who)
    _statements(client, method, path.format(id=uuid.uuid4()), body)  # warm-up: first-request work of the key
    hidden = _statements(client, method, path.format(id=cast.client.id), body)
    missing = _statements(client, method, path.format(id=uuid.uuid4()), body)
    assert hidden == missing


@pytest.mark.parametrize("suffix", ["", "timeline/", "shares/"])
def test_the_browser_pages_too(cast, suffix):
    browser = sign_in(Client(), cast.users["charlie"])
    htmx = {"HTTP_HX_REQUEST": "true"} if suffix == "timeline/" else {}  # the fragment is fetched by htmx
    _statements(browser, "get", f"/clients/{uuid.uuid4()}/{suffix}", None, **htmx)
    hidden = _statements(browser, "get", f"/clients/{cast.client.id}/{suffix}", None, **htmx)
    missing = _statements(browser, "get", f"/clients/{uuid.uuid4()}/{suffix}", None, **htmx)
    assert hidden == missing
