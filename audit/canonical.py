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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import AuditEvent


class EventLike(Protocol):
    """What serialising an event reads: an ``AuditEvent`` or an ``EventRow`` (the same fields from a tuple)."""

    seq: Any
    uuid: Any
    occurred_at: Any
    actor_user_id: Any
    actor_username: Any
    actor_agency_code: Any
    channel: Any
    action: Any
    outcome: Any
    reason: Any
    client_ids: Any
    target_type: Any
    target_id: Any
    request_id: Any
    ip: Any
    user_agent: Any
    api_key_id: Any
    authorised_by: Any
    details: Any


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


# The columns an ``EventRow`` is read from (``values_list``), in this order.
ROW_COLUMNS = (
    "seq",
    "uuid",
    "occurred_at",
    "actor_user_id",
    "actor_username",
    "actor_agency_code",
    "channel",
    "action",
    "outcome",
    "reason",
    "client_ids",
    "target_type",
    "target_id",
    "request_id",
    "ip",
    "user_agent",
    "api_key_id",
    "authorised_by",
    "details",
    "mac",
)


class EventRow:
    """An event read as a tuple (``values_list(*ROW_COLUMNS)``, PostgreSQL's ``txid`` and ``cluster`` after them)
    rather than as a model instance: sealing and verification read millions of events and only need their fields.
    Building a model instance cost more than serialising it."""

    __slots__ = (*ROW_COLUMNS, "_txid", "_cluster")

    seq: int
    uuid: Any
    occurred_at: datetime
    actor_user_id: int | None
    actor_username: str
    actor_agency_code: str
    channel: str
    action: str
    outcome: str
    reason: str
    client_ids: Any
    target_type: str
    target_id: str
    request_id: str
    ip: str | None
    user_agent: str
    api_key_id: str
    authorised_by: str
    details: Any
    mac: str | None
    _txid: int | None
    _cluster: int | None

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.seq, self.uuid, self.occurred_at, self.actor_user_id, self.actor_username, self.actor_agency_code,
            self.channel, self.action, self.outcome, self.reason, self.client_ids, self.target_type, self.target_id,
            self.request_id, self.ip, self.user_agent, self.api_key_id, self.authorised_by, self.details, self.mac,
        ) = row[:20]  # fmt: skip
        self._txid = row[20] if len(row) > 20 else None
        self._cluster = row[21] if len(row) > 21 else None


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


def reference_canonical_line(event: AuditEvent, *, seq: int | None = None) -> bytes:
    """The definition above, written plainly (one ``json.dumps`` of ``event_record``): ``canonical_line`` must give
    exactly these bytes (tests compare the two on many random events)."""
    return json.dumps(
        event_record(event, seq=seq), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


# One encoder, made once (``json.dumps`` with options builds a new one per call); the same options as the definition.
_encode_value = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_encode_str: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _value(value: object) -> str:
    return _encode_str(value) if type(value) is str else _encode_value(value)


def _utc_stamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC: ``isoformat`` (C, several times faster than ``strftime``) where the
    two agree, which is every year from 1000 on."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" → "Z"


def canonical_parts(event: EventLike) -> tuple[str, str]:
    """The canonical line without ``seq``, cut where ``"seq"`` goes (between ``request_id`` and ``target_id``): the
    line is ``head,"seq":N,tail`` and the MAC's unnumbered line (audit.signing) ``head,tail``.

    The same bytes as ``event_record`` through ``json.dumps``, built field by field in ``FIELDS`` order (already
    sorted) so that verification serialises each event once, not twice, and without a dictionary per event."""
    user_id = event.actor_user_id
    client_ids = event.client_ids
    details = event.details
    ip = event.ip
    head = (
        '{"action":' + _value(event.action)
        + ',"actor_agency_code":' + _value(event.actor_agency_code)
        + ',"actor_user_id":' + ("null" if user_id is None else _encode_value(user_id))
        + ',"actor_username":' + _value(event.actor_username)
        + ',"api_key_id":' + _value(event.api_key_id)
        + ',"authorised_by":' + _value(event.authorised_by)
        + ',"channel":' + _value(event.channel)
        + ',"client_ids":' + _encode_value(list(client_ids or []))
        + ',"details":' + _encode_value(details if details is not None else {})
        + ',"ip":' + (_value(ip) if ip else "null")
        + ',"occurred_at":"' + _utc_stamp(event.occurred_at)
        + '","outcome":' + _value(event.outcome)
        + ',"reason":' + _value(event.reason)
        + ',"request_id":' + _value(event.request_id)
    )  # fmt: skip
    tail = (
        '"target_id":' + _value(event.target_id)
        + ',"target_type":' + _value(event.target_type)
        + ',"user_agent":' + _value(event.user_agent)
        + ',"uuid":' + _encode_str(str(event.uuid))
        + "}"
    )  # fmt: skip
    return head, tail


def join_line(head: str, tail: str, seq: int) -> bytes:
    return f'{head},"seq":{int(seq)},{tail}'.encode()


def canonical_line(event: EventLike, *, seq: int | None = None) -> bytes:
    """The event's canonical line (``seq`` overridable, to test a reordering)."""
    head, tail = canonical_parts(event)
    return join_line(head, tail, event.seq if seq is None else seq)


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
