"""Reads of 照会 (inquiries): the boxes, one inquiry, the header's count. Each checks access and records its audit
event in the same transaction, like ``cases.selectors``.

An agency sees an inquiry only while it is a party (its sender or an addressee) *and* holds an active share of the
client: the boxes and the count never include an inquiry about a client the agency cannot see now, and opening one
is refused as not found (``cases.services.inquiries.inquiry_access``)."""

from datetime import date

from django.db import transaction
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Staff
from audit.services import audit_record
from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page

from .access import visible_clients
from .actions import CaseAction
from .inquiry_views import InquiryView
from .models import Inquiry, InquiryAddressee, InquiryReply, InquiryStatus
from .services.inquiries import inquiry_access, inquiry_view


class Box:
    RECEIVED = "received"  # 受信照会: addressed to the caller's agency
    SENT = "sent"  # 送信照会: sent by it

    values = (RECEIVED, SENT)


class InquirySort:
    NEWEST = "newest"  # the API: newest first
    DUE = "due"  # the browser's boxes: open ones first, then the oldest due date first (none last), then oldest

    values = (NEWEST, DUE)


ORDERS = {
    InquirySort.NEWEST: [("created_at", True), ("id", True)],
    InquirySort.DUE: [("open_rank", False), ("due_key", False), ("created_at", False), ("id", False)],
}
NO_DUE_DATE = date(9999, 12, 31)


def inquiry_list_errors(*, box: str, status: str = "", sort: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if box not in Box.values:
        errors["box"] = [gettext("表示する照会の指定が不正です: %(value)s") % {"value": box}]
    if status and status not in InquiryStatus.values:
        errors["status"] = [gettext("状態が不正です: %(value)s") % {"value": status}]
    if sort and sort not in InquirySort.values:
        errors["sort"] = [gettext("並び順が不正です: %(value)s") % {"value": sort}]
    return errors


def _seen(actor: Actor) -> QuerySet | None:
    """The clients the actor's agency sees through its own shares (no emergency access), or None: nothing."""
    if actor.agency is None or not actor.reads_cases:
        return None
    return visible_clients(actor.agency)


def _box(actor: Actor, box: str) -> QuerySet[Inquiry]:
    assert actor.agency is not None
    if box == Box.SENT:
        return Inquiry.objects.filter(from_agency=actor.agency)
    received = InquiryAddressee.objects.filter(agency=actor.agency).values("inquiry_id")
    return Inquiry.objects.filter(pk__in=received)


def inquiry_list(
    *,
    actor: Actor,
    box: str,
    status: str = "",
    sort: str = InquirySort.NEWEST,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of the agency's 受信照会 (``received``) or 送信照会 (``sent``), optionally of one ``status``.
    Audited as ``inquiry.list`` with the ids of the clients the page names."""
    sort = sort or InquirySort.NEWEST
    errors = inquiry_list_errors(box=box, status=status, sort=sort)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        seen = _seen(actor)
        if seen is None:
            page = Page(items=[], next_cursor=None, prev_cursor=None)
        else:
            qs = _box(actor, box).filter(client_id__in=seen.values("pk"))
            if status:
                qs = qs.filter(status=status)
            qs = qs.annotate(
                open_rank=Case(
                    When(status=InquiryStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
                ),
                due_key=Coalesce("due_on", Value(NO_DUE_DATE)),
            )
            qs = qs.select_related("client", "from_agency", "author__staff").prefetch_related(
                Prefetch("addressees", queryset=InquiryAddressee.objects.select_related("agency")),
                Prefetch(
                    "replies",
                    queryset=InquiryReply.objects.select_related("agency", "author").prefetch_related(
                        Prefetch("author__staff", queryset=Staff.objects.all())
                    ),
                ),
            )
            raw = keyset_page(qs, order=ORDERS[sort], limit=limit, cursor=cursor)
            client_ids = list(dict.fromkeys(i.client_id for i in raw.items))
            levels = dict(seen.filter(pk__in=client_ids).values_list("pk", "my_level")) if client_ids else {}
            items = [
                InquiryView.of(
                    i,
                    viewer=actor,
                    level=levels[i.client_id],
                    addressees=[a.agency for a in i.addressees.all()],
                    replies=list(i.replies.all()),
                )
                for i in raw.items
                if i.client_id in levels
            ]
            page = Page(items=items, next_cursor=raw.next_cursor, prev_cursor=raw.prev_cursor)
        exposed = list(dict.fromkeys(i.client_id for i in page.items))
        audit_record(
            actor=actor,
            action=CaseAction.INQUIRY_LIST,
            client_ids=exposed,
            details={"box": box, "status": status, "count": len(page.items)},
        )
    return page


def inquiry_detail(*, actor: Actor, inquiry_id: object) -> InquiryView:
    """One inquiry with its thread, for its sender or an addressee agency that sees the client (else not found).
    Audited as ``inquiry.view``."""
    with inquiry_access(actor=actor, inquiry_id=inquiry_id, action=CaseAction.INQUIRY_VIEW) as found:
        view = inquiry_view(actor, found.inquiry, found.level)
        audit_record(
            actor=actor,
            action=CaseAction.INQUIRY_VIEW,
            client_ids=[found.inquiry.client_id],
            target_type="inquiry",
            target_id=found.inquiry.pk,
            authorised_by=found.access.authorised_by,
        )
    return view


def open_received_inquiry_count(actor: Actor) -> int:
    """How many inquiries addressed to the actor's agency await an answer, about clients it sees now: the header's
    badge. One query; a count of the agency's own correspondence (no client named), so nothing to audit."""
    seen = _seen(actor)
    if seen is None:
        return 0
    return _box(actor, Box.RECEIVED).filter(status=InquiryStatus.OPEN, client_id__in=seen.values("pk")).count()
