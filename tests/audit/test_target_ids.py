"""Only well-formed ids reach an audit event's ``target_id``; a malformed one is recorded as such, not stored."""

import uuid

import pytest

from agencies.services import apikey_revoke
from audit.models import AuditEvent
from audit.services import SystemActor, audit_record
from cases import selectors
from tsunagu.errors import NotFound


def _last() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


@pytest.mark.parametrize(
    "asked",
    ["not-a-uuid", "0", "a\x00b", "9" * 5000, "<script>alert(1)</script>", "1' OR '1'='1", "山田太郎", "../../x"],
)
def test_a_malformed_client_id_is_recorded_as_malformed_not_stored(cast, asked):
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=asked)
    event = _last()
    assert (event.action, event.outcome) == ("client.view", "denied")
    assert event.target_type == "client"
    assert event.target_id == ""
    assert event.details == {"malformed_id": True}


def test_a_well_formed_client_id_is_stored_in_its_canonical_form(cast):
    cid = cast.client.id
    for spelling in (str(cid).upper(), "{" + str(cid) + "}", cid.hex):
        with pytest.raises(NotFound):
            selectors.client_get(actor=cast.actor("charlie"), client_id=spelling)
        event = _last()
        assert event.target_id == str(cid)
        assert "malformed_id" not in event.details


def test_a_malformed_api_key_id_is_recorded_as_malformed(cast):
    with pytest.raises(NotFound):
        apikey_revoke(actor=cast.actor("ada"), key_id="not-a-key")
    event = _last()
    assert (event.action, event.target_type, event.target_id) == ("apikey.revoke", "apikey", "")
    assert event.details == {"malformed_id": True}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target_type", "target_id", "stored"),
    [
        ("agency", "fukushi", "fukushi"),
        ("user", 42, "42"),
        ("agency", "fuku shi\x00", ""),
        ("agencies.staff", "7", "7"),
        ("share", "7", ""),
        ("share", uuid.UUID(int=5), str(uuid.UUID(int=5))),
        ("", "", ""),
    ],
)
def test_audit_record_keeps_only_well_formed_target_ids(target_type, target_id, stored):
    event = audit_record(actor=SystemActor(), action="test.target", target_type=target_type, target_id=target_id)
    assert event.target_id == stored
    assert event.details.get("malformed_id", False) is (stored == "" and target_id != "")


def test_api_malformed_client_id_is_recorded_as_malformed(cast):
    from tests.api.conftest import issue_key

    key = issue_key(cast.users["alice"])[1]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/clients/not-a-uuid/").status_code == 404
    event = _last()
    assert (event.action, event.target_id, event.details) == ("client.view", "", {"malformed_id": True})
