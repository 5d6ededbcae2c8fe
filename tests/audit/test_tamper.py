"""Tamper evidence: verify_audit names the first sequence number that no longer matches, and the kind of break.

The tampering is done as a database superuser would: triggers switched off (PostgreSQL: session_replication_role
= replica; SQLite: the triggers dropped for the transaction), verification rows deleted where that would hide it.
The superuser holds neither the application's signing key nor write access to the anchor directory
(``AUDIT_ANCHOR_DIR``, a temporary directory here). Runs on both databases.
"""

import os
import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit import verification
from audit.anchors import read_anchors
from audit.canonical import DIGEST_SIZE, canonical_line, decode_seqs, line_digest, seal_hash
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


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path / "anchors")
    return tmp_path / "anchors"


# PostgreSQL walks a large log in several processes (audit.verification): every case runs both ways there, the
# parallel walk forced on these few events and cut into as many parts as the seals allow.
WALKERS = [1, 2] if connection.vendor == "postgresql" else [1]


@pytest.fixture(params=WALKERS, ids=lambda n: "one process" if n == 1 else f"{n} processes")
def walkers(request, settings):
    settings.AUDIT_VERIFY_WORKERS = request.param
    settings.AUDIT_VERIFY_PARALLEL_MIN_EVENTS = 0
    return request.param


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


def delete_seal(history):
    """One seal row in the middle of the chain deleted: its events are then in no seal."""
    seal = AuditSeal.objects.order_by("id")[1]
    with triggers_bypassed():
        AuditSeal.objects.filter(pk=seal.pk).delete()
    return seal.first_seq


def delete_newest_seal(history):
    latest = AuditSeal.objects.order_by("-id").first()
    with triggers_bypassed():
        AuditSeal.objects.filter(pk=latest.pk).delete()
    return latest.first_seq


def forge(**changes) -> int:
    """A new event appended at the tail by hand: a copy of a genuine one with a fresh uuid."""
    values = values_of(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first())
    values.update(uuid=uuid.uuid4(), occurred_at=values["occurred_at"], **changes)
    with triggers_bypassed():
        return AuditEvent.objects.create(**values).seq


def forge_tail(history):
    """Not sealed yet: only the missing MAC tells it from a genuine event."""
    return forge(action="client.view", mac=None)


def forge_tail_with_a_copied_mac(history):
    return forge(action="client.view")


def forge_tail_then_sealed(history):
    """The genuine sealer seals the forged event like any other: the seal cannot tell, the MAC can."""
    seq = forge(action="client.view", actor_username="bob")
    seal_all()
    return seq


def truncate_tail(history):
    """The newest seal and its events deleted, with every verification row that remembered them."""
    latest = AuditSeal.objects.order_by("-id").first()
    seqs = [seq for a, b in decode_seqs(latest.seqs) for seq in range(a, b + 1)]
    with triggers_bypassed():
        AuditExposure.objects.filter(event_id__in=seqs).delete()
        AuditEvent.objects.filter(seq__in=seqs).delete()
        AuditSeal.objects.filter(pk=latest.pk).delete()
        AuditVerification.objects.all().delete()
    return latest.first_seq


def rewrite_chain(history, *, changed_index: int = 1):
    """An event changed and every seal from its own on recomputed consistently; verification rows deleted."""
    seals = list(AuditSeal.objects.order_by("id"))
    target = seals[changed_index]
    numbers = [n for a, b in decode_seqs(target.seqs) for n in range(a, b + 1)]
    seq = numbers[min(1, len(numbers) - 1)]
    with triggers_bypassed():
        AuditEvent.objects.filter(seq=seq).update(actor_username="mallory")
        prev = seals[changed_index - 1].seal_hash
        for seal in seals[changed_index:]:
            numbers = [n for a, b in decode_seqs(seal.seqs) for n in range(a, b + 1)]
            events = {e.seq: e for e in AuditEvent.objects.filter(seq__in=numbers)}
            lines = [canonical_line(events[n]) for n in numbers]
            new_hash = seal_hash(prev, lines)
            AuditSeal.objects.filter(pk=seal.pk).update(
                prev_hash=prev, seal_hash=new_hash, digests=b"".join(line_digest(line) for line in lines)
            )
            prev = new_hash
        AuditVerification.objects.all().delete()
    return seq


def edit_unsealed(history):
    """An event written after the last seal, changed before the next one."""
    seq = audit_record(actor=SystemActor(channel="task"), action="test.recent").seq
    with triggers_bypassed():
        AuditEvent.objects.filter(seq=seq).update(actor_username="mallory")
    return seq


CASES = [
    (change, "changed_event"),
    (delete, "deleted_event"),
    (insert, "inserted_event"),
    (reorder, "reordered_events"),
    (reorder_across_seals, "reordered_events"),
    (alter_seal, "broken_chain"),
    (drop_tail, "missing_tail"),
    (delete_seal, "deleted_seal"),
    (delete_newest_seal, "missing_tail"),
    (forge_tail, "forged_event"),
    (forge_tail_with_a_copied_mac, "forged_event"),
    (forge_tail_then_sealed, "forged_event"),
    (truncate_tail, "missing_tail"),
    (rewrite_chain, "broken_chain"),
    (edit_unsealed, "changed_event"),
]


@sealing_db
@pytest.mark.parametrize(("tamper", "kind"), CASES, ids=[tamper.__name__ for tamper, _ in CASES])
def test_verify_audit_names_the_first_bad_sequence_number_and_the_kind(history, tamper, kind, walkers):
    bad_seq = tamper(history)
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, kind, bad_seq), result.message
    with pytest.raises(CommandError) as info:
        call_command("verify_audit")
    assert info.value.returncode == 1
    assert f"{kind} at seq {bad_seq}" in str(info.value)


