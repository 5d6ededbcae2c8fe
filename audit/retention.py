"""Retention: remove events older than ``AUDIT_RETENTION_DAYS``, whole sealed batches at a time.

Only seals created before the cutoff are purged (a seal is created after all of its events, so all of them are
older), and only a prefix of the chain, so the remaining seals still verify. The purge records its boundary
(``AuditPurge``: the last purged seal and its hash) and writes its own ``audit.purge`` event, in the same
transaction as the deletion. Seal rows are kept: they hold no personal data and keep the chain checkable.

On PostgreSQL the events table is partitioned by month (``audit.partitions``): a month that lies wholly before the
cutoff and whose every remaining event belongs to the purged batch is detached and dropped whole, instead of its
rows being deleted one by one. Any other purged event (a month only partly expired, an event of the month still
unsealed or sealed after the cutoff, the default partition) is deleted row by row as before, so what is removed,
what ``AuditPurge`` records and what verification expects afterwards are the same either way.

The delete trigger is bypassed only inside that transaction (``tsunagu.appendonly.purge_allowed``). In
production the application role has no DELETE privilege on the audit tables; run the purge as the owner role,
e.g. ``DATABASE_URL=postgres://tsunagu_owner@.../tsunagu python manage.py purge_audit``.
"""

import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from tsunagu.appendonly import purge_allowed

from .actions import AuditAction
from .canonical import decode_seqs
from .models import AuditEvent, AuditExposure, AuditPurge, AuditSeal
from .partitions import PARENT, Partition, ensure_partitions, partitions
from .sealing import take_sealing_lock
from .services import AuditActor, SystemActor, audit_record

_RANGES_PER_STATEMENT = 200


@dataclass(frozen=True)
class PurgeResult:
    purge: AuditPurge | None
    events_deleted: int
    seals_purged: int
    cutoff: datetime | None
    message: str


def _delete_ranges(ranges: list[tuple[int, int]], *, keep: Sequence[Partition] = ()) -> int:
    """Delete the exposures and events numbered in ``ranges``; events in the partitions ``keep`` are left to be
    dropped whole."""
    spared = Q()
    for part in keep:
        spared |= Q(occurred_at__gte=part.lower, occurred_at__lt=part.upper)
    deleted = 0
    for start in range(0, len(ranges), _RANGES_PER_STATEMENT):
        chunk = ranges[start : start + _RANGES_PER_STATEMENT]
        by_event = Q()
        by_seq = Q()
        for a, b in chunk:
            by_event |= Q(event_id__gte=a, event_id__lte=b)
            by_seq |= Q(seq__gte=a, seq__lte=b)
        AuditExposure.objects.filter(by_event).delete()
        events = AuditEvent.objects.filter(by_seq)
        if keep:
            events = events.exclude(spared)
        deleted += events.delete()[0]
    return deleted


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _covered(part: Partition, ranges: list[tuple[int, int]]) -> int | None:
    """How many events ``part`` holds if every one of them is numbered in ``ranges`` (merged, sorted); None if
    any is not. The partition is first locked against writers (an event dated that long ago is unusual, but one
    written now must not be dropped unsealed); a lock not granted within ``lock_timeout`` (an anti-wraparound
    vacuum of the old month, say; an ordinary autovacuum gives way) leaves the month to the row path."""
    starts = [a for a, _b in ranges]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{part.name}" IN SHARE MODE')
    except DatabaseError:
        return None
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(f'SELECT seq FROM "{part.name}" ORDER BY seq')  # noqa: S608 - a name from the catalogue
        while rows := cursor.fetchmany(10_000):
            for (seq,) in rows:
                index = bisect.bisect_right(starts, seq) - 1
                if index < 0 or seq > ranges[index][1]:
                    return None
            count += len(rows)
    return count


def _droppable(ranges: list[tuple[int, int]], cutoff: datetime) -> list[tuple[Partition, int]]:
    """The month partitions wholly before ``cutoff`` whose every event is in ``ranges``, with their event counts.
    (Empty on SQLite and on an unpartitioned table.) Empty months go too."""
    merged = _merged(ranges)
    found: list[tuple[Partition, int]] = []
    for part in partitions():
        if part.is_default or part.upper is None or part.upper > cutoff:
            continue
        count = _covered(part, merged)
        if count is not None:
            found.append((part, count))
    return found


