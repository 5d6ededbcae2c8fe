"""The canonical serialisation of audit events, and the seal hash built from it.

Written down precisely so that an outside auditor can recompute every seal from a database dump with any
language's JSON and SHA-256 libraries:

* Each event becomes one line: a JSON object with exactly the keys in ``FIELDS``, sorted by key, no whitespace
  (separators ``,`` and ``:``), non-ASCII characters written as themselves (not ``\\u`` escapes), encoded UTF-8.
  Values: ``seq`` and ``actor_user_id`` as JSON integers (``actor_user_id`` may be ``null``); ``uuid`` as the
  lowercase hyphenated 36-character form; ``occurred_at`` converted to UTC and written
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fractional digits); ``ip`` as stored or ``null``; ``client_ids`` as
  the stored JSON array of strings, in stored order; ``details`` as the stored JSON object, its keys sorted at
  every level; every other field as the stored string (empty string when empty, never ``null``).
* A batch is its events in ascending ``seq`` order, lines joined by a single ``\\n`` (no trailing newline).
* ``seal_hash = sha256(prev_hash ‖ batch)``, written as 64 lowercase hex digits, where ``prev_hash`` is the
  previous seal's ``seal_hash`` as 64 ASCII hex characters (64 zeros for the first seal) and ‖ is byte
  concatenation.
* A seal's ``seqs`` lists the sealed sequence numbers as comma-separated ascending ranges (``"7-9,12,14-20"``).

Numbers inside ``details`` are integers in practice; a float would be written in its shortest round-trip form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import AuditEvent

GENESIS_HASH = "0" * 64
DIGEST_SIZE = 8

FIELDS = (
    "action",
    "actor_agency_code",
    "actor_user_id",
    "actor_username",
    "api_key_id",
    "authorised_by",
    "channel",
    "client_ids",
    "details",
    "ip",
    "occurred_at",
    "outcome",
    "reason",
    "request_id",
    "seq",
    "target_id",
    "target_type",
    "user_agent",
    "uuid",
)


def event_record(event: AuditEvent, *, seq: int | None = None) -> dict[str, Any]:
    """The event as the dictionary that is serialised (``seq`` overridable, to test a reordering)."""
    return {
        "action": event.action,
        "actor_agency_code": event.actor_agency_code,
        "actor_user_id": event.actor_user_id,
        "actor_username": event.actor_username,
        "api_key_id": event.api_key_id,
        "authorised_by": event.authorised_by,
        "channel": event.channel,
        "client_ids": list(event.client_ids or []),
        "details": event.details if event.details is not None else {},
        "ip": event.ip or None,
        "occurred_at": event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "outcome": event.outcome,
        "reason": event.reason,
        "request_id": event.request_id,
        "seq": int(event.seq if seq is None else seq),
        "target_id": event.target_id,
        "target_type": event.target_type,
        "user_agent": event.user_agent,
        "uuid": str(event.uuid),
    }


def canonical_line(event: AuditEvent, *, seq: int | None = None) -> bytes:
    return json.dumps(
        event_record(event, seq=seq), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def line_digest(line: bytes) -> bytes:
    """The short per-event digest kept in a seal to locate the first changed event (not part of the proof)."""
    return hashlib.sha256(line).digest()[:DIGEST_SIZE]


class Hasher(Protocol):
    """What a seal needs of a running hash (``hashlib.sha256()``)."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def seal_hasher(prev_hash: str) -> Hasher:
    """A sha256 object primed with ``prev_hash``; feed it the batch with ``feed_line``."""
    hasher = hashlib.sha256()
    hasher.update(prev_hash.encode("ascii"))
    return hasher


def feed_line(hasher: Hasher, line: bytes, *, first: bool) -> None:
    if not first:
        hasher.update(b"\n")
    hasher.update(line)


def seal_hash(prev_hash: str, lines: Iterable[bytes]) -> str:
    hasher = seal_hasher(prev_hash)
    for i, line in enumerate(lines):
        feed_line(hasher, line, first=i == 0)
    return hasher.hexdigest()


def encode_seqs(seqs: Iterable[int]) -> str:
    """Ascending sequence numbers as ranges: [1, 2, 3, 5] → ``"1-3,5"``."""
    parts: list[str] = []
    start: int | None = None
    prev: int | None = None
    for seq in seqs:
        if prev is not None and seq <= prev:
            raise ValueError("sequence numbers must be strictly ascending")
        if start is None or prev is None:
            start = prev = seq
        elif seq == prev + 1:
            prev = seq
        else:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = seq
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


def decode_seqs(text: str) -> list[tuple[int, int]]:
    """``"1-3,5"`` → [(1, 3), (5, 5)]; raises ValueError unless the ranges are well formed and ascending."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        low, sep, high = part.partition("-")
        a, b = int(low), int(high) if sep else int(low)
        if b < a or (ranges and a <= ranges[-1][1] + 1):
            raise ValueError(f"malformed range list near {part!r}")
        ranges.append((a, b))
    return ranges
