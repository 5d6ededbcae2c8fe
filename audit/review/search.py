"""Searching the log: by client, actor, agency, action, outcome, channel and time (the per-client history and
the per-user activity are searches by client and by actor), and "did anyone search for this name?"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext

from tsunagu.db_router import officer_reads
from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page
from tsunagu.periods import check_period

from ..actions import AuditAction, Trait, with_trait
from ..models import AuditEvent, AuditExposure
from ..selectors import EVENT_ORDER, EXPOSURE_ORDER, audit_event_list, period_condition
from ..services import AuditActor, audit_record, terms_hash_candidates
from .officer import client_uuid, require_privacy_officer

TERM_MAX_LENGTH = 100
TERM_SEARCH_ORDER = [("seq", True)]


def event_filters(
    *,
    client_id: object = None,
    username: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    channel: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, str]:
    """The non-empty filters of a search, as JSON (for the audit row and for an export)."""
    values = {
        "client": str(client_id) if client_id not in (None, "") else "",
        "actor": username,
        "agency": agency,
        "action": action,
        "outcome": outcome,
        "channel": channel,
        "since": since.isoformat() if isinstance(since, datetime) else "",
        "until": until.isoformat() if isinstance(until, datetime) else "",
    }
    return {k: v for k, v in values.items() if v}


@officer_reads
def review_events(
    *,
    actor: AuditActor,
    client_id: object = None,
    username: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    channel: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Audit events newest first, one keyset page. ``client_id`` matches events that targeted the client or
    exposed it (lists, searches), denied attempts included; ``action`` matches exactly or as a prefix ending in
    ``.``. Audited as ``audit.view`` with the filters and the number of events shown."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    if client_id not in (None, ""):
        client_id = client_uuid(client_id)
    with transaction.atomic():
        page = audit_event_list(
            client_id=client_id,
            actor=username,
            agency=agency,
            action=action,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        filters = event_filters(
            client_id=client_id,
            username=username,
            agency=agency,
            action=action,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
        )
        audit_record(actor=actor, action=AuditAction.VIEW, details={"filters": filters, "count": len(page.items)})
    return page


@officer_reads
def review_term_search(
    *,
    actor: AuditActor,
    terms: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """ "Did anyone search for this name?": events whose recorded search-term, tag-filter or attempted-username
    hash is the keyed hash of one of ``terms`` (the spellings to try: as typed, normalised as the searches
    normalise), under every key still held; newest first, one keyset page.

    Audited as ``audit.term_search`` with the number of events found: neither the terms nor their hashes are
    recorded (a hash of the term would itself be a record of the name looked for)."""
    require_privacy_officer(actor=actor, action=AuditAction.TERM_SEARCH)
    texts = sorted({t.strip() for t in terms or [] if t and t.strip()})
    if not texts:
        raise InvalidInput({"term": [gettext("検索語を入力してください。")]})
    if any(len(t) > TERM_MAX_LENGTH for t in texts):
        raise InvalidInput(
            {"term": [gettext("検索語は%(max)s文字以内で入力してください。") % {"max": TERM_MAX_LENGTH}]}
        )
    check_period(since, until)
    hashes = sorted(terms_hash_candidates(texts))
    with transaction.atomic():
        qs = AuditEvent.objects.filter(
            Q(details__q_hash__in=hashes)
            | Q(details__filters__tag_hash__in=hashes)
            | Q(details__username_hash__in=hashes)
        )
        qs = qs.filter(period_condition(since, until))
        page = keyset_page(qs, order=TERM_SEARCH_ORDER, limit=limit, cursor=cursor)
        details = {"purpose": "term_search", "count": len(page.items)}
        details.update(event_filters(since=since, until=until))
        audit_record(actor=actor, action=AuditAction.TERM_SEARCH, details=details)
    return page


# How many grants one look-up may name (a support meeting creates one share per attendee and client).
AUTHORISED_BY_MAX = 500


@officer_reads
def review_events_authorised_by(
    *, actor: AuditActor, authorised_by: list[str], cursor: str | None = None, limit: int = 50
) -> Page:
    """Audit events authorised by one of the given grants (``authorised_by`` as recorded: ``share:<id>``,
    ``break_glass:<id>``), newest first, one keyset page: what was done under a support meeting's shares. Audited as
    ``audit.view`` with the grants asked about and the number of events shown."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    grants = sorted({str(g) for g in authorised_by or [] if g})
    if len(grants) > AUTHORISED_BY_MAX:
        raise InvalidInput(
            {"authorised_by": [gettext("一度に照会できるのは%(max)s件までです。") % {"max": AUTHORISED_BY_MAX}]}
        )
    with transaction.atomic():
        if grants:
            qs = AuditEvent.objects.filter(authorised_by__in=grants)
            page = keyset_page(qs, order=EVENT_ORDER, limit=limit, cursor=cursor)
        else:
            page = Page(items=[], next_cursor=None, prev_cursor=None)
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            details={"purpose": "authorised_by", "authorised_by": grants[:50], "count": len(page.items)},
        )
    return page