def _drop(parts: list[Partition]) -> list[Partition]:
    """Detach and drop ``parts``; those whose lock is not granted within a few seconds (a long transaction that
    wrote events holds the parent) have their rows deleted instead. Returns the partitions dropped."""
    dropped: list[Partition] = []
    with connection.cursor() as cursor:
        for part in parts:
            try:
                with transaction.atomic():
                    cursor.execute(f'ALTER TABLE "{PARENT}" DETACH PARTITION "{part.name}"')
                    cursor.execute(f'DROP TABLE "{part.name}"')
            except DatabaseError:
                AuditEvent.objects.filter(occurred_at__gte=part.lower, occurred_at__lt=part.upper).delete()
                continue
            dropped.append(part)
    return dropped


@contextmanager
def _lock_timeout(value: str) -> Iterator[None]:
    """PostgreSQL: wait at most ``value`` for each lock inside the block (the purge's own transaction)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [value])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def purge_expired(
    *,
    actor: AuditActor | None = None,
    retention_days: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete the events of every sealed batch older than the retention period (0 days: keep forever)."""
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return PurgeResult(None, 0, 0, None, "保存期間が無期限（0日）のため、削除しません。")
    actor = actor or SystemActor(channel="cli")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        if not take_sealing_lock():
            return PurgeResult(None, 0, 0, cutoff, "封印処理の実行中です。後で再実行してください。")
        done = AuditPurge.objects.order_by("-up_to_seal_id").first()
        candidates = AuditSeal.objects.order_by("id").defer("digests")
        if done is not None:
            candidates = candidates.filter(id__gt=done.up_to_seal_id)
        batch: list[AuditSeal] = []
        for seal in candidates.iterator(chunk_size=500):
            if seal.created_at >= cutoff:
                break
            batch.append(seal)
        if not batch:
            return PurgeResult(None, 0, 0, cutoff, f"{cutoff:%Y-%m-%d} より前に封印された記録はありません。")
        boundary = batch[-1]
        ranges = [r for seal in batch for r in decode_seqs(seal.seqs)]
        if dry_run:
            count = sum(seal.count for seal in batch)
            return PurgeResult(None, count, len(batch), cutoff, f"削除対象: 封印 {len(batch)} 件、記録 約{count} 件")
        with _lock_timeout("5s"):
            droppable = _droppable(ranges, cutoff)
            whole = [part for part, _count in droppable]
            with purge_allowed(connection):
                deleted = _delete_ranges(ranges, keep=whole) + sum(count for _part, count in droppable)
                # Then the whole months: from here the parent is locked until the commit, a moment later.
                dropped = _drop(whole)
        purge = AuditPurge.objects.create(
            purged_at=timezone.now(),
            up_to_seal=boundary,
            seal_hash=boundary.seal_hash,
            cutoff=cutoff,
            retention_days=days,
            events_deleted=deleted,
        )
        audit_record(
            actor=actor,
            action=AuditAction.PURGE,
            target_type="audit_seal",
            target_id=boundary.pk,
            details={
                "purge": purge.pk,
                "up_to_seal": boundary.pk,
                "seal_hash": boundary.seal_hash,
                "seals": len(batch),
                "events_deleted": deleted,
                "cutoff": cutoff.isoformat(),
                "retention_days": days,
                **({"partitions_dropped": [part.name for part in dropped]} if dropped else {}),
            },
        )
    ensure_partitions()
    return PurgeResult(
        purge,
        deleted,
        len(batch),
        cutoff,
        f"封印 #{batch[0].pk}〜#{boundary.pk} の記録 {deleted} 件を削除しました（{cutoff:%Y-%m-%d} より前）。"
        + (f"うち {len(dropped)} か月分は月ごとの区画ごと削除しました。" if dropped else ""),
    )
