"""The dashboard: events per day by agency, denials per day, open flags, and the seal and verification status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from tsunagu.db_router import officer_reads
from tsunagu.errors import InvalidInput
from tsunagu.timezones import JST

from ..actions import AuditAction
from ..daily import daily_counts
from ..models import AnomalyFlag, FlagStatus
from ..selectors import SealStatus, seal_latest
from ..services import AuditActor, audit_record
from .officer import require_privacy_officer


@dataclass(frozen=True)
class ReviewStats:
    events_per_day_by_agency: dict[date, dict[str, int]]  # JST date → agency code ("" for none) → events
    denied_per_day: dict[date, int]
    open_flags: int
    first_day: date
    last_day: date


@officer_reads
def review_stats(*, actor: AuditActor, days: int = 30) -> ReviewStats:
    """Dashboard figures for the last ``days`` JST days (today included): the sealed events' daily counts plus a
    live count of the few not sealed yet (audit.daily), equal to counting the events themselves."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    if not isinstance(days, int) or not 1 <= days <= 366:
        raise InvalidInput({"days": [gettext("日数は1〜366で指定してください。")]})
    last_day = timezone.now().astimezone(JST).date()
    first_day = last_day - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=JST)
    with transaction.atomic():
        counts = daily_counts(first_day, start)
        open_flags = AnomalyFlag.objects.filter(status=FlagStatus.OPEN).count()
        audit_record(actor=actor, action=AuditAction.VIEW, details={"purpose": "stats", "days": days})
    return ReviewStats(
        events_per_day_by_agency=dict(sorted(counts.per_agency.items())),
        denied_per_day=dict(sorted(counts.denied.items())),
        open_flags=open_flags,
        first_day=first_day,
        last_day=last_day,
    )


@officer_reads
def review_seal_status(*, actor: AuditActor) -> SealStatus:
    """The last seal and the last verification result."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    with transaction.atomic():
        status = seal_latest()
        audit_record(actor=actor, action=AuditAction.VIEW, details={"purpose": "seal_status"})
    return status
