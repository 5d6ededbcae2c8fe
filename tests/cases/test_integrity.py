"""Fail-closed auditing, append-only storage, and bad input that changes nothing."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from audit import services as audit_services
from audit.models import AuditEvent
from cases import selectors, services
from cases.models import Client, Share, TimelineEntry
from tsunagu.errors import InvalidInput


class AuditDown(Exception):
    pass


@pytest.fixture
def audit_fails(monkeypatch):
    def broken(*args, **kwargs):
        raise AuditDown("audit table unavailable")

    monkeypatch.setattr(audit_services, "_write", broken)


def test_no_data_is_returned_when_the_audit_row_cannot_be_written(cast, audit_fails):
    with pytest.raises(AuditDown):
        selectors.client_get(actor=cast.actor("alice"), client_id=cast.client.id)
    with pytest.raises(AuditDown):
        selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id)
    with pytest.raises(AuditDown):
        selectors.client_list(actor=cast.actor("alice"))


def test_no_entry_is_written_when_the_audit_row_cannot_be_written(cast, audit_fails):
    before = TimelineEntry.objects.count()
    with pytest.raises(AuditDown):
        services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="call", body="電話")
    assert TimelineEntry.objects.count() == before


def test_no_client_and_no_share_are_created_when_the_audit_row_cannot_be_written(cast, audit_fails):
    clients, shares = Client.objects.count(), Share.objects.count()
    with pytest.raises(AuditDown):
        services.client_create(
            actor=cast.actor("alice"), name="佐藤 花子", name_kana="サトウ ハナコ", birth_date="1950-01-01"
        )
    with pytest.raises(AuditDown):
        services.share_grant(
            actor=cast.actor("sam"), client_id=cast.client.id, agency_code="shisetsu", level="read", basis="consent"
        )
    assert (Client.objects.count(), Share.objects.count()) == (clients, shares)


def _reject(statement, params):
    with pytest.raises((DatabaseError, IntegrityError)) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    assert "append-only" in str(info.value)


def test_database_rejects_update_and_delete_of_timeline_entries(cast):
    entry_id = cast.entry.id.hex if connection.vendor == "sqlite" else str(cast.entry.id)
    _reject("UPDATE cases_timelineentry SET body = %s WHERE id = %s", ["改ざん", entry_id])
    _reject("DELETE FROM cases_timelineentry WHERE id = %s", [entry_id])
    assert TimelineEntry.objects.get(pk=cast.entry.id).body == cast.entry.body


def test_database_rejects_update_and_delete_of_audit_events(cast):
    seq = AuditEvent.objects.order_by("seq").first().seq
    _reject("UPDATE audit_auditevent SET action = %s WHERE seq = %s", ["nothing", seq])
    _reject("DELETE FROM audit_auditevent WHERE seq = %s", [seq])
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEvent.objects.filter(seq=seq).delete()
    assert AuditEvent.objects.filter(seq=seq).exists()


def test_orm_save_of_an_entry_is_rejected_too(cast):
    entry = TimelineEntry.objects.get(pk=cast.entry.id)
    entry.body = "書き換え"
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        entry.save()


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "", "name_kana": "テスト", "birth_date": "1950-01-01"}, "name"),
        ({"name": "田中 一郎", "name_kana": "tanaka", "birth_date": "1950-01-01"}, "name_kana"),
        ({"name": "田中 一郎", "name_kana": "タナカ", "birth_date": "1950-13-01"}, "birth_date"),
        ({"name": "田中 一郎", "name_kana": "タナカ", "birth_date": "2999-01-01"}, "birth_date"),
        ({"name": "田中 一郎", "name_kana": "タナカ", "birth_date": "1950-01-01", "phone": "電話"}, "phone"),
        ({"name": "田中 一郎", "name_kana": "タナカ", "birth_date": "1950-01-01", "tags": "高齢"}, "tags"),
        ({"name": "田中" * 60, "name_kana": "タナカ", "birth_date": "1950-01-01"}, "name"),
    ],
)
def test_client_create_rejects_bad_input_and_creates_nothing(cast, fields, bad):
    before = (Client.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InvalidInput) as info:
        services.client_create(actor=cast.actor("alice"), **fields)
    assert bad in info.value.errors
    assert (Client.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"kind": "gossip", "body": "x"}, "kind"),
        ({"kind": "share_change", "body": "x"}, "kind"),
        ({"kind": "call", "body": "   "}, "body"),
        ({"kind": "call", "body": "x" * 20001}, "body"),
        ({"kind": "call", "body": "x", "occurred_at": "2026-01-01"}, "occurred_at"),
        ({"kind": "call", "body": "x", "occurred_at": timezone.now() + timedelta(days=1)}, "occurred_at"),
        ({"kind": "call", "body": "x", "corrects": "nope"}, "corrects"),
    ],
)
def test_append_rejects_bad_input_and_writes_nothing(cast, fields, bad):
    before = TimelineEntry.objects.count()
    with pytest.raises(InvalidInput) as info:
        services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, **fields)
    assert bad in info.value.errors
    assert TimelineEntry.objects.count() == before


def test_correction_must_target_an_entry_of_the_same_client(cast):
    other = services.client_create(
        actor=cast.actor("alice"), name="佐藤 花子", name_kana="サトウ ハナコ", birth_date="1950-01-01"
    )
    with pytest.raises(InvalidInput) as info:
        services.timeline_append(
            actor=cast.actor("alice"), client_id=other.id, kind="note", body="訂正", corrects=cast.entry.id
        )
    assert "corrects" in info.value.errors


def test_share_grant_rejects_bad_input(cast):
    sam = cast.actor("sam")
    cid = cast.client.id
    cases_ = [
        dict(agency_code="nowhere", level="read", basis="consent"),
        dict(agency_code="shisetsu", level="owner", basis="consent"),
        dict(agency_code="shisetsu", level="read", basis="gut_feeling"),
        dict(agency_code="shisetsu", level="read", basis="consent", expires_at=timezone.now() - timedelta(days=1)),
        dict(agency_code="fukushi", level="read", basis="consent"),  # the owner
    ]
    before = Share.objects.count()
    for kwargs in cases_:
        with pytest.raises(InvalidInput):
            services.share_grant(actor=sam, client_id=cid, **kwargs)
    assert Share.objects.count() == before


def test_case_numbers_are_unique_and_sequential(cast):
    views = [
        services.client_create(actor=cast.actor("alice"), name=f"試験 {i}", name_kana="シケン", birth_date="1960-05-05")
        for i in range(3)
    ]
    numbers = [int(v.case_number.rsplit("-", 1)[1]) for v in views]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert int(cast.client.case_number.rsplit("-", 1)[1]) == numbers[0] - 1