@sealing_db
def test_the_untouched_log_verifies_with_counts_and_the_latest_hash(history, capsys, walkers):
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


@sealing_db
def test_every_seal_is_anchored_outside_the_database_once(history, anchor_dir):
    seals = list(AuditSeal.objects.order_by("id"))
    anchors = read_anchors(anchor_dir)
    assert [(a.seal, a.hash, a.last_seq) for a in anchors] == [(s.pk, s.seal_hash, s.last_seq) for s in seals]
    assert all(len(a.digests) == a.count * DIGEST_SIZE for a in anchors)
    before = (anchor_dir / "seals.jsonl").read_text()
    audit_record(actor=SystemActor(channel="task"), action="test.more")
    seal_all()
    after = (anchor_dir / "seals.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == AuditSeal.objects.count()


@sealing_db
def test_truncation_names_the_last_anchored_seq(history):
    latest = AuditSeal.objects.order_by("-id").first()
    truncate_tail(history)
    result = verify_log()
    assert result.kind == "missing_tail" and f"up to seq {latest.last_seq}" in result.message, result.message


@sealing_db
def test_a_consistent_rewrite_is_caught_by_the_event_macs_even_without_the_anchor(history, settings):
    settings.AUDIT_ANCHOR_DIR = None
    seq = rewrite_chain(history)
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, "broken_chain", seq), result.message


@sealing_db
def test_a_deleted_seal_is_named_without_the_anchor_too(history, settings):
    settings.AUDIT_ANCHOR_DIR = None
    seq = delete_seal(history)
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, "deleted_seal", seq), result.message


def _walk_part_in(directory):
    """``_walk_part`` that leaves a file named by the process that walked the part."""
    real = verification._walk_part

    def walk(part):
        (directory / f"{os.getpid()}-{part[0]}").write_text("")
        return real(part)

    return walk


_walk_part_recorded = None  # the forked children look it up by name (module-level, so the pool can refer to it)


def _recorded_walk(part):
    return _walk_part_recorded(part)


@pytest.mark.postgres  # the parallel walk is PostgreSQL's
@sealing_db
def test_the_parallel_walk_cuts_between_seals_and_finds_what_one_pass_finds(history, settings, monkeypatch, tmp_path):
    global _walk_part_recorded
    # Three breaks in different seals: the walk must report all of them, in the same order, either way.
    change(history)
    removed = history["seqs"][-4]
    with triggers_bypassed():
        AuditExposure.objects.filter(event_id=removed).delete()
        AuditEvent.objects.filter(seq=removed).delete()
    reorder_across_seals(history)
    settings.AUDIT_VERIFY_WORKERS = 1
    one = verify_log()
    assert not one.ok and len(one.problems) >= 3, one.message

    settings.AUDIT_VERIFY_WORKERS, settings.AUDIT_VERIFY_PARALLEL_MIN_EVENTS = 2, 0
    walked = tmp_path / "walked"
    walked.mkdir()
    _walk_part_recorded = _walk_part_in(walked)
    monkeypatch.setattr(verification, "_walk_part", _recorded_walk)
    many = verify_log()
    assert (many.ok, many.kind, many.first_bad_seq, many.problems) == (False, one.kind, one.first_bad_seq, one.problems)
    assert (many.events_checked, many.pending_events) == (one.events_checked, one.pending_events)
    # Walked by other processes than this one, in parts no seal spans.
    pids = {name.split("-")[0] for name in os.listdir(walked)}
    assert str(os.getpid()) not in pids and len(os.listdir(walked)) >= 2
    with transaction.atomic():
        verifier = verification._Verifier(expect_hash=None, expect_seal_id=None)
        verifier.check_chain()
        parts = verifier.parts(4)
    assert len(parts) >= 2 and parts[0][0] is None and parts[-1][1] is None
    for seal in AuditSeal.objects.all():
        holding = [i for i, (_low, _high, ivs) in enumerate(parts) if any(iv[2] == seal.pk for iv in ivs)]
        assert len(holding) == 1, f"seal #{seal.pk} is cut"
    assert sorted(iv for _low, _high, ivs in parts for iv in ivs) == verifier.intervals


@sealing_db
def test_inside_a_callers_transaction_the_walk_stays_in_this_process(history, settings, monkeypatch):
    """Children could not see the caller's uncommitted writes: the walk stays here and still finds them."""
    settings.AUDIT_VERIFY_WORKERS, settings.AUDIT_VERIFY_PARALLEL_MIN_EVENTS = 2, 0
    monkeypatch.setattr(verification, "_walk_part", None)  # any attempt to fork would fail
    with transaction.atomic():
        seq = forge(action="client.view", mac=None)
        result = verify_log()
        transaction.set_rollback(True)
    assert (result.ok, result.kind, result.first_bad_seq) == (False, "forged_event", seq), result.message


@pytest.mark.postgres
@sealing_db
def test_a_process_that_cannot_join_the_snapshot_fails_the_verification_instead_of_hanging(
    history, settings, monkeypatch
):
    settings.AUDIT_VERIFY_WORKERS, settings.AUDIT_VERIFY_PARALLEL_MIN_EVENTS = 2, 0
    real = verification._part_start
    monkeypatch.setattr(verification, "_part_start", lambda snapshot: real("00000003-0000001B-1"))
    outcome: list = []

    def run():
        try:
            outcome.append(verify_log())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the verification hung"
    assert isinstance(outcome[0], RuntimeError) and "snapshot" in str(outcome[0]), outcome
