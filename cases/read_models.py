"""Read models handed to adapters: plain data, already masked, never a model instance to save.

They carry what the viewer may do (``can_*``), decided by the rules the services enforce (``cases.access``), so an
adapter never works it out from roles and levels itself.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.people import person_name

from .access import attachment_masked, may_append, may_correct, may_edit_client, may_manage_shares
from .assignees import AssigneeView
from .models import USER_ENTRY_KINDS, Attachment, Client, ImportedEntry, Share, TimelineEntry
from .timeline_events import entry_text, inquiry_of


@dataclass(frozen=True)
class ClientView:
    id: UUID
    case_number: str
    name: str
    name_kana: str
    birth_date: date
    address: str | None  # None when confidential and the viewer's agency is not the owner
    address_masked: bool
    phone: str
    tags: list[str]
    status: str
    owner_agency_code: str
    owner_agency_name: str
    address_confidential: bool
    my_level: str
    updated_at: datetime
    created_at: datetime
    can_append: bool  # the viewer may add entries (and correct their agency's own)
    can_manage_shares: bool  # the viewer may open the sharing page and change the shares
    can_edit: bool  # the viewer may change the profile (基本情報を編集) and the status (状態を変更)
    # When the newest timeline entry happened (lists annotate it; None when not loaded or no entry yet).
    latest_entry_at: datetime | None = None
    # 担当者 of every sharing agency, the viewer's first (lists and the client page load them; empty otherwise).
    assignees: tuple[AssigneeView, ...] = ()
    # The viewer may change their agency's 担当者 (the client page sets it; False elsewhere).
    can_assign: bool = False
    # Seen only through the viewer's emergency access, which ends then (lists set it; None otherwise).
    emergency_until: datetime | None = None

    @property
    def via_break_glass(self) -> bool:
        """Seen only through the viewer's emergency access (the page's 緊急アクセス中 banner, the list's marker)."""
        return self.emergency_until is not None

    @property
    def own_assignees(self) -> list[AssigneeView]:
        return [a for a in self.assignees if a.own_agency]

    @classmethod
    def of(
        cls,
        client: Client,
        *,
        level: str,
        viewer: Actor,
        assignees: list[AssigneeView] | None = None,
        can_assign: bool = False,
        emergency_until: datetime | None = None,
    ) -> "ClientView":
        """``client`` as ``viewer`` sees it at ``level`` (the viewer's agency's access)."""
        viewer_agency_id = viewer.agency.pk if viewer.agency is not None else None
        masked = client.address_confidential and client.owner_agency_id != viewer_agency_id
        return cls(
            id=client.id,
            case_number=client.case_number,
            name=client.name,
            name_kana=client.name_kana,
            birth_date=client.birth_date,
            address=None if masked else client.address,
            address_masked=masked,
            phone=client.phone,
            tags=list(client.tags or []),
            status=client.status,
            owner_agency_code=client.owner_agency.code,
            owner_agency_name=client.owner_agency.name,
            address_confidential=client.address_confidential,
            my_level=level,
            updated_at=client.updated_at,
            created_at=client.created_at,
            can_append=may_append(viewer, level),
            can_manage_shares=may_manage_shares(viewer, level),
            can_edit=may_edit_client(level),
            latest_entry_at=getattr(client, "latest_entry_at", None),
            assignees=tuple(assignees or ()),
            can_assign=can_assign,
            emergency_until=emergency_until,
        )


@dataclass(frozen=True)
class OpenGrantView:
    """One of the viewer's own open break-glass grants: which client (by id only) and until when."""

    client_id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class AttachmentView:
    """A file on an entry as a viewer sees it. ``masked``: the client's address is confidential and the viewer's
    agency is neither its owner nor the uploader, so the name is withheld and the file is not served (a photo or a
    form may show where the person lives). ``available``: the content is still stored (not removed by
    retention)."""

    id: UUID
    entry_id: UUID
    client_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    has_thumbnail: bool
    masked: bool = False
    available: bool = True

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/jpeg", "image/png")

    @property
    def previewable(self) -> bool:
        """Shown in the browser from this origin (images and PDF)."""
        return self.is_image or self.content_type == "application/pdf"

    @classmethod
    def of(cls, attachment: Attachment, *, client: Client, viewer: Actor) -> "AttachmentView":
        """``attachment`` (its ``blob`` loaded) as ``viewer`` sees it on ``client`` (the entry's client)."""
        masked = attachment_masked(viewer, client, uploader_agency_id=attachment.agency_id)
        blob = getattr(attachment, "blob", None)
        return cls(
            id=attachment.id,
            entry_id=attachment.entry_id,
            client_id=attachment.client_id,
            filename="" if masked else attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
            has_thumbnail=attachment.has_thumbnail and not masked,
            masked=masked,
            available=blob is not None and blob.purged_at is None,
        )


