"""Authentication: Bearer keys act as their user; every rejected key is a 401 that is audited with its reason."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.models import ApiKey
from agencies.services import apikey_revoke
from audit.models import AuditEvent
from tests.cast import PASSWORD

from .conftest import issue_key
from .helpers import assert_problem, events_since, last_seq


def _rejected(client: APIClient, path: str = "/api/v1/me/") -> tuple[dict, AuditEvent]:
    seq = last_seq()
    response = client.get(path, HTTP_USER_AGENT="partner-system/1.0", HTTP_X_REQUEST_ID="req-401")
    body = assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith('Bearer realm="api"')
    events = events_since(seq)
    assert [(e.action, e.outcome, e.channel) for e in events] == [("auth.api_key", "denied", "api")]
    event = events[0]
    assert event.actor_user_id is None
    assert event.actor_username == "anonymous"
    assert event.actor_agency_code == ""
    assert event.request_id == "req-401"
    assert event.user_agent == "partner-system/1.0"
    assert event.ip == "127.0.0.1"
    return body, event


def _bearer(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


def test_missing_credentials(cast):
    body, event = _rejected(APIClient())
    assert event.reason == "missing"
    assert "Authorization" in body["detail"]


def test_other_schemes_are_not_a_key(cast):
    _, event = _rejected(_bearer("Basic YWxpY2U6c2VjcmV0"))
    assert event.reason == "missing"


@pytest.mark.parametrize(
    "value",
    ["Bearer", "Bearer ", "Bearer abc", "Bearer tsg_nounderscore", "Bearer tsg_a b_c", "Bearer tsg_ab_cd\u00e9"],
)
def test_malformed_keys(cast, value):
    response = _bearer(value).get("/api/v1/me/")
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert AuditEvent.objects.filter(action="auth.api_key", reason="malformed").count() == 1


def test_non_ascii_secret_with_a_real_prefix_is_malformed_not_a_server_error(cast, keys):
    prefix = keys["alice"].rsplit("_", 1)[0]
    _, event = _rejected(_bearer(f"Bearer {prefix}_\u79d8\u5bc6"))
    assert event.reason == "malformed"


def test_unknown_key(cast, keys):
    wrong_secret = keys["alice"][:-4] + "AAAA"
    _, event = _rejected(_bearer(f"Bearer {wrong_secret}"))
    assert event.reason == "unknown"
    assert event.api_key_id == ""


def test_expired_key(cast):
    key, raw = issue_key(cast.users["alice"], expires_in_days=1)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _, event = _rejected(_bearer(f"Bearer {raw}"))
    assert event.reason == "expired"
    assert event.api_key_id == str(key.pk)
    assert event.target_type == "apikey"
    assert event.target_id == str(key.pk)


def test_revoked_key(cast):
    key, raw = issue_key(cast.users["alice"])
    assert _bearer(f"Bearer {raw}").get("/api/v1/me/").status_code == 200
    apikey_revoke(actor=Actor.system(channel="cli"), key_id=key.pk)
    _, event = _rejected(_bearer(f"Bearer {raw}"))
    assert event.reason == "revoked"
    assert event.api_key_id == str(key.pk)


def test_key_of_a_deactivated_user(cast):
    _, raw = issue_key(cast.users["alice"])
    cast.users["alice"].is_active = False
    cast.users["alice"].save(update_fields=["is_active"])
    _, event = _rejected(_bearer(f"Bearer {raw}"))
    assert event.reason == "inactive_user"


def test_a_rejected_key_is_rejected_on_every_endpoint(cast):
    client = _bearer("Bearer tsg_0000_nope")
    cid = cast.client.id
    for method, path in [
        ("get", "/api/v1/agencies/"),
        ("get", "/api/v1/clients/"),
        ("post", "/api/v1/clients/"),
        ("get", f"/api/v1/clients/{cid}/"),
        ("patch", f"/api/v1/clients/{cid}/"),
        ("get", f"/api/v1/clients/{cid}/timeline/"),
        ("post", f"/api/v1/clients/{cid}/timeline/"),
        ("get", f"/api/v1/clients/{cid}/shares/"),
        ("post", f"/api/v1/clients/{cid}/shares/"),
        ("delete", f"/api/v1/clients/{cid}/shares/{cast.shares['reader'].id}/"),
    ]:
        assert_problem(getattr(client, method)(path, {}, format="json"), 401)


def test_the_key_acts_as_its_user_on_the_api_channel(cast, api, keys):
    key = ApiKey.objects.get(user=cast.users["bob"])
    seq = last_seq()
    response = api("bob").get(f"/api/v1/clients/{cast.client.id}/", HTTP_X_REQUEST_ID="trace-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-123"
    [event] = events_since(seq)
    assert (event.action, event.outcome, event.channel) == ("client.view", "allowed", "api")
    assert event.actor_username == "bob"
    assert event.actor_agency_code == "shakyo"
    assert event.api_key_id == str(key.pk)
    assert event.request_id == "trace-123"
    assert str(cast.shares["reader"].id) in event.authorised_by
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_key_never_exceeds_its_users_rights(cast, api):
    # bob's agency holds "read": his key can read but not append, edit or share, whatever the key.
    cid = cast.client.id
    assert api("bob").get(f"/api/v1/clients/{cid}/").status_code == 200
    assert_problem(api("bob").post(f"/api/v1/clients/{cid}/timeline/", {"kind": "call", "body": "x"}), 403)
    assert_problem(api("bob").patch(f"/api/v1/clients/{cid}/", {"phone": "0256-11-1111"}), 403)


def test_session_authentication_with_csrf(cast):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password=PASSWORD)
    seq = last_seq()
    response = client.get("/api/v1/clients/")
    assert response.status_code == 200
    event = events_since(seq)[0]
    assert (event.action, event.channel, event.api_key_id) == ("client.list", "api", "")

    cid = cast.client.id
    refused = client.post(f"/api/v1/clients/{cid}/timeline/", {"kind": "call", "body": "電話"}, format="json")
    body = assert_problem(refused, 403)
    assert "CSRF" in body["detail"]

    token = get_random_string(32)  # what the CSRF cookie holds; the browser echoes it in X-CSRFToken
    client.cookies["csrftoken"] = token
    accepted = client.post(
        f"/api/v1/clients/{cid}/timeline/", {"kind": "call", "body": "電話"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201, accepted.content


def test_schema_and_docs_are_public_and_served_locally(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # every asset from this server
