"""照会 (inquiries): one agency sharing a client asks other agencies sharing it a question; they answer in a thread.

Everything follows the client's permissions (PRODUCT §6.1): an inquiry is seen only by its sender and addressee
agencies, and only while that agency itself holds an active share of the client (emergency access is personal and
opens no agency's correspondence). To anyone else it is "not found", exactly like a missing one, and the attempt is
audited as denied (``inquiry_access``). Asking and replying need ``append`` and a staff role, like writing an entry.

Each write leaves a system entry of kind ``inquiry`` on the client's timeline (the event and ids in
``event_params``, the words in ``body``), its audit event, and an announcement through the outbox to the other
side only (ids only): the addressees when asked and closed, the other side when replied.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Agency
from audit.refusals import refusals_audited
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from ..access import Access, Denied, check_access, client_access, level_at_least, writes_entries
from ..actions import CaseAction, Topic
from ..inquiry_views import InquiryView
from ..models import Inquiry, InquiryAddressee, InquiryReply, InquiryStatus, Share, ShareLevel, TimelineEntry
from ..outbox import outbox_enqueue
from ..timeline_events import inquiry_asked_event, inquiry_closed_event, inquiry_replied_event
from .side_effects import system_entry
from .validation import MAX_BODY, clean_text, parse_date

MAX_SUBJECT = Inquiry._meta.get_field("subject").max_length or 200
MAX_ADDRESSEES = 20


@dataclass(frozen=True)
class InquiryAccess:
    """An inquiry the actor's agency may see: it is a party, and its own share lets it see the client."""

    inquiry: Inquiry
    access: Access
    is_sender: bool
    is_addressee: bool

    @property
    def level(self) -> str:
        return self.access.level


def check_inquiry_access(actor: Actor, inquiry_id: object, *, lock: bool = False) -> InquiryAccess:
    """The inquiry and the share that lets ``actor``'s agency see it, or ``Denied`` (always not found: the caller
    cannot tell a hidden inquiry from a missing one)."""
    agency = actor.agency
    if agency is None:
        raise Denied("no_agency", NotFound())
    if not actor.reads_cases:
        raise Denied("privacy_officer", NotFound())
    pk = parse_uuid(inquiry_id)
    if pk is None:
        raise Denied("not_found", NotFound())
    inquiries = Inquiry.objects.select_related("client__owner_agency", "from_agency", "author__staff")
    if lock:
        inquiries = inquiries.select_for_update(of=("self",))
    inquiry = inquiries.filter(pk=pk).first()
    if inquiry is None:
        raise Denied("not_found", NotFound())
    is_sender = inquiry.from_agency_id == agency.pk
    is_addressee = InquiryAddressee.objects.filter(inquiry=inquiry, agency=agency).exists()
    if not (is_sender or is_addressee):
        raise Denied("not_inquiry_party", NotFound())
    access = check_access(actor, inquiry.client_id, ShareLevel.READ)
    if access.share is None:  # seen only through the actor's own emergency access: not the agency's correspondence
        raise Denied("no_share", NotFound())
    return InquiryAccess(inquiry=inquiry, access=access, is_sender=is_sender, is_addressee=is_addressee)


@contextmanager
def inquiry_access(*, actor: Actor, inquiry_id: object, action: str, lock: bool = False) -> Iterator[InquiryAccess]:
    """``check_inquiry_access`` and the block in one transaction; a refusal is audited (denied) and re-raised."""
    with (
        refusals_audited(actor=actor, action=action, target_type="inquiry", target_id=inquiry_id),
        transaction.atomic(),
    ):
        yield check_inquiry_access(actor, inquiry_id, lock=lock)


def require_inquiry_writer(actor: Actor, level: str) -> None:
    """Writing in an inquiry (asking, replying, closing) needs ``append`` and a staff role, like an entry."""
    if not level_at_least(level, ShareLevel.APPEND):
        raise Denied(
            "insufficient_level", Forbidden(gettext("照会の送信・回答には「閲覧・追記」以上の共有が必要です。"))
        )
    if not writes_entries(actor):
        raise Denied("no_role", Forbidden())


def inquiry_view(actor: Actor, inquiry: Inquiry, level: str) -> InquiryView:
    """The inquiry with its addressees and thread, as ``actor`` sees it (no access check, no audit)."""
    addressees = [a.agency for a in InquiryAddressee.objects.filter(inquiry=inquiry).select_related("agency")]
    replies = list(InquiryReply.objects.filter(inquiry=inquiry).select_related("agency", "author__staff"))
    return InquiryView.of(inquiry, viewer=actor, level=level, addressees=addressees, replies=replies)


