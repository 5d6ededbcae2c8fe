"""The events table partitioned by month on PostgreSQL (audit.partitions, migration 0012): rows land in their month,
the append-only trigger holds on every partition, sealing and verification run across months, retention drops a
wholly expired month, a month without a partition still takes events, and the migration converts a populated
table without changing an event. On SQLite the table stays as it is and the same code paths are no-ops."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from audit import partitions
from audit.models import AuditEvent, AuditExposure, AuditPurge, AuditSeal
from audit.retention import purge_expired
from audit.services import SystemActor, audit_record
from audit.tasks import ensure_audit_partitions
from audit.verification import verify_log

from .conftest import ProbeAction, seal_all, triggers_bypassed

postgres_only = pytest.mark.postgres


def month_start(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def write(at: datetime, action: str = ProbeAction.WRITE, **fields) -> AuditEvent:
    with transaction.atomic():
        return audit_record(actor=SystemActor(at=at), action=action, **fields)


def home(seq: int) -> str:
    """The partition an event's row is stored in."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE seq = %s", [seq])
        return cursor.fetchone()[0]


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def snapshot() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent ORDER BY seq")
        return cursor.fetchall()


def test_sqlite_keeps_one_plain_table(db):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    assert not partitions.is_partitioned() and partitions.partitions() == []
    assert partitions.ensure_partitions() == 0 and ensure_audit_partitions() == 0
    assert partitions.add_month(timezone.now()) is False
    event = write(timezone.now() - timedelta(days=4000))
    assert AuditEvent.objects.filter(seq=event.seq).exists()


@pytest.mark.django_db
def test_exposures_name_events_that_exist(cast):
    """No database foreign key any more (the events table is partitioned): integrity is by construction."""
    event = write(timezone.now(), target_type="client", target_id=cast.client.id, client_ids=[cast.client.id])
    assert AuditExposure.objects.filter(event_id=event.seq).count() == 1
    assert not AuditExposure.objects.exclude(event_id__in=AuditEvent.objects.values("seq")).exists()


@postgres_only
@pytest.mark.django_db
def test_the_table_is_partitioned_by_month_with_a_default(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
            "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = 'audit_auditevent'::regclass"
        )
        assert cursor.fetchone() == ("r", "occurred_at")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'audit_auditevent'::regclass "
            "AND contype IN ('p', 'u') ORDER BY contype"
        )
        assert [row[0] for row in cursor.fetchall()] == [
            "PRIMARY KEY (seq, occurred_at)",
            "UNIQUE (uuid, occurred_at)",
        ]
    parts = partitions.partitions()
    this_month = month_start(timezone.now())
    next_month = month_start(this_month + timedelta(days=32))
    assert parts[-1].is_default and parts[-1].name == "audit_auditevent_default"
    names = {p.name for p in parts}
    assert {f"audit_auditevent_p{this_month:%Y%m}", f"audit_auditevent_p{next_month:%Y%m}"} <= names
    mine = next(p for p in parts if p.name == f"audit_auditevent_p{this_month:%Y%m}")
    assert (mine.lower, mine.upper) == (this_month, next_month)


@postgres_only
@pytest.mark.django_db
def test_rows_land_in_their_month_and_a_month_without_a_partition_still_takes_them(db):
    now = timezone.now()
    current = write(now)
    assert home(current.seq) == f"audit_auditevent_p{month_start(now):%Y%m}"
    stray_at = datetime(1999, 7, 15, 12, tzinfo=UTC)  # no partition for that month
    stray = write(stray_at, action=ProbeAction.EARLY, details={"k": "v"})
    assert home(stray.seq) == "audit_auditevent_default"
    before = snapshot()
    # Making that month's partition later moves the row, unchanged, out of the default partition.
    assert partitions.add_month(stray_at) is True
    assert partitions.add_month(stray_at) is False
    assert home(stray.seq) == "audit_auditevent_p199907"
    assert snapshot() == before
    assert AuditEvent.objects.get(seq=stray.seq).details == {"k": "v"}


@postgres_only
@pytest.mark.django_db
def test_ensure_partitions_makes_the_months_ahead_once(db):
    ahead = month_start(timezone.now() + timedelta(days=2 * 31 + 5))
    name = f"audit_auditevent_p{ahead:%Y%m}"
    made = partitions.ensure_partitions(months_ahead=2)
    assert exists(name) and made >= (1 if made else 0)
    assert partitions.ensure_partitions(months_ahead=2) == 0
    assert ensure_audit_partitions() == 0


