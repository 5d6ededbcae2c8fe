"""Sealing: every event in exactly one seal, in a hash chain an outside auditor can recompute."""

import hashlib
import json
import threading
import time
from datetime import UTC

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from audit.canonical import GENESIS_HASH, canonical_line, decode_seqs, encode_seqs
from audit.models import AuditEvent, AuditSeal
from audit.sealing import seal_pending, unsealed_count
from audit.services import SystemActor, audit_record
from audit.tasks import seal_audit
from audit.verification import verify_log
from cases import selectors

from .conftest import seal_all, sealing_db


def sealed_seqs() -> list[int]:
    seqs = []
    for text in AuditSeal.objects.order_by("id").values_list("seqs", flat=True):
        for a, b in decode_seqs(text):
            seqs.extend(range(a, b + 1))
    return seqs


def test_ranges_round_trip():
    assert encode_seqs([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
    assert decode_seqs("1-3,5,7-8") == [(1, 3), (5, 5), (7, 8)]
    for bad in ("3-1", "1,1", "1-3,2", "x", "1-3,4"):
        with pytest.raises(ValueError):
            decode_seqs(bad)


@sealing_db
def test_seal_hash_can_be_recomputed_from_the_documented_format(sealed_cast):
    seal_all()
    seal = AuditSeal.objects.order_by("id").first()
    lines = []
    for event in AuditEvent.objects.filter(seq__gte=seal.first_seq, seq__lte=seal.last_seq).order_by("seq"):
        record = {
            "seq": event.seq,
            "uuid": str(event.uuid),
            "occurred_at": event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_user_id": event.actor_user_id,
            "actor_username": event.actor_username,
            "actor_agency_code": event.actor_agency_code,
            "channel": event.channel,
            "action": event.action,
            "outcome": event.outcome,
            "reason": event.reason,
            "client_ids": event.client_ids,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "request_id": event.request_id,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "api_key_id": event.api_key_id,
            "authorised_by": event.authorised_by,
            "details": event.details,
        }
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert line.encode() == canonical_line(event)
        lines.append(line)
    assert seal.prev_hash == GENESIS_HASH
    expected = hashlib.sha256((seal.prev_hash + "\n".join(lines)).encode("utf-8")).hexdigest()
    assert seal.seal_hash == expected
    assert seal.count == len(lines)


@sealing_db
def test_every_event_is_sealed_once_in_a_chain(sealed_cast):
    seal_all()
    selectors.client_list(actor=sealed_cast.actor("alice"))
    selectors.client_get(actor=sealed_cast.actor("bob"), client_id=sealed_cast.client.id)
    seal_all()
    seals = list(AuditSeal.objects.order_by("id"))
    assert len(seals) >= 2
    assert [s.prev_hash for s in seals] == [GENESIS_HASH] + [s.seal_hash for s in seals[:-1]]
    seqs = sealed_seqs()
    assert sorted(seqs) == list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == len(set(seqs))
    assert seal_pending() == [] and unsealed_count() == 0
    result = verify_log()
    assert result.ok, result.message
    assert result.events_checked == len(seqs) and result.seals_checked == len(seals)


@sealing_db
def test_batches_are_limited_in_size(sealed_cast):
    total = AuditEvent.objects.count()
    deadline = time.monotonic() + 60
    while unsealed_count() and time.monotonic() < deadline:
        seal_pending(batch_size=5)
    counts = list(AuditSeal.objects.order_by("id").values_list("count", flat=True))
    assert sum(counts) == total
    # A transaction's events stay together, so a batch can exceed the size only by one transaction's events.
    assert len(counts) > 1
    assert verify_log().ok


@sealing_db
def test_gaps_from_rolled_back_inserts_are_not_deletions(sealed_cast):
    actor = SystemActor(channel="cli")

    class Rollback(Exception):
        pass

    for _ in range(3):
        with pytest.raises(Rollback), transaction.atomic():
            audit_record(actor=actor, action="test.rolled_back")
            raise Rollback
        audit_record(actor=actor, action="test.kept")
    seal_all()
    result = verify_log()
    assert result.ok, result.message


@sealing_db
def test_seal_command_and_task(sealed_cast, capsys):
    call_command("seal_audit")
    if connection.vendor == "sqlite":
        assert unsealed_count() == 0
    seal_all()
    audit_record(actor=SystemActor(channel="task"), action="test.more")
    deadline = time.monotonic() + 60
    while unsealed_count() and time.monotonic() < deadline:
        seal_audit.delay()
    assert unsealed_count() == 0
    call_command("verify_audit")
    assert "OK:" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_late_commit_with_a_lower_number_is_sealed_later_and_verifies(sealed_cast):
    """E takes its transaction id first; L then writes a lower-numbered event; E writes a higher one and commits;
    the seal takes E (passing over L's number) while L is still open; L commits and lands in the next seal."""
    seal_all()
    actor = SystemActor(channel="task")
    steps = {name: threading.Event() for name in ("e_has_xid", "l_wrote", "e_done", "sealed", "l_done")}
    seqs = {}

    def early():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")
                steps["e_has_xid"].set()
                steps["l_wrote"].wait(10)
                seqs["e"] = audit_record(actor=actor, action="test.early").seq
        finally:
            connection.close()
            steps["e_done"].set()

    def late():
        try:
            steps["e_has_xid"].wait(10)
            with transaction.atomic():
                seqs["l"] = audit_record(actor=actor, action="test.late").seq
                steps["l_wrote"].set()
                steps["sealed"].wait(30)
        finally:
            connection.close()
            steps["l_done"].set()

    threads = [threading.Thread(target=early), threading.Thread(target=late)]
    for thread in threads:
        thread.start()
    steps["e_done"].wait(10)
    assert seqs["l"] < seqs["e"]
    deadline = time.monotonic() + 60
    while seqs["e"] not in sealed_seqs():
        assert time.monotonic() < deadline, "the early event was never sealed"
        seal_pending()
        time.sleep(0.05)
    assert seqs["l"] not in sealed_seqs()  # still uncommitted
    steps["sealed"].set()
    for thread in threads:
        thread.join(10)
    seal_all()
    seals = list(AuditSeal.objects.order_by("id"))
    holder = {seq: s.pk for s in seals for a, b in decode_seqs(s.seqs) for seq in range(a, b + 1)}
    assert holder[seqs["l"]] > holder[seqs["e"]]
    result = verify_log()
    assert result.ok, result.message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sealing_under_concurrent_appends_loses_and_duplicates_nothing(sealed_cast):
    actor = SystemActor(channel="task")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int):
        try:
            for i in range(40):
                with transaction.atomic():
                    audit_record(actor=actor, action="test.write", details={"writer": n, "i": i})
                    if i % 7 == n % 7:
                        time.sleep(0.02)  # hold the transaction open while others commit higher numbers
                    audit_record(actor=actor, action="test.write2", details={"writer": n, "i": i})
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    def sealer():
        try:
            while not stop.is_set():
                seal_pending(batch_size=25)
                time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in writers + sealers:
        thread.start()
    for thread in writers:
        thread.join(120)
    stop.set()
    for thread in sealers:
        thread.join(60)
    assert not errors, errors
    seal_all()
    seqs = sealed_seqs()
    assert len(seqs) == len(set(seqs)), "an event was sealed twice"
    assert sorted(seqs) == list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert AuditEvent.objects.filter(action__startswith="test.write").count() == 6 * 40 * 2
    assert AuditSeal.objects.count() > 3
    result = verify_log()
    assert result.ok, result.message
