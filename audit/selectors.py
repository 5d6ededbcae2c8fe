"""Reading the audit log for review (privacy-officer console, API): keyset-paged, newest first.

These return audit data only; callers decide who may call them and record ``audit.view`` themselves.
"By client" goes through ``AuditExposure`` (index ``client_id, event_seq``): one index range scan per page
however many events the client has, rather than a scan of the event table.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page
from tsunagu.periods import period_errors

from .models import AuditDigest, AuditEvent, AuditExposure, AuditSeal, AuditVerification, Channel, Outcome
from .services import as_uuid
from .signing import text_signature_ok

EVENT_ORDER = [("seq", True)]
EXPOSURE_ORDER = [("event_id", True)]


def event_condition(
    *,
    prefix: str = "",
    actor: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str = "",
) -> Q:
    """The search's filters as one condition on ``AuditEvent`` (``prefix`` ``"event__"`` to apply it through
    ``AuditExposure``), checked: ``InvalidInput`` names every bad field. ``action`` matches exactly, or as a prefix
    when it ends in ``.``; the period is ``[since, until)``. The search and the CSV export select with it."""
    errors: dict[str, list[str]] = {}
    condition = Q()
    if actor:
        condition &= Q(**{f"{prefix}actor_username": actor})
    if agency:
        condition &= Q(**{f"{prefix}actor_agency_code": agency})
    if action:
        if len(action) > 48:
            errors["action"] = ["操作名が長すぎます。"]
        elif action.endswith("."):
            condition &= Q(**{f"{prefix}action__startswith": action})
        else:
            condition &= Q(**{f"{prefix}action": action})
    if outcome:
        if outcome not in Outcome.values:
            errors["outcome"] = [f"結果が不正です: {outcome}（{', '.join(Outcome.values)}）"]
        condition &= Q(**{f"{prefix}outcome": outcome})
    if channel:
        if channel not in Channel.values:
            errors["channel"] = [f"経路が不正です: {channel}（{', '.join(Channel.values)}）"]
        condition &= Q(**{f"{prefix}channel": channel})
    errors.update(period_errors(since, until))
    if errors:
        raise InvalidInput(errors)
    return condition & period_condition(since, until, prefix=prefix)


# How far out of order ``occurred_at`` may be with respect to ``seq`` (see ``seq_bounds``).
CLOCK_SKEW_MARGIN = timedelta(minutes=5)


def seq_bounds(since: datetime | None, until: datetime | None) -> tuple[int | None, int | None]:
    """Sequence numbers outside which no event of the period ``[since, until)`` can lie: ``(low, high)``, every such
    event has ``low < seq < high`` (None: no bound). Each is one look-up in the ``occurred_at`` index.

    ``occurred_at`` is the application's clock when the event is written and ``seq`` is drawn in the same INSERT,
    so the two rise together, up to the clocks of different processes disagreeing. Assumed: an event numbered
    before another never happened more than ``CLOCK_SKEW_MARGIN`` after it. So an event numbered below an event G
    that happened before ``since - margin`` happened before ``since``: ``low`` is the number of the latest such G.
    Likewise an event numbered above an event H that happened at or after ``until + margin`` happened at or after
    ``until``: ``high`` is the number of the earliest such H. The period's own ``occurred_at`` condition stays in
    the query: the bounds only let it be found in the ``seq``-ordered indexes without reading every later event.
    (Only the demo seeder writes events with another time than the clock's, ``Actor.at``, in time order.)"""
    low = high = None
    if since is not None:
        before = AuditEvent.objects.filter(occurred_at__lt=since - CLOCK_SKEW_MARGIN).order_by("-occurred_at")
        low = before.values_list("seq", flat=True).first()
    if until is not None:
        after = AuditEvent.objects.filter(occurred_at__gte=until + CLOCK_SKEW_MARGIN).order_by("occurred_at")
        high = after.values_list("seq", flat=True).first()
    return low, high


def period_condition(since: datetime | None, until: datetime | None, *, prefix: str = "") -> Q:
    """``since <= occurred_at < until`` (either side optional), with the ``seq`` bounds of ``seq_bounds`` so that the
    newest-first scans (by ``seq``, or ``event_seq`` through ``AuditExposure`` with ``prefix`` ``"event__"``) start
    and stop at the period instead of filtering the whole log: a day's search at 10M events read 7.6M rows."""
    condition = Q()
    if since is not None:
        condition &= Q(**{f"{prefix}occurred_at__gte": since})
    if until is not None:
        condition &= Q(**{f"{prefix}occurred_at__lt": until})
    seq_field = "event_id" if prefix == "event__" else f"{prefix}seq"
    low, high = seq_bounds(since, until)
    if low is not None:
        condition &= Q(**{f"{seq_field}__gt": low})
    if high is not None:
        condition &= Q(**{f"{seq_field}__lt": high})
    return condition


def audit_event_list(
    *,
    client_id: object = None,
    actor: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    channel: str = "",
) -> Page:
    """Events newest first. ``client_id`` matches events that targeted the client or exposed it (lists,
    searches), denied attempts included; ``action`` matches exactly, or as a prefix when it ends in ``.``."""
    filters: dict[str, Any] = dict(
        actor=actor, agency=agency, action=action, outcome=outcome, since=since, until=until, channel=channel
    )
    if client_id in (None, ""):
        qs = AuditEvent.objects.filter(event_condition(**filters))
        return keyset_page(qs, order=EVENT_ORDER, limit=limit, cursor=cursor)
    cid = as_uuid(client_id)
    if cid is None:
        raise InvalidInput({"client": ["利用者IDの形式が正しくありません。"]})
    exposures = AuditExposure.objects.filter(client_id=cid).filter(event_condition(prefix="event__", **filters))
    page = keyset_page(exposures, order=EXPOSURE_ORDER, limit=limit, cursor=cursor)
    events = AuditEvent.objects.in_bulk([x.event_id for x in page.items])
    return Page(
        items=[events[x.event_id] for x in page.items if x.event_id in events],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@dataclass(frozen=True)
class SealStatus:
    seal: AuditSeal | None
    verification: AuditVerification | None
    digest: AuditDigest | None = None  # the latest signed daily digest (audit.anchors)
    digest_signature_ok: bool = False


def seal_latest() -> SealStatus:
    """The last seal and the last verification result (for ``/api/v1/audit/seals/latest/``)."""
    seal = AuditSeal.objects.order_by("-id").defer("digests").first()
    verification = AuditVerification.objects.order_by("-id").first()
    digest = AuditDigest.objects.order_by("-id").first()
    signed = digest is not None and text_signature_ok(digest.text, digest.signature)
    return SealStatus(seal=seal, verification=verification, digest=digest, digest_signature_ok=signed)


def audit_unsealed_oldest(seal: AuditSeal | None) -> datetime | None:
    """When the oldest event after ``seal`` (the last seal) happened: None when every event is sealed. Events
    after the last seal's ``last_seq`` (on PostgreSQL a seal may also hold events numbered before it that committed
    late; this is a health figure, not the proof)."""
    after = seal.last_seq if seal is not None else 0
    return AuditEvent.objects.filter(seq__gt=after).order_by("seq").values_list("occurred_at", flat=True).first()
