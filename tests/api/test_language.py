"""The API speaks Japanese by default and follows the request's Accept-Language: problem details and the
rendered system entries of the timeline (the fields and their types do not change)."""

import uuid

import pytest

from agencies.actors import Actor
from cases import services

pytestmark = pytest.mark.django_db


def test_a_problem_detail_follows_the_request_language(api):
    url = f"/api/v1/clients/{uuid.uuid4()}/"
    default = api("alice").get(url).json()
    english = api("alice").get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert default["detail"] == "見つかりません。"
    assert english["detail"] == "Not found."
    assert set(default) == set(english)


def test_the_api_timeline_body_follows_the_request_language(cast, api):
    sam = Actor.for_user(cast.users["sam"], channel="web")
    services.client_update(actor=sam, client_id=cast.client.id, changes={"status": "closed"})
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    default = api("alice").get(url).json()["results"]
    english = api("alice").get(url, HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    assert any(e["body"] == "状態を「支援中」から「終結」に変更しました。" for e in default)
    assert any(e["body"].startswith("Status changed from") for e in english)
