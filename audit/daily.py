"""The dashboard's daily counts (events per JST day and agency, denials per day) without reading the events.

Counting 30 days of events at prefecture scale read ~800,000 rows per dashboard view. Instead every seal, in its
own transaction, adds what it sealed to ``AuditDailyCount`` (one row per day and agency it holds): sealing takes
every event exactly once (audit.sealing), so the rows count every sealed event exactly once. A reading adds the
rows of the seals up to the latest one it saw to a live count of the events in no seal up to it (those at or
above its transaction horizon, a few seconds' worth): a seal committed in between is counted once either way,
as its events are still in the table and its rows are excluded by ``seal_id``. Seals whose events were purged
(audit.retention) are left out, like their events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from tsunagu.timezones import JST

from .canonical import EventRow, decode_seqs
from .models import AuditDailyCount, AuditEvent, AuditPurge, AuditSeal, Outcome


def record_daily_counts(seal: AuditSeal, events: Iterable[EventRow]) -> None:
    """Add the events of ``seal`` (just made, same transaction) to the daily counts."""
    counts: dict[tuple[date, str], list[int]] = {}
    for event in events:
        key = (event.occurred_at.astimezone(JST).date(), event.actor_agency_code or "")
        slot = counts.get(key)
        if slot is None:
            slot = counts[key] = [0, 0]
        slot[0] += 1
        if event.outcome == Outcome.DENIED:
            slot[1] += 1
    AuditDailyCount.objects.bulk_create(
        AuditDailyCount(seal_id=seal.pk, day=day, agency_code=agency, events=n, denied=denied)
        for (day, agency), (n, denied) in counts.items()
    )


@dataclass(frozen=True)
class DailyCounts:
    per_agency: dict[date, dict[str, int]]  # JST day → agency code ("" for none) → events
    denied: dict[date, int]


def daily_counts(first_day: date, start: datetime) -> DailyCounts:
    """Events per JST day and agency, and denials per day, from ``first_day`` (whose JST midnight is ``start``)
    on: equal to a GROUP BY over the events themselves."""
    from .sealing import pending_condition  # sealing writes the counts: import it lazily

    last = AuditSeal.objects.order_by("-id").only("id", "last_seq", "txid_horizon", "cluster").first()
    purged = AuditPurge.objects.order_by("-up_to_seal_id").values_list("up_to_seal_id", flat=True).first() or 0
    per_agency: dict[date, dict[str, int]] = {}
    denied: dict[date, int] = {}

    def add(day: date, agency: str, n: int, d: int) -> None:
        by_agency = per_agency.setdefault(day, {})
        by_agency[agency] = by_agency.get(agency, 0) + n
        if d:
            denied[day] = denied.get(day, 0) + d

    if last is not None:
        sealed = (
            AuditDailyCount.objects.filter(day__gte=first_day, seal_id__gt=purged, seal_id__lte=last.pk)
            .order_by()
            .values("day", "agency_code")
            .annotate(n=Sum("events"), d=Sum("denied"))
        )
        for row in sealed:
            add(row["day"], row["agency_code"], int(row["n"]), int(row["d"]))
    condition, params = pending_condition(last)
    live = (
        AuditEvent.objects.extra(where=[condition], params=params)  # noqa: S610 (fixed SQL, bound params)
        .filter(occurred_at__gte=start)
        .annotate(day=TruncDate("occurred_at", tzinfo=JST))
        .order_by()
        .values("day", "actor_agency_code")
        .annotate(n=Count("seq"), d=Count("seq", filter=Q(outcome=Outcome.DENIED)))
    )
    for row in live:
        add(row["day"], row["actor_agency_code"], row["n"], row["d"])
    return DailyCounts(per_agency=per_agency, denied=denied)


def count_uncounted_seals(
    *,
    seal_model: type[Any] = AuditSeal,
    event_model: type[Any] = AuditEvent,
    count_model: type[Any] = AuditDailyCount,
    purge_model: type[Any] = AuditPurge,
) -> int:
    """Count the events of every seal that has no daily counts yet (made before the counts existed, migration 0011,
    or written in bulk, as the benchmark's fixture does); returns how many seals were counted. The models may be a
    migration's historical ones. A seal that is not purged holds at least one event, so "no rows" means "not
    counted"; a malformed seal is left to verification."""
    purged = purge_model.objects.order_by("-up_to_seal_id").values_list("up_to_seal_id", flat=True).first() or 0
    counted = set(count_model.objects.values_list("seal_id", flat=True).distinct())
    done = 0
    for seal_id, seqs in seal_model.objects.filter(id__gt=purged).order_by("id").values_list("id", "seqs").iterator():
        if seal_id in counted:
            continue
        try:
            ranges = decode_seqs(seqs)
        except ValueError:
            continue
        counts: dict[tuple[date, str], list[int]] = {}
        for i in range(0, len(ranges), 200):
            condition = Q()
            for a, b in ranges[i : i + 200]:
                condition |= Q(seq__gte=a, seq__lte=b)
            rows = (
                event_model.objects.filter(condition)
                .annotate(day=TruncDate("occurred_at", tzinfo=JST))
                .order_by()
                .values("day", "actor_agency_code")
                .annotate(n=Count("seq"), d=Count("seq", filter=Q(outcome=Outcome.DENIED)))
            )
            for row in rows:
                slot = counts.setdefault((row["day"], row["actor_agency_code"]), [0, 0])
                slot[0] += row["n"]
                slot[1] += row["d"]
        count_model.objects.bulk_create(
            count_model(seal_id=seal_id, day=day, agency_code=agency, events=n, denied=d)
            for (day, agency), (n, d) in counts.items()
        )
        done += 1
    return done
