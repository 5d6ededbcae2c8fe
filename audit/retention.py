"""Retention: remove events older than ``AUDIT_RETENTION_DAYS``, whole sealed batches at a time.

Only seals created before the cutoff are purged (a seal is created after all of its events, so all of them are
older), and only a prefix of the chain, so the remaining seals still verify. The purge records its boundary
(``AuditPurge``: the last purged seal and its hash) and writes its own ``audit.purge`` event, in the same
transaction as the deletion. Seal rows are kept: they hold no personal data and keep the chain checkable.

The delete trigger is bypassed only inside that transaction (``tsunagu.appendonly.purge_allowed``). In
production the application role has no DELETE privilege on the audit tables; run the purge as the owner role,
e.g. ``DATABASE_URL=postgres://tsunagu_owner@.../tsunagu python manage.py purge_audit``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tsunagu.appendonly import purge_allowed

from .actions import AuditAction
from .canonical import decode_seqs
from .models import AuditEvent, AuditExposure, AuditPurge, AuditSeal
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


def _delete_ranges(ranges: list[tuple[int, int]]) -> int:
    deleted = 0
    for start in range(0, len(ranges), _RANGES_PER_STATEMENT):
        chunk = ranges[start : start + _RANGES_PER_STATEMENT]
        by_event = Q()
        by_seq = Q()
        for a, b in chunk:
            by_event |= Q(event_id__gte=a, event_id__lte=b)
            by_seq |= Q(seq__gte=a, seq__lte=b)
        AuditExposure.objects.filter(by_event).delete()
        deleted += AuditEvent.objects.filter(by_seq).delete()[0]
    return deleted


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
        with purge_allowed(connection):
            deleted = _delete_ranges(ranges)
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
            },
        )
    return PurgeResult(
        purge,
        deleted,
        len(batch),
        cutoff,
        f"封印 #{batch[0].pk}〜#{boundary.pk} の記録 {deleted} 件を削除しました（{cutoff:%Y-%m-%d} より前）。",
    )
