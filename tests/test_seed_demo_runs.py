"""``python manage.py seed_demo`` run by each test on its own empty database: the same demo every time, and a
refusal or a failure half way leaves nothing behind."""

import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from agencies.actors import Actor
from agencies.models import Agency, Staff
from agencies.services import agency_create
from audit.models import AuditEvent
from cases import services
from cases.models import Client, Share, TimelineEntry
from tsunagu.errors import InvalidInput

pytestmark = pytest.mark.empty_db  # the demo data goes into an empty database


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict:
    models = (Agency, Staff, get_user_model(), Client, TimelineEntry, Share, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_is_deterministic(db):
    def snapshot():
        return [
            (c.name, c.phone, [(e.kind, e.body, e.author.username) for e in c.entries.order_by("occurred_at", "kind")])
            for c in Client.objects.order_by("name_kana", "name")
        ]

    # Both runs start at the same instant: entries written relative to "now" (break-glass expiry, clipped
    # correction times) would otherwise differ whenever the two runs straddle a minute.
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    snapshots = []
    for _ in range(2):
        with transaction.atomic(), time_machine.travel(start, tick=True):
            _seed()
            snapshots.append(snapshot())
            transaction.set_rollback(True)
    assert snapshots[0] == snapshots[1]


def test_an_existing_agency_code_without_demo_staff_is_an_error(db):
    agency_create(actor=Actor.system(channel="cli"), code="fukushi", name="福祉課", kind="city_division")
    before = _counts()
    with pytest.raises(CommandError, match="fukushi"):
        _seed()
    assert _counts() == before


def test_an_existing_username_is_an_error(db):
    get_user_model().objects.create_user(username="tanaka")
    with pytest.raises(CommandError, match="tanaka"):
        _seed()
    assert Agency.objects.count() == 0


def test_a_failure_half_way_leaves_nothing_behind(db, monkeypatch):
    def refuse(**kwargs):
        raise InvalidInput({"share": ["テスト用の失敗"]})

    monkeypatch.setattr(services, "share_revoke", refuse)
    with pytest.raises(CommandError, match="テスト用の失敗"):
        _seed()
    assert set(_counts().values()) == {0}
