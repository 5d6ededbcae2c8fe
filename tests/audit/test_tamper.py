"""Tamper evidence: verify_audit names the first sequence number that no longer matches, and the kind of break.

The tampering is done as a database superuser would: triggers switched off (PostgreSQL: session_replication_role
= replica; SQLite: the triggers dropped for the transaction). Runs on both databases.
"""

import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.models import AuditEvent, AuditExposure, AuditSeal, AuditVerification
from audit.services import SystemActor, audit_record
from audit.verification import verify_and_record, verify_log
from cases import selectors

from .conftest import seal_all, sealing_db, triggers_bypassed

COPIED = [
    f.attname for f in AuditEvent._meta.concrete_fields if f.attname != "seq"
]  # every stored field but the number


def make_gap() -> int:
    """Leave a hole in the numbering, as a rolled-back insert does; returns the missing number."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    if connection.vendor == "postgresql":

        class Rollback(Exception):
            pass

        try:
            with transaction.atomic():
                audit_record(actor=SystemActor(), action="test.rolled_back")
                raise Rollback
        except Rollback:
            pass
    else:  # SQLite's AUTOINCREMENT does not burn numbers on rollback: skip one explicitly
        with connection.cursor() as cursor:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = 'audit_auditevent'", [last + 1])
    return last + 1


@pytest.fixture
def history(sealed_cast):
    """Three seals' worth of events with a gap in the middle one; everything sealed and verified once."""
    alice, bob = sealed_cast.actor("alice"), sealed_cast.actor("bob")
    seal_all()
    selectors.client_list(actor=alice)
    gap = make_gap()
    selectors.client_get(actor=bob, client_id=sealed_cast.client.id)
    selectors.timeline_list(actor=bob, client_id=sealed_cast.client.id)
    seal_all()
    for _ in range(3):
        selectors.client_list(actor=bob)
    seal_all()
    assert not AuditEvent.objects.filter(seq=gap).exists()
    assert AuditSeal.objects.count() >= 3
    first = verify_and_record()
    assert first.ok, first.message
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    return {"gap": gap, "seqs": seqs}


def values_of(seq: int) -> dict:
    return AuditEvent.objects.filter(seq=seq).values(*COPIED).get()


def change(history):
    seq = history["seqs"][len(history["seqs"]) // 2]
    with triggers_bypassed():
        AuditEvent.objects.filter(seq=seq).update(actor_username="mallory")
    return seq


def delete(history):
    seq = history["seqs"][len(history["seqs"]) // 2]
    with triggers_bypassed():
        AuditExposure.objects.filter(event_id=seq).delete()
        AuditEvent.objects.filter(seq=seq).delete()
    return seq


def insert(history):
    gap = history["gap"]
    forged = values_of(gap - 1)
    forged.update(uuid=uuid.uuid4(), action="client.view", actor_username="bob")
    with triggers_bypassed():
        AuditEvent.objects.create(seq=gap, **forged)
    return gap


def swap(a: int, b: int) -> None:
    va, vb = values_of(a), values_of(b)
    with triggers_bypassed():
        AuditEvent.objects.filter(seq=a).update(**{**vb, "uuid": uuid.uuid4()})
        AuditEvent.objects.filter(seq=b).update(**va)
        AuditEvent.objects.filter(seq=a).update(uuid=vb["uuid"])


def reorder(history):
    """Two events of the same seal swapped."""
    a, b = history["seqs"][-3], history["seqs"][-1]
    swap(a, b)
    return a


def reorder_across_seals(history):
    a, b = history["seqs"][2], history["seqs"][-2]
    swap(a, b)
    return a


def alter_seal(history):
    seal = AuditSeal.objects.order_by("id")[1]
    with triggers_bypassed():
        AuditSeal.objects.filter(pk=seal.pk).update(seal_hash="f" * 64)
    return seal.first_seq


def drop_tail(history):
    newest = history["seqs"][-2:]
    with triggers_bypassed():
        AuditExposure.objects.filter(event_id__in=newest).delete()
        AuditEvent.objects.filter(seq__in=newest).delete()
    return newest[0]


CASES = [
    (change, "changed_event"),
    (delete, "deleted_event"),
    (insert, "inserted_event"),
    (reorder, "reordered_events"),
    (reorder_across_seals, "reordered_events"),
    (alter_seal, "broken_chain"),
    (drop_tail, "missing_tail"),
]


@sealing_db
@pytest.mark.parametrize(("tamper", "kind"), CASES, ids=[tamper.__name__ for tamper, _ in CASES])
def test_verify_audit_names_the_first_bad_sequence_number_and_the_kind(history, tamper, kind):
    bad_seq = tamper(history)
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, kind, bad_seq), result.message
    with pytest.raises(CommandError) as info:
        call_command("verify_audit")
    assert info.value.returncode == 1
    assert f"{kind} at seq {bad_seq}" in str(info.value)


@sealing_db
def test_the_untouched_log_verifies_with_counts_and_the_latest_hash(history, capsys):
    call_command("verify_audit")
    out = capsys.readouterr().out
    latest = AuditSeal.objects.order_by("-id").first()
    assert out.startswith("OK:") and latest.seal_hash in out
    assert f"{AuditSeal.objects.count()} seals, {len(history['seqs'])} events" in out


@sealing_db
def test_an_external_anchor_catches_a_rewritten_chain(history):
    latest = AuditSeal.objects.order_by("-id").first()
    call_command("verify_audit", "--expect", latest.seal_hash)
    first = AuditSeal.objects.order_by("id").first()
    call_command("verify_audit", "--expect", first.seal_hash, "--seal", str(first.pk))
    with pytest.raises(CommandError) as info:
        call_command("verify_audit", "--expect", "0" * 64)
    assert f"broken_chain at seq {latest.first_seq}" in str(info.value)


@sealing_db
def test_deleting_the_newest_seals_is_caught_by_the_last_verification(history):
    latest = AuditSeal.objects.order_by("-id").first()
    with triggers_bypassed():
        AuditSeal.objects.filter(pk=latest.pk).delete()
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, "missing_tail", latest.first_seq), result.message


@sealing_db
def test_the_nightly_task_stores_the_result(history):
    from audit.tasks import verify_audit

    verify_audit.delay()
    row = AuditVerification.objects.order_by("-id").first()
    assert row.ok and row.kind == "ok" and row.latest_seal_hash == AuditSeal.objects.order_by("-id").first().seal_hash
    change(history)
    outcome = verify_audit.delay().get()
    assert outcome["ok"] is False and outcome["kind"] == "changed_event"
    assert AuditVerification.objects.order_by("-id").first().first_bad_seq == outcome["first_bad_seq"]