@postgres_only
@pytest.mark.django_db
def test_updates_and_deletes_are_rejected_on_the_parent_and_on_every_partition(db):
    now = timezone.now()
    event = write(now)
    stray = write(datetime(1998, 3, 3, tzinfo=UTC))
    for table, seq in (
        ("audit_auditevent", event.seq),
        (f"audit_auditevent_p{month_start(now):%Y%m}", event.seq),
        ("audit_auditevent_default", stray.seq),
    ):
        for statement in (f"UPDATE {table} SET action = 'x' WHERE seq = %s", f"DELETE FROM {table} WHERE seq = %s"):
            with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [seq])
    # A partition made later gets the trigger too.
    later = datetime(2091, 5, 5, tzinfo=UTC)
    partitions.add_month(later)
    future = write(later)
    assert home(future.seq) == "audit_auditevent_p209105"
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent_p209105 SET action = 'x' WHERE seq = %s", [future.seq])
    assert AuditEvent.objects.get(seq=future.seq).action == ProbeAction.WRITE


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_sealing_and_verification_across_a_month_boundary(db):
    boundary = month_start(timezone.now())
    partitions.add_month(boundary - timedelta(days=1))
    seqs = [write(boundary - timedelta(seconds=2 - i)).seq for i in range(4)]  # two before midnight, two after
    assert len({home(seq) for seq in seqs}) == 2
    seal_all()
    sealed = {seq for text in AuditSeal.objects.values_list("seqs", flat=True) for seq in _seqs(text)}
    assert set(seqs) <= sealed
    result = verify_log()
    assert result.ok, result.message
    # Tampering in either month is still found.
    with triggers_bypassed() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE seq = %s", [seqs[0]])
    result = verify_log()
    assert (result.ok, result.kind, result.first_bad_seq) == (False, "changed_event", seqs[0])


def _seqs(text: str) -> list[int]:
    from audit.canonical import decode_seqs

    return [seq for a, b in decode_seqs(text) for seq in range(a, b + 1)]


def _age_all_seals(days: int) -> None:
    with triggers_bypassed():
        AuditSeal.objects.update(created_at=timezone.now() - timedelta(days=days))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_retention_drops_a_wholly_expired_month_and_verification_stays_green(db, settings):
    settings.AUDIT_RETENTION_DAYS = 3 * 365
    old = datetime(2020, 2, 10, tzinfo=UTC)
    partitions.add_month(old)
    old_seqs = [write(old + timedelta(hours=i), target_type="client", target_id=_uuid(i)).seq for i in range(5)]
    recent = write(timezone.now(), action=ProbeAction.RECENT)  # current month: its seal is old too
    seal_all()
    _age_all_seals(4 * 365)
    kept = write(timezone.now(), action=ProbeAction.KEPT)  # sealed after the cutoff: stays
    seal_all()
    assert AuditExposure.objects.filter(event_id__in=old_seqs).count() == 5

    result = purge_expired()

    assert not exists("audit_auditevent_p202002")  # the whole month went
    assert result.events_deleted == len(old_seqs) + 1  # plus the current month's old event, deleted as a row
    assert not AuditEvent.objects.filter(seq__in=[*old_seqs, recent.seq]).exists()
    assert AuditEvent.objects.filter(seq=kept.seq).exists()
    assert not AuditExposure.objects.filter(event_id__in=old_seqs).exists()
    purge = AuditPurge.objects.get()
    assert purge.events_deleted == result.events_deleted
    event = AuditEvent.objects.get(action="audit.purge")
    assert "audit_auditevent_p202002" in event.details["partitions_dropped"]  # (and any other empty old month)
    assert "か月分は月ごとの区画ごと削除しました" in result.message
    seal_all()
    verdict = verify_log()
    assert verdict.ok, verdict.message


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_expired_month_holding_an_event_not_yet_purgeable_is_kept(db, settings):
    settings.AUDIT_RETENTION_DAYS = 3 * 365
    old = datetime(2020, 5, 10, tzinfo=UTC)
    partitions.add_month(old)
    purged = [write(old + timedelta(hours=i)).seq for i in range(3)]
    seal_all()
    _age_all_seals(4 * 365)
    late = write(old + timedelta(days=1), action=ProbeAction.LATE)  # dated in that month, sealed only now
    seal_all()

    result = purge_expired()

    assert exists("audit_auditevent_p202005")  # not dropped: it still holds an event of a later seal
    assert result.events_deleted == len(purged)
    assert not AuditEvent.objects.filter(seq__in=purged).exists()  # deleted row by row instead
    assert AuditEvent.objects.filter(seq=late.seq).exists()
    assert "partitions_dropped" not in AuditEvent.objects.get(action="audit.purge").details
    seal_all()
    verdict = verify_log()
    assert verdict.ok, verdict.message


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_populated_table_and_back(db):
    partitions.add_month(datetime(2021, 8, 1, tzinfo=UTC))
    for i in range(3):
        write(datetime(2021, 8, 31, 23, 59, 58, tzinfo=UTC) + timedelta(seconds=i))  # across a month boundary
        write(timezone.now(), target_type="client", target_id=_uuid(i))
    seal_all()
    write(timezone.now(), action=ProbeAction.MORE)  # one left unsealed
    before = snapshot()
    assert before and verify_log().ok

    call_command("migrate", "audit", "0011", verbosity=0)
    try:
        assert not partitions.is_partitioned()
        assert snapshot() == before
        result = verify_log()
        assert result.ok, result.message
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence('audit_auditevent', 'seq')")
            assert cursor.fetchone()[0] == "public.audit_auditevent_seq_seq"
    finally:
        call_command("migrate", "audit", verbosity=0)

    assert partitions.is_partitioned()
    assert snapshot() == before
    names = {p.name for p in partitions.partitions()}
    assert {"audit_auditevent_p202108", "audit_auditevent_p202109", "audit_auditevent_default"} <= names
    result = verify_log()
    assert result.ok, result.message
    # The number is still drawn after the transaction id (migration 0005), from the same sequence.
    later = write(timezone.now(), action=ProbeAction.WRITE2)
    assert later.seq > max(row[0] for row in before)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT txid IS NOT NULL, pg_get_serial_sequence('audit_auditevent', 'seq') "
            "FROM audit_auditevent WHERE seq = %s",
            [later.seq],
        )
        assert cursor.fetchone() == (True, "public.audit_auditevent_seq_seq")
    seal_all()
    result = verify_log()
    assert result.ok, result.message


