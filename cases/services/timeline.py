"""Appending to a client's timeline. Nothing on it is updated in place: a correction is a new entry pointing at the
one it corrects."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, Unavailable
from tsunagu.ids import parse_uuid

from .. import attachments as files_
from ..access import Access, Denied, client_access, is_own_entry, writes_entries
from ..actions import CaseAction, Topic
from ..models import USER_ENTRY_KINDS, Attachment, AttachmentBlob, ShareLevel, TimelineEntry
from ..read_models import AttachmentView, EntryView
from .side_effects import announce
from .validation import FUTURE_TOLERANCE, MAX_BODY


def timeline_append(
    *,
    actor: Actor,
    client_id: object,
    kind: str,
    body: str,
    occurred_at: datetime | None = None,
    corrects: object = None,
    files: Sequence[files_.Incoming] = (),
) -> EntryView:
    """Append an entry (``append`` level). With ``corrects``, a correction of one of the agency's own entries.

    ``files`` are attached to it (``cases.attachments``): checked (count, sizes, type by content), cleaned (images
    lose their metadata), scanned and stored encrypted before the entry is written, each with an
    ``attachment.upload`` event in the same transaction. A refused file refuses the whole entry: nothing is
    written, and what was already stored is removed."""
    errors: dict[str, list[str]] = {}
    files = list(files)
    if files:
        problems = files_.check(files)
        if problems:
            errors["files"] = problems
    if kind not in USER_ENTRY_KINDS:
        errors["kind"] = [gettext("記録の種類が不正です: %(value)s") % {"value": kind}]
    body = (body or "").strip()
    if not body:
        errors["body"] = [gettext("内容を入力してください。")]
    elif len(body) > MAX_BODY:
        errors["body"] = [gettext("内容は%(max)s文字以内で入力してください。") % {"max": MAX_BODY}]
    now = actor.now()
    if occurred_at is None:
        occurred_at = now
    elif not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        errors["occurred_at"] = [gettext("日時はタイムゾーン付きで指定してください。")]
    elif occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [gettext("未来の日時は指定できません。")]
    elif occurred_at.year < 1900:
        errors["occurred_at"] = [gettext("日時が正しくありません。")]
    corrects_id = None
    if corrects not in (None, ""):
        corrects_id = parse_uuid(corrects)
        if corrects_id is None:
            errors["corrects"] = [gettext("訂正対象の記録が見つかりません。")]
    if errors:
        raise InvalidInput(errors)
    action = CaseAction.TIMELINE_CORRECT if corrects_id else CaseAction.TIMELINE_APPEND
    stored: list[str] = []  # storage names written so far, removed again if the entry is not committed
    try:
        with client_access(actor=actor, client_id=client_id, need=ShareLevel.APPEND, action=action) as access:
            if not writes_entries(actor):
                raise Denied("no_role", Forbidden())
            target = None
            if corrects_id:
                target = TimelineEntry.objects.filter(pk=corrects_id, client=access.client).first()
                if target is None:
                    raise InvalidInput({"corrects": [gettext("訂正対象の記録が見つかりません。")]})
                # An entry the services wrote (kind ``meeting`` for a 支援会議's minutes included) is not corrected
                # here: minutes are corrected by a new version (``meeting_minutes_record``).
                if target.kind not in USER_ENTRY_KINDS or target.event:
                    raise InvalidInput({"corrects": [gettext("システムの記録は訂正できません。")]})
                if not is_own_entry(actor, target.agency_id):
                    raise Denied("not_own_entry", Forbidden(gettext("自機関の記録のみ訂正できます。")))
            prepared = _prepare(files)
            try:
                entry = TimelineEntry.objects.create(
                    client=access.client,
                    kind=kind,
                    occurred_at=occurred_at,
                    body=body,
                    author=actor.account,
                    agency=access.agency,
                    recorded_at=now,
                    corrects=target,
                )
                audit_record(
                    actor=actor,
                    action=action,
                    client_ids=[access.client.pk],
                    target_type="entry",
                    target_id=entry.pk,
                    authorised_by=access.authorised_by,
                    details={
                        "kind": kind,
                        "corrects": str(target.pk) if target else None,
                        **({"attachments": len(prepared)} if prepared else {}),
                    },
                )
                views = _attach(actor, access, entry, prepared, stored)
            finally:
                for item in prepared:
                    item.close()
            topic = Topic.TIMELINE_CORRECT if corrects_id else Topic.TIMELINE_APPEND
            announce(topic, client=access.client, agency=access.agency, entry=entry)
    except BaseException:  # refused, failed or not committed: the files stored for it go too
        files_.discard(stored)
        raise
    entry.agency = access.agency
    entry.author = actor.account
    return EntryView.of(entry, [], viewer=actor, level=access.level, attachments=views)


def _prepare(files: list[files_.Incoming]) -> list[files_.Prepared]:
    """Clean and scan every file, after the access check and before anything is written. A refusal names the
    file; a scanner out of reach refuses the upload (nothing is stored unscanned)."""
    prepared: list[files_.Prepared] = []
    try:
        for incoming in files:
            prepared.append(files_.prepare(incoming))
    except files_.Rejected as exc:
        for item in prepared:
            item.close()
        raise InvalidInput({"files": [exc.message]}) from None
    except files_.Unavailable:
        for item in prepared:
            item.close()
        raise Unavailable(
            gettext(
                "ファイルの確認（ウイルス検査）を行えないため、添付できません。しばらくしてから再度お試しください。"
            )
        ) from None
    return prepared


def _attach(
    actor: Actor, access: Access, entry: TimelineEntry, prepared: list[files_.Prepared], stored: list[str]
) -> tuple[AttachmentView, ...]:
    """Store each prepared file encrypted and record it on ``entry`` (``attachment.upload`` per file)."""
    views = []
    for position, item in enumerate(prepared):
        attachment_id = uuid.uuid4()
        try:
            blob = files_.store(item, attachment_id=attachment_id)
        except files_.Unavailable:
            raise Unavailable(gettext("ファイルを保存できませんでした。しばらくしてから再度お試しください。")) from None
        stored.extend(name for name in (blob.storage_name, blob.thumbnail_name) if name)
        attachment = Attachment.objects.create(
            id=attachment_id,
            entry=entry,
            client=access.client,
            position=position,
            filename=item.filename,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            has_thumbnail=bool(blob.thumbnail_name),
            agency=access.agency,
            uploaded_by=actor.account,
            created_at=entry.recorded_at,
        )
        attachment.blob = AttachmentBlob.objects.create(
            attachment=attachment,
            storage_name=blob.storage_name,
            thumbnail_name=blob.thumbnail_name,
            key_id=blob.key_id,
            wrapped_key=blob.wrapped_key,
        )
        # No file name in the log: it may name the person; the officer's view of the client resolves the id.
        audit_record(
            actor=actor,
            action=CaseAction.ATTACHMENT_UPLOAD,
            client_ids=[access.client.pk],
            target_type="attachment",
            target_id=attachment.pk,
            authorised_by=access.authorised_by,
            details={
                "entry": str(entry.pk),
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
            },
        )
        views.append(AttachmentView.of(attachment, client=access.client, viewer=actor))
    return tuple(views)
