"""System entries store an event and its parameters; each reader sees them in their own language."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from agencies.actors import Actor
from cases import selectors, services
from cases.models import EntryKind, SystemEvent, TimelineEntry

pytestmark = pytest.mark.django_db


def _system_entries(cast, actor):
    page = selectors.timeline_list(actor=actor, client_id=cast.client.id)
    return [e for e in page.items if e.kind in (EntryKind.SHARE_CHANGE, EntryKind.STATUS_CHANGE)]


def test_a_share_change_is_stored_as_an_event_and_rendered_per_reader(cast):
    sam = Actor.for_user(cast.users["sam"], channel="web")
    expires = timezone.now() + timedelta(days=30)
    services.share_grant(
        actor=sam, client_id=cast.client.id, agency_code="shisetsu", level="read", basis="consent", expires_at=expires
    )
    stored = TimelineEntry.objects.filter(client_id=cast.client.id, event=SystemEvent.SHARE_GRANTED).latest(
        "recorded_at"
    )
    assert stored.body == ""
    assert stored.event_params["agency"] == "shisetsu" and stored.event_params["level"] == "read"

    with translation.override("ja"):
        japanese = next(e.body for e in _system_entries(cast, sam) if e.id == stored.id)
    with translation.override("en"):
        english = next(e.body for e in _system_entries(cast, sam) if e.id == stored.id)
    assert japanese.startswith("障がい者支援施設 さくら園 との共有を設定しました（閲覧、根拠: 本人同意、期限 ")
    assert english.startswith("Shared with 障がい者支援施設 さくら園 (Read, basis: ")


def test_a_status_change_renders_its_labels_in_the_readers_language(cast):
    sam = Actor.for_user(cast.users["sam"], channel="web")
    services.client_update(actor=sam, client_id=cast.client.id, changes={"status": "closed"})
    with translation.override("ja"):
        assert any(e.body == "状態を「支援中」から「終結」に変更しました。" for e in _system_entries(cast, sam))
    with translation.override("en"):
        bodies = [e.body for e in _system_entries(cast, sam)]
    assert any(b.startswith("Status changed from") for b in bodies), bodies


def test_an_entry_written_before_events_keeps_its_body(cast):
    entry = TimelineEntry.objects.create(
        client_id=cast.client.id,
        kind=EntryKind.SHARE_CHANGE,
        occurred_at=timezone.now(),
        body="三条市社会福祉協議会 との共有を設定しました（閲覧、根拠: 本人同意）。",
    )
    sam = Actor.for_user(cast.users["sam"], channel="web")
    with translation.override("en"):
        bodies = {e.id: e.body for e in _system_entries(cast, sam)}
    assert bodies[entry.id] == entry.body
