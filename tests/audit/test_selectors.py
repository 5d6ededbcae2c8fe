"""Review queries: by client (targets and exposures, denied included), actor, agency, action, outcome, time."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent, AuditExposure
from audit.selectors import audit_event_list, seal_latest
from audit.verification import verify_and_record
from cases import selectors, services
from tsunagu.errors import InvalidInput

from .conftest import seal_all, sealing_db


def seqs(page) -> list[int]:
    return [e.seq for e in page.items]


def all_pages(**kwargs) -> list[int]:
    out, cursor = [], None
    while True:
        page = audit_event_list(cursor=cursor, limit=3, **kwargs)
        out += seqs(page)
        if not page.next_cursor:
            return out
        cursor = page.next_cursor


def test_by_client_includes_list_exposures_and_denied_attempts(cast):
    cid = cast.client.id
    other = services.client_create(
        actor=cast.actor("alice"), name="別の 人", name_kana="ベツノ ヒト", birth_date="1950-01-01"
    )
    listing = selectors.client_list(actor=cast.actor("bob"))
    with pytest.raises(Exception):  # noqa: B017 - charlie may not see the client
        selectors.client_get(actor=cast.actor("charlie"), client_id=cid)
    events = all_pages(client_id=cid)
    expected = list(
        AuditEvent.objects.filter(seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"))
        .order_by("-seq")
        .values_list("seq", flat=True)
    )
    assert events == expected and events == sorted(events, reverse=True)
    actions = {e.action for e in AuditEvent.objects.filter(seq__in=events)}
    assert {"client.create", "share.grant", "share.revoke", "timeline.append", "client.list"} <= actions
    denied = AuditEvent.objects.get(actor_username="charlie", action="client.view")
    assert denied.outcome == "denied" and denied.client_ids == [] and denied.seq in events
    assert AuditExposure.objects.get(event_id=denied.seq).exposed is False
    assert listing.items and AuditEvent.objects.filter(action="client.list").latest("seq").seq in events
    other_events = all_pages(client_id=other.id)
    assert other_events and not set(other_events) & {denied.seq}


def test_filters_combine_and_page_newest_first(cast):
    bob = cast.actor("bob")
    for _ in range(4):
        selectors.client_get(actor=bob, client_id=cast.client.id)
    by_actor = all_pages(actor="bob")
    assert by_actor == list(
        AuditEvent.objects.filter(actor_username="bob").order_by("-seq").values_list("seq", flat=True)
    )
    assert seqs(audit_event_list(actor="bob", limit=200)) == by_actor
    assert seqs(audit_event_list(agency="shakyo", limit=200)) == by_actor
    shares = all_pages(action="share.")
    assert {e.action for e in AuditEvent.objects.filter(seq__in=shares)} == {"share.grant", "share.revoke"}
    assert all_pages(action="share") == []
    assert all_pages(client_id=cast.client.id, actor="bob", action="client.view") == by_actor[:4]
    denied = all_pages(outcome="denied")
    assert all(e.outcome == "denied" for e in AuditEvent.objects.filter(seq__in=denied))
    now = timezone.now()
    assert all_pages(since=now + timedelta(minutes=1)) == []
    assert all_pages(until=now - timedelta(days=1)) == []
    assert (
        len(all_pages(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))) == AuditEvent.objects.count()
    )
    page = audit_event_list(client_id=cast.client.id, limit=2)
    back = audit_event_list(client_id=cast.client.id, limit=2, cursor=page.next_cursor)
    assert seqs(audit_event_list(client_id=cast.client.id, limit=2, cursor=back.prev_cursor)) == seqs(page)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_id": "not-a-uuid"},
        {"outcome": "maybe"},
        {"since": timezone.now().replace(tzinfo=None)},
        {"since": timezone.now(), "until": timezone.now() - timedelta(days=1)},
        {"cursor": "garbage"},
    ],
)
def test_bad_input_is_invalid_input(db, kwargs):
    with pytest.raises(InvalidInput):
        audit_event_list(**kwargs)


def test_unknown_client_has_no_events(db):
    assert audit_event_list(client_id=uuid.uuid4()).items == []


@sealing_db
def test_seal_latest_returns_the_last_seal_and_verification(sealed_cast):
    assert seal_latest().seal is None and seal_latest().verification is None
    seal_all()
    verification = verify_and_record()
    status = seal_latest()
    assert status.seal.seal_hash == verification.latest_seal_hash
    assert status.verification.pk == verification.pk and status.verification.ok
