"""Retention: only whole sealed batches older than the period are purged, verification stays green, and the
purge is itself audited. Retention 0 keeps everything."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, AuditExposure, AuditPurge, AuditSeal
from audit.retention import purge_expired
from audit.verification import verify_log
from cases import selectors

from .conftest import seal_all, sealing_db, triggers_bypassed


def age_seals(ids, days: int) -> None:
    """Make seals look old (their created_at), as if years had passed."""
    with triggers_bypassed():
        AuditSeal.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def old_and_new(sealed_cast):
    seal_all()
    old = list(AuditSeal.objects.values_list("pk", flat=True))
    selectors.client_list(actor=sealed_cast.actor("bob"))
    selectors.client_get(actor=sealed_cast.actor("bob"), client_id=sealed_cast.client.id)
    seal_all()
    age_seals(old, days=4 * 365)
    return old


@sealing_db
def test_purge_deletes_whole_old_batches_and_verification_stays_green(old_and_new, settings):
    settings.AUDIT_RETENTION_DAYS = 3 * 365
    old_seals = AuditSeal.objects.filter(pk__in=old_and_new)
    old_count = sum(s.count for s in old_seals)
    before = AuditEvent.objects.count()
    client_exposures = AuditExposure.objects.count()

    call_command("purge_audit")

    purge = AuditPurge.objects.get()
    boundary = AuditSeal.objects.get(pk=max(old_and_new))
    assert (purge.up_to_seal_id, purge.seal_hash, purge.events_deleted) == (boundary.pk, boundary.seal_hash, old_count)
    assert AuditEvent.objects.filter(seq__lte=boundary.last_seq, action="client.create").count() == 0
    event = AuditEvent.objects.get(action="audit.purge")
    assert event.channel == "cli" and event.details["up_to_seal"] == boundary.pk
    assert AuditEvent.objects.count() == before - old_count + 1
    assert AuditExposure.objects.count() < client_exposures
    assert AuditSeal.objects.count() >= len(old_and_new)  # seals are kept
    seal_all()
    result = verify_log()
    assert result.ok, result.message

    call_command("purge_audit")  # nothing more is old enough
    assert AuditPurge.objects.count() == 1


@sealing_db
def test_retention_zero_keeps_everything(old_and_new, settings, capsys):
    settings.AUDIT_RETENTION_DAYS = 0
    before = AuditEvent.objects.count()
    call_command("purge_audit")
    assert "無期限" in capsys.readouterr().out
    assert AuditEvent.objects.count() == before and not AuditPurge.objects.exists()
    assert purge_expired(retention_days=0).events_deleted == 0


@sealing_db
def test_unsealed_and_recent_events_are_never_purged(sealed_cast, settings):
    settings.AUDIT_RETENTION_DAYS = 1
    before = AuditEvent.objects.count()
    result = purge_expired(now=timezone.now() + timedelta(days=30))  # nothing sealed yet
    assert result.purge is None and AuditEvent.objects.count() == before
    seal_all()
    assert purge_expired().purge is None  # sealed, but not old
    assert AuditEvent.objects.count() == before


@sealing_db
def test_a_tampered_purge_boundary_is_a_broken_chain(old_and_new, settings):
    settings.AUDIT_RETENTION_DAYS = 3 * 365
    purge_expired()
    with triggers_bypassed():
        AuditPurge.objects.update(seal_hash="e" * 64)
    result = verify_log()
    assert (result.ok, result.kind) == (False, "broken_chain")


@sealing_db
def test_outside_a_purge_the_triggers_still_reject_deletes(old_and_new, settings):
    settings.AUDIT_RETENTION_DAYS = 3 * 365
    purge_expired()
    seq = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = %s", [seq])
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditseal")
    assert AuditEvent.objects.filter(seq=seq).exists()
