"""Housekeeping of attachment files: the integrity check, retention and master-key rotation.

The operator's work (the periodic tasks and the commands; ``require_operator``), each audited: one
``attachment.integrity_failed`` event per file that failed, ``attachment.purge`` per client whose files retention
removed, and a summary event per run (``attachment.verify``, ``attachment.rekey``). Events carry ids, codes and
counts, never a file name (a name may say more about a person than an id does).

Uploads are part of ``timeline_append``; downloads are ``cases.attachment_selectors``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F

from agencies.actors import Actor
from agencies.services import require_operator
from audit.models import AuditEvent, Outcome
from audit.services import audit_record

from ..actions import CaseAction, CaseReason
from ..attachments import BlobRef, Tampered, Unavailable, UnknownKey, digest, discard, read, rewrap
from ..models import Attachment, AttachmentBlob, ClientStatus, SystemEvent, TimelineEntry

# What failed, as the audit event and the report name it.
FAILED_HASH = "hash"  # the content decrypts but its SHA-256 is not the one recorded at upload
FAILED_CONTENT = "content"  # the content does not decrypt (altered, cut short, wrong key)
FAILED_THUMBNAIL = "thumbnail"  # the thumbnail does not decrypt
FAILED_MISSING = "missing"  # the stored object is gone
FAILED_KEY = "key"  # the master key that wraps its file key is no longer in ATTACHMENT_KEYS


def blob_ref(blob: AttachmentBlob) -> BlobRef:
    """What the file pipeline needs of a blob row."""
    return BlobRef(
        attachment_id=blob.attachment_id,
        storage_name=blob.storage_name,
        thumbnail_name=blob.thumbnail_name,
        key_id=blob.key_id,
        wrapped_key=bytes(blob.wrapped_key),
    )


# --- integrity ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrityFailure:
    attachment_id: uuid.UUID
    client_id: uuid.UUID
    failed: str  # FAILED_*


@dataclass(frozen=True)
class VerifyReport:
    """One run of ``attachments_verify``: how many files were checked, which failed, and how many could not be
    read because the storage was out of reach (neither passed nor failed: checked again on the next run)."""

    checked: int
    passed: int
    failed: tuple[IntegrityFailure, ...] = ()
    unreachable: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreachable


def is_missing(exc: BaseException) -> bool:
    """Whether a ``Tampered`` is about a stored object that is gone (the storage's "no such file" behind it)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, FileNotFoundError):
            return True
        response = getattr(cause, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return True
        cause = cause.__cause__
    return False


def integrity_problem(blob: AttachmentBlob, sha256: str, *, thumbnail: bool = True) -> str:
    """ "" when the stored content (and, with ``thumbnail``, the thumbnail) decrypts and matches ``sha256``, else
    what failed (``FAILED_*``). Raises ``Unavailable`` when the storage cannot be reached."""
    ref = blob_ref(blob)
    try:
        if digest(ref) != sha256:
            return FAILED_HASH
    except UnknownKey:
        return FAILED_KEY
    except Tampered as exc:
        return FAILED_MISSING if is_missing(exc) else FAILED_CONTENT
    if thumbnail and blob.thumbnail_name:
        try:
            for _chunk in read(ref, thumbnail=True):
                pass
        except Tampered as exc:
            return FAILED_MISSING if is_missing(exc) else FAILED_THUMBNAIL
    return ""


def record_integrity_failure(*, actor: Actor, attachment: Attachment, failed: str, found_by: str) -> bool:
    """Mark the attachment's content failed (not served again until a check passes) and report it to the privacy
    officer as ``attachment.integrity_failed`` (what failed and what found it: a download, a thumbnail or the
    nightly check), in one transaction of its own. False when retention removed the file meanwhile."""
    with transaction.atomic():
        current = AttachmentBlob.objects.filter(pk=attachment.pk, purged_at=None)
        if not current.update(failed_at=actor.now()):
            return False
        audit_record(
            actor=actor,
            action=CaseAction.ATTACHMENT_INTEGRITY_FAILED,
            outcome=Outcome.ERROR,
            reason=CaseReason.ATTACHMENT_DAMAGED,
            client_ids=[attachment.client_id],
            target_type="attachment",
            target_id=attachment.pk,
            details={"entry": str(attachment.entry_id), "failed": failed, "found_by": str(found_by)},
        )
    return True


def attachments_verify(*, actor: Actor, limit: int | None = None) -> VerifyReport:
    """Check stored files against the SHA-256 recorded at upload, the longest unchecked first (``limit``: at most
    that many this run). A file that passes gets ``checked_at`` (and loses an earlier ``failed_at``: it was
    restored); one that does not decrypt, does not match or is gone gets ``failed_at`` and is not served from then
    on, each audited as ``attachment.integrity_failed`` in the same transaction. Files removed by retention are
    skipped. One summary event ``attachment.verify`` with the counts."""
    require_operator(actor, CaseAction.ATTACHMENT_VERIFY)
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    blobs = (
        AttachmentBlob.objects.filter(purged_at=None)
        .select_related("attachment")
        .order_by(F("checked_at").asc(nulls_first=True), "attachment__created_at", "attachment_id")
    )
    pending = blobs.values_list("attachment_id", flat=True)
    ids = list(pending[:limit] if limit else pending)
    passed = unreachable = 0
    failures: list[IntegrityFailure] = []
    for attachment_id in ids:
        blob = blobs.filter(attachment_id=attachment_id).first()
        if blob is None:  # purged meanwhile
            continue
        attachment = blob.attachment
        try:
            failed = integrity_problem(blob, attachment.sha256)
        except Unavailable:
            unreachable += 1
            continue
        now = actor.now()
        current = AttachmentBlob.objects.filter(pk=attachment_id, purged_at=None)  # retention may have run since
        if not failed:
            current.update(checked_at=now, failed_at=None)
            passed += 1
            continue
        if not record_integrity_failure(
            actor=actor, attachment=attachment, failed=failed, found_by=CaseAction.ATTACHMENT_VERIFY
        ):
            continue  # removed by retention meanwhile: its object is gone on purpose
        failures.append(IntegrityFailure(attachment_id=attachment_id, client_id=attachment.client_id, failed=failed))
    report = VerifyReport(
        checked=passed + len(failures), passed=passed, failed=tuple(failures), unreachable=unreachable
    )
    audit_record(
        actor=actor,
        action=CaseAction.ATTACHMENT_VERIFY,
        details={
            "checked": report.checked,
            "passed": report.passed,
            "failed": len(report.failed),
            "unreachable": report.unreachable,
            "failed_total": AttachmentBlob.objects.filter(purged_at=None).exclude(failed_at=None).count(),
        },
    )
    return report


@dataclass(frozen=True)
class IntegrityState:
    """What the dashboard and ``health`` say about the files: the last verification run (its time and counts,
    from its ``attachment.verify`` event; None before the first) and how many stored files are failed now."""

    last_run_at: datetime | None
    last_run: dict[str, int] = field(default_factory=dict)
    failed_now: int = 0

    @property
    def ok(self) -> bool:
        return self.failed_now == 0 and not self.last_run.get("unreachable")


def attachment_integrity_state() -> IntegrityState:
    """The integrity state of the stored files (counts and times only, nothing about any client)."""
    last = AuditEvent.objects.filter(action=CaseAction.ATTACHMENT_VERIFY).order_by("-seq").first()
    failed_now = AttachmentBlob.objects.filter(purged_at=None).exclude(failed_at=None).count()
    if last is None:
        return IntegrityState(last_run_at=None, failed_now=failed_now)
    counts = {k: int(v) for k, v in (last.details or {}).items() if isinstance(v, int)}
    return IntegrityState(last_run_at=last.occurred_at, last_run=counts, failed_now=failed_now)


# --- retention ------------------------------------------------------------------------------------------------


def _closed_at(client_id: uuid.UUID) -> datetime | None:
    """When the client was closed (終結): the time of the latest status change on its timeline, if that change
    closed it. None when no such entry says so (the files are kept: retention never guesses)."""
    latest = (
        TimelineEntry.objects.filter(client_id=client_id, event=SystemEvent.STATUS_CHANGED)
        .order_by("-occurred_at", "-recorded_at")
        .only("occurred_at", "event_params")
        .first()
    )
    if latest is None or (latest.event_params or {}).get("to") != ClientStatus.CLOSED:
        return None
    return latest.occurred_at


def attachments_purge(*, actor: Actor, now: datetime | None = None) -> int:
    """With ``ATTACHMENT_RETENTION_DAYS`` > 0: remove from storage the files of every client closed (終結) longer
    ago than that, and forget their file keys (a copy of the storage left somewhere, a backup, no longer opens).
    The entries and the attachments' names, sizes and hashes stay: the timeline shows the file was there. One
    ``attachment.purge`` event per client with the attachment ids. Returns the number of files removed; 0 days
    keeps everything."""
    require_operator(actor, CaseAction.ATTACHMENT_PURGE)
    days = int(settings.ATTACHMENT_RETENTION_DAYS)
    if days <= 0:
        return 0
    now = now or actor.now()
    cutoff = now - timedelta(days=days)
    candidates = sorted(
        set(
            AttachmentBlob.objects.filter(purged_at=None, attachment__client__status=ClientStatus.CLOSED).values_list(
                "attachment__client_id", flat=True
            )
        ),
        key=str,
    )
    removed = 0
    for client_id in candidates:
        closed_at = _closed_at(client_id)
        if closed_at is None or closed_at > cutoff:
            continue
        with transaction.atomic():
            blobs = list(
                AttachmentBlob.objects.select_for_update()
                .filter(
                    purged_at=None,
                    attachment__client_id=client_id,
                    attachment__client__status=ClientStatus.CLOSED,
                )
                .order_by("attachment_id")
            )
            if not blobs:
                continue
            names = [n for b in blobs for n in (b.storage_name, b.thumbnail_name) if n]
            AttachmentBlob.objects.filter(pk__in=[b.pk for b in blobs]).update(purged_at=now, wrapped_key=b"")
            audit_record(
                actor=actor,
                action=CaseAction.ATTACHMENT_PURGE,
                client_ids=[client_id],
                target_type="client",
                target_id=client_id,
                details={
                    "attachments": [str(b.pk) for b in blobs],
                    "count": len(blobs),
                    "closed_at": closed_at.isoformat(),
                    "retention_days": days,
                },
            )
            # The objects go once the change is committed: a rolled-back purge leaves every file readable.
            transaction.on_commit(partial(discard, names))
        removed += len(blobs)
    return removed


# --- key rotation ---------------------------------------------------------------------------------------------


def attachments_rekey(*, actor: Actor) -> int:
    """Re-wrap the file key of every stored file whose master key is not the current one (the first of
    ``ATTACHMENT_KEYS``); the contents are not touched. Afterwards the older master keys can be removed from the
    settings (``stale_key_ids`` tells which are still needed). One ``attachment.rekey`` event with the counts, the
    key ids and the files whose key no configured master key opens, committed with the new wrappings. Returns the
    number re-wrapped."""
    require_operator(actor, CaseAction.ATTACHMENT_REKEY)
    current = settings.ATTACHMENT_KEYS[0][0]
    rewrapped = 0
    failed: list[uuid.UUID] = []
    old_ids: set[str] = set()
    with transaction.atomic():
        stale = (
            AttachmentBlob.objects.select_for_update()
            .filter(purged_at=None)
            .exclude(key_id=current)
            .order_by("attachment_id")
        )
        for blob in stale:
            try:
                key_id, wrapped = rewrap(blob_ref(blob))
            except (Tampered, KeyError, ValueError):
                failed.append(blob.attachment_id)
                continue
            old_ids.add(blob.key_id)
            AttachmentBlob.objects.filter(pk=blob.pk).update(key_id=key_id, wrapped_key=wrapped)
            rewrapped += 1
        audit_record(
            actor=actor,
            action=CaseAction.ATTACHMENT_REKEY,
            details={
                "key_id": current,
                "from": sorted(old_ids),
                "count": rewrapped,
                "failed": [str(a) for a in failed[:100]],
                "failed_count": len(failed),
            },
        )
    return rewrapped


def stale_key_ids() -> list[str]:
    """Master key ids that still wrap a stored file's key (what must stay in ``ATTACHMENT_KEYS``)."""
    rows: Iterable[str] = (
        AttachmentBlob.objects.filter(purged_at=None).order_by().values_list("key_id", flat=True).distinct()
    )
    return sorted(set(rows))


__all__ = [
    "FAILED_CONTENT",
    "FAILED_HASH",
    "FAILED_KEY",
    "FAILED_MISSING",
    "FAILED_THUMBNAIL",
    "IntegrityFailure",
    "IntegrityState",
    "VerifyReport",
    "attachment_integrity_state",
    "attachments_purge",
    "attachments_rekey",
    "attachments_verify",
    "blob_ref",
    "stale_key_ids",
]