def _announce(topic: str, *, inquiry: Inquiry, agency: Agency, entry: TimelineEntry, recipients: list[int]) -> None:
    """Tell the other side (``recipients``: agency ids), after commit, through the outbox (ids only)."""
    outbox_enqueue(
        topic=topic,
        payload={
            "client_id": str(inquiry.client_id),
            "entry_id": str(entry.pk),
            "agency_id": agency.pk,
            "inquiry_id": str(inquiry.pk),
            "recipient_agency_ids": sorted(recipients),
        },
    )


def _clean_due_on(value: object, today: date, errors: dict[str, list[str]]) -> date | None:
    if value in (None, ""):
        return None
    value = parse_date(value)
    if value is None:
        errors["due_on"] = [gettext("回答期限は YYYY-MM-DD の形式で入力してください。")]
        return None
    if value < today:
        errors["due_on"] = [gettext("回答期限に過去の日付は指定できません。")]
        return None
    if value.year > 2999:
        errors["due_on"] = [gettext("回答期限が正しくありません。")]
        return None
    return value


def _clean_to(to: object, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(to, list | tuple) or not all(isinstance(code, str) for code in to):
        errors["to"] = [gettext("宛先は機関コードのリストで指定してください。")]
        return []
    codes = list(dict.fromkeys(code.strip() for code in to if code.strip()))
    if not codes:
        errors["to"] = [gettext("宛先の機関を1つ以上選んでください。")]
    elif len(codes) > MAX_ADDRESSEES:
        errors["to"] = [gettext("宛先は%(max)s機関までです。") % {"max": MAX_ADDRESSEES}]
    return codes


def inquiry_create(
    *, actor: Actor, client_id: object, to: object, subject: object, body: object, due_on: object = None
) -> InquiryView:
    """Ask agencies that share the client (``to``: their codes) a question. Needs ``append`` on the client and a
    staff role; each addressee must hold an active share of the client and be another agency."""
    errors: dict[str, list[str]] = {}
    codes = _clean_to(to, errors)
    subject_text = clean_text(subject, "subject", limit=MAX_SUBJECT, errors=errors, single_line=True)
    body_text = clean_text(body, "body", limit=MAX_BODY, errors=errors)
    now = actor.now()
    due = _clean_due_on(due_on, timezone.localdate(now), errors)
    if errors:
        raise InvalidInput(errors)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.APPEND, action=CaseAction.INQUIRY_CREATE
    ) as access:
        require_inquiry_writer(actor, access.level)
        if access.share is None:  # cannot happen (break-glass reads only), but never trust it
            raise Denied("no_share", NotFound())
        client = access.client
        sharing = {
            s.agency.code: s.agency
            for s in Share.objects.filter(client=client)
            .active(now)
            .filter(agency__code__in=codes)
            .select_related("agency")
        }
        problems = []
        for code in codes:
            if code == access.agency.code:
                problems.append(gettext("自機関には照会できません。"))
            elif code not in sharing:
                problems.append(gettext("機関 %(code)s はこの支援対象者を共有していません。") % {"code": code})
        if problems:
            raise InvalidInput({"to": problems})
        addressees = [sharing[code] for code in codes]
        inquiry = Inquiry.objects.create(
            client=client,
            from_agency=access.agency,
            author=actor.account,
            subject=subject_text,
            body=body_text,
            due_on=due,
            created_at=now,
        )
        InquiryAddressee.objects.bulk_create([InquiryAddressee(inquiry=inquiry, agency=a) for a in addressees])
        entry = system_entry(
            actor=actor,
            agency=access.agency,
            client=client,
            event=inquiry_asked_event(inquiry=inquiry, to=addressees),
            body=f"{subject_text}\n{body_text}",
        )
        inquiry.entry = entry
        inquiry.save(update_fields=["entry"])
        audit_record(
            actor=actor,
            action=CaseAction.INQUIRY_CREATE,
            client_ids=[client.pk],
            target_type="inquiry",
            target_id=inquiry.pk,
            authorised_by=access.authorised_by,
            details={"to": codes, "entry": str(entry.pk), "due_on": due.isoformat() if due else None},
        )
        _announce(
            Topic.INQUIRY_CREATE,
            inquiry=inquiry,
            agency=access.agency,
            entry=entry,
            recipients=[a.pk for a in addressees],
        )
        view = InquiryView.of(inquiry, viewer=actor, level=access.level, addressees=addressees, replies=[])
    return view


