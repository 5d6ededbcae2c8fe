"""照会 (inquiries) as their readers see them: read models built by ``cases.services.inquiries`` and
``cases.inquiry_selectors`` for an actor whose agency is a party (sender or addressee) and sees the client."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.utils import timezone

from agencies.actors import Actor
from agencies.people import person_name

from .access import may_append
from .models import Inquiry, InquiryReply, InquiryStatus


@dataclass(frozen=True)
class AgencyRef:
    code: str
    name: str


@dataclass(frozen=True)
class InquiryReplyView:
    id: UUID
    agency_code: str
    agency_name: str
    author_username: str
    author_display_name: str
    body: str
    created_at: datetime
    from_sender: bool  # written by the inquiry's sender agency (a follow-up), not an addressee (an answer)

    @classmethod
    def of(cls, reply: InquiryReply, *, sender_agency_id: int) -> "InquiryReplyView":
        return cls(
            id=reply.id,
            agency_code=reply.agency.code,
            agency_name=reply.agency.name,
            author_username=reply.author.get_username() if reply.author else "system",
            author_display_name=person_name(reply.author),
            body=reply.body,
            created_at=reply.created_at,
            from_sender=reply.agency_id == sender_agency_id,
        )


@dataclass(frozen=True)
class InquiryView:
    id: UUID
    client_id: UUID
    client_name: str  # the client as the reader sees it (only ever built while the reader's agency sees it)
    client_case_number: str
    from_agency_code: str
    from_agency_name: str
    to: tuple[AgencyRef, ...]
    author_username: str
    author_display_name: str
    subject: str
    body: str
    status: str
    due_on: date | None
    created_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    replies: tuple[InquiryReplyView, ...]
    entry_id: UUID | None  # the question's entry on the client's timeline
    is_sender: bool  # the reader's agency asked
    can_reply: bool  # the reader may add a reply (party, ``append`` and a staff role, not closed)
    can_close: bool  # the reader may close it (the sender agency, ``append`` and a staff role, not closed)

    @property
    def to_codes(self) -> list[str]:
        return [a.code for a in self.to]

    @property
    def to_names(self) -> str:
        return "、".join(a.name for a in self.to)

    @property
    def is_open(self) -> bool:
        return self.status == InquiryStatus.OPEN

    @property
    def is_overdue(self) -> bool:
        """Past its due date and still awaiting an answer (期限超過)."""
        return self.is_open and self.due_on is not None and self.due_on < timezone.localdate()

    @classmethod
    def of(
        cls,
        inquiry: Inquiry,
        *,
        viewer: Actor,
        level: str,
        addressees: list,
        replies: list[InquiryReply] | None = None,
    ) -> "InquiryView":
        """``inquiry`` as ``viewer`` sees it, at ``level`` (the viewer's agency's share of the client);
        ``addressees`` are its addressee agencies (Agency rows)."""
        agency_id = viewer.agency.pk if viewer.agency is not None else None
        is_sender = inquiry.from_agency_id == agency_id
        writable = inquiry.status != InquiryStatus.CLOSED and may_append(viewer, level)
        return cls(
            id=inquiry.id,
            client_id=inquiry.client_id,
            client_name=inquiry.client.name,
            client_case_number=inquiry.client.case_number,
            from_agency_code=inquiry.from_agency.code,
            from_agency_name=inquiry.from_agency.name,
            to=tuple(AgencyRef(a.code, a.name) for a in sorted(addressees, key=lambda a: a.code)),
            author_username=inquiry.author.get_username() if inquiry.author else "system",
            author_display_name=person_name(inquiry.author),
            subject=inquiry.subject,
            body=inquiry.body,
            status=inquiry.status,
            due_on=inquiry.due_on,
            created_at=inquiry.created_at,
            answered_at=inquiry.answered_at,
            closed_at=inquiry.closed_at,
            replies=tuple(
                InquiryReplyView.of(r, sender_agency_id=inquiry.from_agency_id)
                for r in sorted(replies or [], key=lambda r: (r.created_at, str(r.id)))
            ),
            entry_id=inquiry.entry_id,
            is_sender=is_sender,
            can_reply=writable,
            can_close=writable and is_sender,
        )
