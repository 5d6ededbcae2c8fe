"""The disclosure report (開示請求対応): every access to one resident's records in a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from tsunagu.db_router import officer_reads
from tsunagu.periods import check_period

from ..actions import AuditAction
from ..models import AuditEvent, AuditExposure
from ..services import AuditActor, audit_record
from .officer import client_uuid, require_privacy_officer

DISCLOSURE_CAP = 10_000


@dataclass(frozen=True)
class DisclosureReport:
    events: list[AuditEvent]
    capped: bool  # true when there were more than DISCLOSURE_CAP events: narrow the period


@officer_reads
def review_disclosure(*, actor: AuditActor, client_id: object, since: datetime, until: datetime) -> DisclosureReport:
    """For a resident's disclosure request (開示請求): every event that targeted or exposed the client in
    [since, until), oldest first, denied attempts included, at most ``DISCLOSURE_CAP``.

    The privacy office's own review work (``audit.*``: identifier look-ups made to answer this very request) is
    left out, so that preparing a report does not change the next one; it stays in the per-client history."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    cid = client_uuid(client_id)
    check_period(since, until, required=True)
    with transaction.atomic():
        touching = AuditExposure.objects.filter(client_id=cid).values("event_id")
        rows = list(
            AuditEvent.objects.filter(seq__in=touching, occurred_at__gte=since, occurred_at__lt=until)
            .exclude(action__startswith="audit.")
            .order_by("occurred_at", "seq")[: DISCLOSURE_CAP + 1]
        )
        capped = len(rows) > DISCLOSURE_CAP
        rows = rows[:DISCLOSURE_CAP]
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            details={
                "purpose": "disclosure",
                "client": str(cid),
                "since": since.isoformat(),
                "until": until.isoformat(),
                "count": len(rows),
                "capped": capped,
            },
        )
    return DisclosureReport(events=rows, capped=capped)