def inquiry_reply(*, actor: Actor, inquiry_id: object, body: object) -> InquiryView:
    """Reply in the thread (the sender agency or an addressee, ``append`` and a staff role). An addressee's reply
    makes an open inquiry ``answered``; a closed inquiry takes no more replies."""
    errors: dict[str, list[str]] = {}
    text = clean_text(body, "body", limit=MAX_BODY, errors=errors)
    if errors:
        raise InvalidInput(errors)
    with inquiry_access(actor=actor, inquiry_id=inquiry_id, action=CaseAction.INQUIRY_REPLY, lock=True) as found:
        require_inquiry_writer(actor, found.level)
        inquiry = found.inquiry
        if inquiry.status == InquiryStatus.CLOSED:
            raise InvalidInput({"inquiry": [gettext("この照会は終了しているため、回答できません。")]})
        now = actor.now()
        agency = found.access.agency
        # Replies are append-only: the entry is written first, and the reply made with it.
        reply = InquiryReply(inquiry=inquiry, agency=agency, author=actor.account, body=text, created_at=now)
        entry = system_entry(
            actor=actor,
            agency=agency,
            client=inquiry.client,
            event=inquiry_replied_event(inquiry=inquiry, reply=reply),
            body=text,
        )
        reply.entry = entry
        reply.save(force_insert=True)
        answered = found.is_addressee and not found.is_sender and inquiry.status == InquiryStatus.OPEN
        if answered:
            inquiry.status, inquiry.answered_at = InquiryStatus.ANSWERED, now
            inquiry.save(update_fields=["status", "answered_at"])
        audit_record(
            actor=actor,
            action=CaseAction.INQUIRY_REPLY,
            client_ids=[inquiry.client_id],
            target_type="inquiry",
            target_id=inquiry.pk,
            authorised_by=found.access.authorised_by,
            details={"reply": str(reply.pk), "entry": str(entry.pk), "status": inquiry.status},
        )
        if found.is_sender:
            recipients = list(InquiryAddressee.objects.filter(inquiry=inquiry).values_list("agency_id", flat=True))
        else:
            recipients = [inquiry.from_agency_id]
        _announce(Topic.INQUIRY_REPLY, inquiry=inquiry, agency=agency, entry=entry, recipients=recipients)
        view = inquiry_view(actor, inquiry, found.level)
    return view


def inquiry_close(*, actor: Actor, inquiry_id: object) -> InquiryView:
    """Close the inquiry (the sender agency only, ``append`` and a staff role): no more replies. An addressee is
    refused (Forbidden); anyone else finds nothing."""
    with inquiry_access(actor=actor, inquiry_id=inquiry_id, action=CaseAction.INQUIRY_CLOSE, lock=True) as found:
        if not found.is_sender:
            raise Denied("not_inquiry_sender", Forbidden(gettext("照会を終了できるのは、照会した機関のみです。")))
        require_inquiry_writer(actor, found.level)
        inquiry = found.inquiry
        if inquiry.status == InquiryStatus.CLOSED:
            raise InvalidInput({"inquiry": [gettext("この照会はすでに終了しています。")]})
        now = actor.now()
        agency = found.access.agency
        entry = system_entry(
            actor=actor, agency=agency, client=inquiry.client, event=inquiry_closed_event(inquiry=inquiry)
        )
        inquiry.status, inquiry.closed_at, inquiry.closed_by = InquiryStatus.CLOSED, now, actor.account
        inquiry.save(update_fields=["status", "closed_at", "closed_by"])
        audit_record(
            actor=actor,
            action=CaseAction.INQUIRY_CLOSE,
            client_ids=[inquiry.client_id],
            target_type="inquiry",
            target_id=inquiry.pk,
            authorised_by=found.access.authorised_by,
            details={"entry": str(entry.pk)},
        )
        recipients = list(InquiryAddressee.objects.filter(inquiry=inquiry).values_list("agency_id", flat=True))
        _announce(Topic.INQUIRY_CLOSE, inquiry=inquiry, agency=agency, entry=entry, recipients=recipients)
        view = inquiry_view(actor, inquiry, found.level)
    return view