def _uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


@postgres_only
@pytest.mark.django_db
def test_the_default_partitions_months_get_their_own_partition_hourly(db):
    stray = write(datetime(1997, 11, 30, 23, tzinfo=UTC))
    assert home(stray.seq) == "audit_auditevent_default"
    assert ensure_audit_partitions() >= 1
    assert home(stray.seq) == "audit_auditevent_p199711"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent_default")
        assert cursor.fetchone()[0] == 0


@postgres_only
@pytest.mark.django_db
def test_the_app_role_writes_through_the_parent_only(db):
    """After ``audit_db_roles``, a schema-wide grant does not reach the partitions; the role may ask for the months
    ahead but not make any month it likes."""
    role = f"tsunagu_app_{uuid.uuid4().hex[:8]}"
    month = f"audit_auditevent_p{month_start(timezone.now()):%Y%m}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
        cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        cursor.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    call_command("audit_db_roles", "--app-role", role)
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
        try:
            event = write(timezone.now())
            assert home(event.seq) == month
            for statement in (
                f"SELECT * FROM {month}",
                f"DELETE FROM {month}",
                "SELECT * FROM audit_auditevent_default",
            ):
                with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                    cursor.execute(statement)
            with transaction.atomic():
                cursor.execute("SELECT tsunagu_audit_ensure_partitions(1)")
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                cursor.execute("SELECT tsunagu_audit_add_month('2001-01-01')")
        finally:
            cursor.execute("RESET ROLE")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_month_that_cannot_be_detached_in_time_is_purged_row_by_row(db, settings):
    """A long transaction reading the log holds the parent: the purge waits a few seconds for the detach, then
    deletes that month's rows instead, and the outcome is the same."""
    import psycopg

    settings.AUDIT_RETENTION_DAYS = 3 * 365
    old = datetime(2020, 9, 10, tzinfo=UTC)
    partitions.add_month(old)
    seqs = [write(old + timedelta(hours=i)).seq for i in range(3)]
    seal_all()
    _age_all_seals(4 * 365)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as reader:
        reader.execute("SELECT count(*) FROM audit_auditevent")  # holds ACCESS SHARE until the end of its transaction
        result = purge_expired()
    assert result.events_deleted == len(seqs)
    assert not AuditEvent.objects.filter(seq__in=seqs).exists()
    assert exists("audit_auditevent_p202009")  # kept, emptied
    assert "partitions_dropped" not in AuditEvent.objects.get(action="audit.purge").details
    verdict = verify_log()
    assert verdict.ok, verdict.message