# The privacy office's own work on the log (identifier look-ups, searches, flag reviews): ``audit.*``.
REVIEW_PREFIX = "audit."


@dataclass(frozen=True)
class ClientHistory:
    """Who accessed one client: one keyset page, newest first. By default (``everything`` false) only what other
    agencies did with the client's records (opening, reading, appending, correcting, sharing, break-glass;
    refused attempts included); ``hidden`` counts what that leaves out, by kind: ``review`` (the privacy
    office's own look-ups), ``listing`` (shown on a list or search page), ``own_agency`` (the reader's own
    agency's work) and ``other`` (anything else, such as a sign-in that named no client)."""

    page: Page
    everything: bool
    hidden: dict[str, int]

    @property
    def hidden_total(self) -> int:
        return sum(self.hidden.values())


@officer_reads
def review_client_history(
    *, actor: AuditActor, client_id: object, everything: bool = False, cursor: str | None = None, limit: int = 50
) -> ClientHistory:
    """The per-client history (see ``ClientHistory``). Counting the hidden events is one aggregate over the
    client's exposure index. Audited as ``audit.view`` with the client, the view chosen and the number shown."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    cid = client_uuid(client_id)
    review = Q(event__action__startswith=REVIEW_PREFIX)
    listing = Q(event__action__in=sorted(with_trait(Trait.LISTING)))
    case_data = Q(event__action__in=sorted(with_trait(Trait.CASE_DATA)))
    # The reader's own agency (none for an officer without one: "" is the system's, which stays in view).
    own = Q(event__actor_agency_code=getattr(actor, "agency_code", "") or "") & ~Q(event__actor_agency_code="")
    focus = case_data & ~listing & ~review & ~own
    exposures = AuditExposure.objects.filter(client_id=cid)
    with transaction.atomic():
        qs = exposures if everything else exposures.filter(focus)
        keyed = keyset_page(qs, order=EXPOSURE_ORDER, limit=limit, cursor=cursor)
        by_seq = AuditEvent.objects.in_bulk([x.event_id for x in keyed.items])
        page = Page(
            items=[by_seq[x.event_id] for x in keyed.items if x.event_id in by_seq],
            next_cursor=keyed.next_cursor,
            prev_cursor=keyed.prev_cursor,
        )
        hidden = exposures.aggregate(
            review=Count("pk", filter=review),
            listing=Count("pk", filter=listing & ~review),
            own_agency=Count("pk", filter=own & ~listing & ~review),
            other=Count("pk", filter=~case_data & ~listing & ~review & ~own),
        )
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            details={
                "purpose": "client_history",
                "filters": {"client": str(cid)},
                "all": bool(everything),
                "count": len(page.items),
            },
        )
    return ClientHistory(page=page, everything=bool(everything), hidden={k: int(v or 0) for k, v in hidden.items()})