@dataclass(frozen=True)
class EntryView:
    id: UUID
    client_id: UUID
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    body: str
    author_username: str
    author_display_name: str
    agency_code: str
    agency_name: str
    corrects: UUID | None
    corrected_by: list[UUID]
    can_correct: bool  # the viewer may write a correction of this entry
    inquiry_id: str | None = None  # an entry of kind ``inquiry``: the inquiry it belongs to (its page)
    attachments: tuple[AttachmentView, ...] = ()  # its files, in the order they were added
    imported_from: str = ""  # the system it was moved in from ("kintone"), with its original date and author

    @property
    def is_system(self) -> bool:
        return self.kind not in USER_ENTRY_KINDS  # written by the services, not by a person

    @classmethod
    def of(
        cls,
        entry: TimelineEntry,
        corrected_by: list[UUID],
        *,
        viewer: Actor,
        level: str,
        attachments: "tuple[AttachmentView, ...]" = (),
        origin: "ImportedEntry | None" = None,
    ) -> "EntryView":
        """``entry`` as ``viewer`` sees it at ``level`` (the viewer's agency's access to its client). ``origin``:
        where an imported entry came from; an author there who is no Tsunagu user is shown by the name kept."""
        author = entry.author
        staff = getattr(author, "staff", None) if author is not None else None
        kept_name = origin.author_name if origin is not None and author is None else ""
        return cls(
            id=entry.id,
            client_id=entry.client_id,
            kind=entry.kind,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            body=entry_text(entry),
            author_username=author.get_username() if author else ("" if origin is not None else "system"),
            author_display_name=kept_name
            or (staff.display_name if staff else "")
            or (gettext("システム") if author is None and origin is None else ""),
            agency_code=entry.agency.code if entry.agency else "",
            agency_name=entry.agency.name if entry.agency else "",
            corrects=entry.corrects_id,
            corrected_by=corrected_by,
            can_correct=not entry.event and may_correct(viewer, level, kind=entry.kind, agency_id=entry.agency_id),
            inquiry_id=inquiry_of(entry),
            attachments=attachments,
            imported_from=origin.source if origin is not None else "",
        )


@dataclass(frozen=True)
class ShareView:
    id: UUID
    client_id: UUID
    agency_code: str
    agency_name: str
    level: str
    basis: str
    basis_note: str
    granted_by: str  # the user name (the API's field)
    granted_by_name: str  # the person's name, for people to read (agencies.people)
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    is_owner: bool
    is_active: bool
    pending: bool = False  # a 支援会議's share awaiting the agency's confirmation of 守秘義務 (grants nothing yet)

    @property
    def granted_by_login(self) -> str:
        """The user name to show beside the name (none for the system, nor when it is the name)."""
        return "" if self.granted_by in ("system", self.granted_by_name) else self.granted_by

    @classmethod
    def of(cls, share: Share, *, owner_agency_id: int) -> "ShareView":
        return cls(
            id=share.id,
            client_id=share.client_id,
            agency_code=share.agency.code,
            agency_name=share.agency.name,
            level=share.level,
            basis=share.basis,
            basis_note=share.basis_note,
            granted_by=share.granted_by.get_username() if share.granted_by else "system",
            granted_by_name=person_name(share.granted_by),
            granted_at=share.granted_at,
            expires_at=share.expires_at,
            revoked_at=share.revoked_at,
            is_owner=share.agency_id == owner_agency_id,
            is_active=share.is_active(),
            pending=share.pending and share.revoked_at is None,
        )


@dataclass(frozen=True)
class EndedShareView:
    """A share of the viewer's agency that ended: what the agency may still be told (no name, no profile)."""

    client_id: UUID  # for the audit's exposure index only; never a link (the client page is "not found")
    case_number: str
    ended_at: datetime
    reason: str  # "revoked" or "expired"
    ended_by_agency_name: str  # the agency whose supervisor revoked it; empty for an expiry
