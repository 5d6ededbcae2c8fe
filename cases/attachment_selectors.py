"""Reading attachments: the permission-checked, audited path of every download and thumbnail.

An attachment is seen exactly by who sees its entry: ``read`` on its client through ``check_access``, so a hidden
attachment is "not found" like a missing one (the same lookups run for both). Before anything is handed out, the
content's SHA-256 is checked against the one recorded at upload (the encryption's tags prove each segment; the hash
proves the whole file is the one uploaded); a mismatch is reported (``attachment.integrity_failed``, the blob marked
failed) and nothing is served.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext

from agencies.actors import Actor
from audit.refusals import refusals_audited
from audit.services import audit_record
from tsunagu.errors import Forbidden, Gone, NotFound, Unavailable
from tsunagu.ids import parse_uuid

from . import attachments as files_
from .access import Denied, check_access
from .actions import CaseAction
from .models import Attachment, ShareLevel
from .read_models import AttachmentView
from .services.attachments import (
    FAILED_KEY,
    FAILED_MISSING,
    FAILED_THUMBNAIL,
    blob_ref,
    integrity_problem,
    is_missing,
    record_integrity_failure,
)


@dataclass(frozen=True)
class Download:
    """An attachment's content on its way out: the view (name, type, size, hash) and the decrypted chunks. The
    audit event is committed and the content's hash checked before this is returned."""

    attachment: AttachmentView
    content_type: str
    size: int
    chunks: Iterator[bytes]


def attachment_download(*, actor: Actor, attachment_id: object, inline: bool = False) -> Download:
    """The file (``read`` on its client). Audited ``attachment.download`` with the client id. NotFound for a
    hidden or missing attachment; Forbidden (audited) when the client's address is confidential and the actor's
    agency is neither the owner nor the uploader; Gone when retention removed it; Unavailable when its content
    does not match its hash (reported as ``attachment.integrity_failed``)."""
    attachment, view, _thumbnail = _open(
        actor, attachment_id, CaseAction.ATTACHMENT_DOWNLOAD, thumbnail=False, details={"inline": inline}
    )
    return Download(
        attachment=view,
        content_type=attachment.content_type,
        size=attachment.size,
        chunks=files_.read(blob_ref(attachment.blob)),
    )


def attachment_thumbnail(*, actor: Actor, attachment_id: object) -> Download:
    """The JPEG thumbnail of an image attachment, under the same rules; audited ``attachment.thumbnail``."""
    _attachment, view, data = _open(actor, attachment_id, CaseAction.ATTACHMENT_THUMBNAIL, thumbnail=True)
    return Download(attachment=view, content_type="image/jpeg", size=len(data), chunks=iter((data,)))


def _open(
    actor: Actor, attachment_id: object, action: str, *, thumbnail: bool, details: dict | None = None
) -> tuple[Attachment, AttachmentView, bytes]:
    """Check access, state and integrity, and record the read, in one transaction; a refusal is audited. Returns
    the attachment, its view and (``thumbnail``) the thumbnail's bytes, which are small and read here whole."""
    damaged: tuple[Attachment, str] | None = None  # the attachment and what failed, reported after the rollback
    thumbnail_bytes = b""
    try:
        with (
            refusals_audited(actor=actor, action=action, target_type="attachment", target_id=attachment_id),
            transaction.atomic(),
        ):
            pk = parse_uuid(attachment_id)
            attachment = Attachment.objects.select_related("blob").filter(pk=pk).first() if pk is not None else None
            # A missing attachment is looked up as a client of that id, which does not exist either: the same
            # statements run for a missing and a hidden attachment, and both end "not found".
            access = check_access(actor, attachment.client_id if attachment is not None else pk, ShareLevel.READ)
            if attachment is None:  # pragma: no cover - check_access found no client of the attachment's id
                raise Denied("not_found", NotFound())
            view = AttachmentView.of(attachment, client=access.client, viewer=actor)
            if view.masked:
                raise Denied(
                    "address_confidential",
                    Forbidden(gettext("住所秘匿の支援対象者の添付ファイルは、登録機関と添付した機関のみが開けます。")),
                )
            if thumbnail and not attachment.has_thumbnail:
                raise Denied("not_found", NotFound())
            blob = getattr(attachment, "blob", None)
            if blob is None or blob.purged_at is not None:
                raise Denied("attachment_purged", Gone())
            if blob.failed_at is not None:
                raise Denied("attachment_damaged", _damaged())
            failed = ""
            try:
                if thumbnail:
                    thumbnail_bytes = b"".join(files_.read(blob_ref(blob), thumbnail=True))
                else:
                    failed = integrity_problem(blob, attachment.sha256, thumbnail=False)
            except files_.UnknownKey:
                failed = FAILED_KEY
            except files_.Tampered as exc:
                failed = FAILED_MISSING if is_missing(exc) else FAILED_THUMBNAIL
            except files_.Unavailable:
                raise Unavailable(
                    gettext("ファイルの保管場所に接続できません。しばらくしてから再度お試しください。")
                ) from None
            if failed:
                damaged = (attachment, failed)
                raise Denied("attachment_damaged", _damaged())
            audit_record(
                actor=actor,
                action=action,
                client_ids=[access.client.pk],
                target_type="attachment",
                target_id=attachment.pk,
                authorised_by=access.authorised_by,
                details={
                    "entry": str(attachment.entry_id),
                    "sha256": attachment.sha256,
                    "size": attachment.size,
                    **(details or {}),
                },
            )
    finally:
        if damaged is not None:
            record_integrity_failure(actor=actor, attachment=damaged[0], failed=damaged[1], found_by=action)
    return attachment, view, thumbnail_bytes


def _damaged() -> Unavailable:
    return Unavailable(gettext("このファイルは整合性を確認できないため提供できません。管理者に連絡してください。"))
