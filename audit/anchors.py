"""Anchors outside the database: every seal's head, and a daily signed digest, written where a database superuser
cannot rewrite them.

``AUDIT_ANCHOR_DIR`` names a directory (a separate volume, WORM storage, or a directory the database's
operating-system user cannot write, ideally with ``chattr +a`` on its files). After every sealing run each new
seal is appended to ``seals.jsonl``, one JSON object a line, in seal order:

``{"seal": id, "first_seq": …, "last_seq": …, "count": …, "seqs": "7-9,12", "prev_hash": …, "hash": …,
"created_at": "…Z", "digests": "<base64 of the seal's 8-byte event digests>"}``

The file is only ever opened for appending. ``verify_audit`` reads it and checks the database against every line:
a seal that is gone while later ones remain is ``deleted_seal``; anchored seals gone at the end are
``missing_tail`` (truncation), named with the last anchored sequence number; a seal whose hash differs from its
anchor is ``broken_chain`` at the first event whose digest differs from the anchored one (a consistent rewrite of
the chain cannot hide from an anchor made before it).

Once a day ``publish_digest`` writes "the audit log up to seq N has hash H" signed with the application's key
(audit.signing) to ``digests.jsonl`` in the same directory, to the database for the privacy console, and by e-mail
to ``AUDIT_DIGEST_EMAILS``.
"""

import base64
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from .models import AuditDigest, AuditSeal
from .signing import sign_text

logger = logging.getLogger(__name__)

SEALS_FILE = "seals.jsonl"
DIGESTS_FILE = "digests.jsonl"


@dataclass(frozen=True)
class Anchor:
    seal: int
    first_seq: int
    last_seq: int
    count: int
    seqs: str
    prev_hash: str
    hash: str
    created_at: str
    digests: bytes


def anchor_dir() -> Path | None:
    value = getattr(settings, "AUDIT_ANCHOR_DIR", None)
    return Path(value) if value else None


def _append(path: Path, lines: list[str]) -> None:
    # O_APPEND: every write lands at the end, whatever else holds the file; fsync before reporting success.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_anchors(directory: Path | None = None) -> list[Anchor]:
    directory = directory or anchor_dir()
    path = directory / SEALS_FILE if directory else None
    if path is None or not path.exists():
        return []
    anchors = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                anchors.append(
                    Anchor(
                        seal=int(data["seal"]),
                        first_seq=int(data["first_seq"]),
                        last_seq=int(data["last_seq"]),
                        count=int(data["count"]),
                        seqs=str(data["seqs"]),
                        prev_hash=str(data["prev_hash"]),
                        hash=str(data["hash"]),
                        created_at=str(data["created_at"]),
                        digests=base64.b64decode(data["digests"]),
                    )
                )
            except (ValueError, KeyError, TypeError):
                logger.warning("audit anchor: unreadable line in %s ignored", path)  # a torn last write
    return anchors


def _last_anchored_seal(path: Path) -> int:
    """The seal id of the file's last complete line, read from the end (the file grows without bound)."""
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        chunk, position, data = 1 << 16, end, b""
        while position > 0:
            position = max(0, position - chunk)
            handle.seek(position)
            data = handle.read(end - position)
            lines = data.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or position == 0:
                for raw in reversed(lines):
                    try:
                        return int(json.loads(raw)["seal"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last write: the line before it
                break
    anchors = read_anchors(path.parent)
    return anchors[-1].seal if anchors else 0


def _line(seal: AuditSeal) -> str:
    return json.dumps(
        {
            "seal": seal.pk,
            "first_seq": seal.first_seq,
            "last_seq": seal.last_seq,
            "count": seal.count,
            "seqs": seal.seqs,
            "prev_hash": seal.prev_hash,
            "hash": seal.seal_hash,
            "created_at": seal.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "digests": base64.b64encode(bytes(seal.digests)).decode("ascii"),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def publish_anchors() -> int:
    """Append every seal made since the newest anchor (run after each sealing run; a failed run is caught up by
    the next). Returns how many were written; 0 when no directory is configured."""
    directory = anchor_dir()
    if directory is None:
        return 0
    try:
        directory.mkdir(parents=True, exist_ok=True)
        after = _last_anchored_seal(directory / SEALS_FILE)
        seals = list(AuditSeal.objects.filter(id__gt=after).order_by("id"))
        if seals:
            _append(directory / SEALS_FILE, [_line(seal) for seal in seals])
        return len(seals)
    except OSError:
        # Sealing itself must go on; the health of the anchor is reported by verify_audit (missing anchors).
        logger.exception("audit anchor: could not write to %s", directory)
        return 0


def digest_text(seal: AuditSeal, now: datetime) -> str:
    return (
        f"Tsunagu audit log up to seq {seal.last_seq} (seal #{seal.pk}, sealed "
        f"{seal.created_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}) has hash {seal.seal_hash}; "
        f"stated {now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    )


def publish_digest() -> AuditDigest | None:
    """The daily signed digest: to the database (console), the anchor directory and the privacy officers."""
    seal = AuditSeal.objects.order_by("-id").defer("digests").first()
    if seal is None:
        return None
    now = timezone.now()
    text = digest_text(seal, now)
    digest = AuditDigest.objects.create(
        created_at=now,
        seal_id=seal.pk,
        last_seq=seal.last_seq,
        seal_hash=seal.seal_hash,
        text=text,
        signature=sign_text(text),
    )
    directory = anchor_dir()
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            line = json.dumps({"text": text, "signature": digest.signature}, ensure_ascii=False)
            _append(directory / DIGESTS_FILE, [line])
        except OSError:
            logger.exception("audit anchor: could not write the digest to %s", directory)
    recipients = list(getattr(settings, "AUDIT_DIGEST_EMAILS", []))
    if recipients:
        try:
            send_mail(
                f"[Tsunagu] 監査ログのダイジェスト（seq {seal.last_seq} まで）",
                f"{text}\n\n署名 (HMAC-SHA256): {digest.signature}\n",
                None,
                recipients,
            )
        except OSError:  # the digest is kept in the database and the anchor directory all the same
            logger.exception("audit digest: could not send the e-mail")
    return digest
