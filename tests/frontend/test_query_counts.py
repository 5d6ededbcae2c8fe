"""What the page frame costs: the actor is built once per request (an error page reuses the view's), and the
header's profile (``me``) is read only when a template shows it — never for an htmx fragment such as the unread
badge, polled every minute. The figures are pinned: a new query on these paths should be a decision."""

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.mfa import sign_in


def _get(client: Client, url: str, status: int, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == status, (url, response.status_code)
    return queries


@pytest.fixture
def alice(cast):
    browser = sign_in(Client(), cast.users["alice"])
    browser.get("/inbox/badge/", HTTP_HX_REQUEST="true")  # warm-up: first-request work of the session
    return browser


HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(
    ("name", "url", "headers", "status", "count"),
    [
        ("badge", "/inbox/badge/", HTMX, 200, 8),
        ("timeline fragment", "/clients/{client}/timeline/", HTMX, 200, 34),
        ("not found", "/clients/{missing}/", {}, 404, 21),
    ],
)
def test_what_the_frame_costs(cast, alice, name, url, headers, status, count):
    queries = _get(alice, url.format(client=cast.client.id, missing=uuid.uuid4()), status, **headers)
    assert len(queries.captured_queries) == count, name
