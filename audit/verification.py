"""Verification: recompute every seal and name the first event that no longer matches.

One pass over the events in ``seq`` order, merged with the sequence numbers the seals say they hold:

* a sealed number with no event → ``deleted_event`` (``missing_tail`` when no event at all follows it);
* an event whose canonical line no longer matches its seal's digest → ``changed_event``, or
  ``reordered_events`` when two events of a seal match each other's digests;
* an event that cannot be genuine → ``inserted_event``: on PostgreSQL, one in no seal although its transaction
  id is below the last seal's horizon, or one whose number an earlier seal had already passed although its
  transaction began after that seal was made (a genuine late commit always began before: the number is drawn
  only after the transaction has its id); on SQLite, one in no seal with a number below the last sealed
  one. An event present where a purge removed its batch is inserted too;
* a seal whose ``prev_hash`` is not its predecessor's hash, whose own hash does not match its events, whose
  number list is malformed or overlaps another seal, or which disagrees with ``--expect`` or with the last
  successful verification → ``broken_chain`` (``missing_tail`` when seals seen before are gone).

Gaps in the numbering (rolled-back inserts) are never reported: each seal lists exactly what it holds.
Events of seals up to the latest purge boundary are gone by design; their seals are still chained and the
boundary seal's hash must equal the one the purge recorded.

On PostgreSQL a large log is read by several processes at once (``AUDIT_VERIFY_WORKERS``): the numbers are cut
where no seal spans the cut, each process walks its part in the snapshot the verification began with
(``pg_export_snapshot``), and the parts' findings are merged before anything is classified or reported — the
same findings, in the same order, as one pass.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import signal
import warnings
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .anchors import Anchor, read_anchors
from .canonical import (
    DIGEST_SIZE,
    GENESIS_HASH,
    ROW_COLUMNS,
    EventLike,
    EventRow,
    Hasher,
    canonical_line,
    canonical_parts,
    decode_seqs,
    feed_line,
    join_line,
    line_digest,
    seal_hasher,
)
from .models import AuditEvent, AuditPurge, AuditSeal, AuditVerification, Channel, VerifyKind
from .sealing import current_cluster
from .signing import MacCheck, check_event_mac

# When two problems share a number, the more specific one is reported.
_PRIORITY: dict[str, int] = {
    VerifyKind.REORDERED_EVENTS: 0,
    VerifyKind.CHANGED_EVENT: 1,
    VerifyKind.DELETED_EVENT: 2,
    VerifyKind.DELETED_SEAL: 3,
    VerifyKind.MISSING_TAIL: 4,
    VerifyKind.INSERTED_EVENT: 5,
    VerifyKind.FORGED_EVENT: 6,
    VerifyKind.BROKEN_CHAIN: 7,
}
# Above this many changed events, they are all reported as changed without looking for swapped pairs.
_MAX_PAIRING = 200


@dataclass
class VerifyResult:
    ok: bool
    kind: str
    first_bad_seq: int | None
    message: str
    seals_checked: int
    events_checked: int
    pending_events: int
    latest_seal: AuditSeal | None
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    processes: int = 1  # how many processes walked the events


@dataclass
class _SealState:
    seal: AuditSeal
    purged: bool
    hasher: Hasher  # primed with the previous seal's hash (unused for a purged seal)
    digests: bytes = b""
    position: int = 0
    incomplete: bool = False
    mismatches: list[int] = field(default_factory=list)  # seqs whose line differs from the sealed digest


class _Verifier:
    def __init__(self, *, expect_hash: str | None, expect_seal_id: int | None, own_snapshot: bool = False):
        self.expect_hash = expect_hash
        self.own_snapshot = own_snapshot  # in verify_log's repeatable-read transaction, which children may share
        self.expect_seal_id = expect_seal_id
        self.problems: list[tuple[int, str, str]] = []
        self.pg = connection.vendor == "postgresql"
        self.events_checked = 0
        self.pending = 0
        self.max_seen: int | None = None
        self.processes = 1  # how many processes walk the events (use_parallel)
        # (seq, seal id, the digest sealed at that position, the event — None where too many to pair)
        self.mismatches: list[tuple[int, int, bytes, EventLike | None]] = []
        self.orphans: list[int] = []  # events in no seal that cannot be pending (inserted, or of a deleted seal)
        self.gap_after: list[tuple[int | None, AuditSeal]] = []  # (previous seal id, seal) where ids skip and break
        self.cluster = current_cluster()
        # Events written before events carried a MAC (audit.signing) are accepted without one.
        self.first_mac_seq = (
            AuditEvent.objects.filter(mac__isnull=False).order_by("seq").values_list("seq", flat=True).first()
        )

    def problem(self, seq: int | None, kind: str, message: str) -> None:
        self.problems.append((seq if seq is not None else 0, kind, message))

    # --- the chain of seals -------------------------------------------------------------------------------

    def check_chain(self) -> None:
        self.seals = list(AuditSeal.objects.order_by("id").defer("digests"))
        self.by_id = {s.pk: s for s in self.seals}
        purge = AuditPurge.objects.order_by("-up_to_seal_id").first()
        self.boundary = purge.up_to_seal_id if purge else 0
        if purge is not None:
            boundary_seal = self.by_id.get(purge.up_to_seal_id)
            if boundary_seal is None or boundary_seal.seal_hash != purge.seal_hash:
                self.problem(
                    boundary_seal.first_seq if boundary_seal else None,
                    VerifyKind.BROKEN_CHAIN,
                    f"seal #{purge.up_to_seal_id} does not carry the hash recorded by purge #{purge.pk}",
                )
        self.intervals: list[tuple[int, int, int]] = []
        prev_hash, prev_id = GENESIS_HASH, None
        for seal in self.seals:
            if seal.prev_hash != prev_hash:
                if (prev_id is None and seal.prev_hash != GENESIS_HASH) or (prev_id and seal.pk > prev_id + 1):
                    self.gap_after.append((prev_id, seal))  # a seal row is missing here: see report_deleted_seals
                else:
                    after = f"seal #{prev_id}" if prev_id else "the start of the chain"
                    self.problem(seal.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{seal.pk} does not follow {after}")
            prev_hash, prev_id = seal.seal_hash, seal.pk
            try:
                ranges = decode_seqs(seal.seqs)
            except ValueError as exc:
                self.problem(seal.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{seal.pk}: {exc}")
                continue
            count = sum(b - a + 1 for a, b in ranges)
            if count != seal.count or ranges[0][0] != seal.first_seq or ranges[-1][1] != seal.last_seq:
                self.problem(seal.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{seal.pk}: count or bounds altered")
            self.intervals.extend((a, b, seal.pk) for a, b in ranges)
        self.intervals.sort()
        for (_a1, b1, s1), (a2, _b2, s2) in zip(self.intervals, self.intervals[1:], strict=False):
            if a2 <= b1:
                self.problem(a2, VerifyKind.BROKEN_CHAIN, f"seals #{s1} and #{s2} both claim seq {a2}")
        # For "was this number skipped by a seal made after its transaction began?": the first seal (in chain
        # order) whose numbers reach past a given seq, via the running maximum of last_seq.
        self.reach: list[int] = []
        running = None
        for seal in self.seals:
            running = seal.last_seq if running is None else max(running, seal.last_seq)
            self.reach.append(running)
        self.states: dict[int, _SealState] = {}

    def first_seal_past(self, seq: int) -> AuditSeal | None:
        index = bisect.bisect_right(self.reach, seq)
        return self.seals[index] if index < len(self.seals) else None

    def state(self, seal_id: int) -> _SealState:
        st = self.states.get(seal_id)
        if st is None:
            seal = self.by_id[seal_id]
            st = _SealState(seal=seal, purged=seal_id <= self.boundary, hasher=seal_hasher(seal.prev_hash))
            if not st.purged:
                raw = AuditSeal.objects.filter(pk=seal_id).values_list("digests", flat=True).get()
                st.digests = bytes(raw)
                if len(st.digests) != DIGEST_SIZE * seal.count:
                    self.problem(seal.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{seal_id}: digests altered")
                    st.incomplete = True
            self.states[seal_id] = st
        return st

    # --- the events -----------------------------------------------------------------------------------------

    def missing(self, a: int, b: int, seal_id: int) -> None:
        st = self.state(seal_id)
        if st.purged:
            return
        self.problem(a, VerifyKind.DELETED_EVENT, f"seq {a} sealed in seal #{seal_id} is missing")
        st.incomplete = True
        st.position += b - a + 1
        self.maybe_finish(st)

    def member(self, event: EventRow, seal_id: int) -> None:
        st = self.state(seal_id)
        if st.purged:
            self.problem(event.seq, VerifyKind.INSERTED_EVENT, f"seq {event.seq} exists although its batch was purged")
            return
        self.check_late(event, own_seal=st.seal)
        parts = canonical_parts(event)  # once for both the seal's line and the MAC's
        line = join_line(*parts, event.seq)
        feed_line(st.hasher, line, first=st.position == 0)
        ref = st.digests[st.position * DIGEST_SIZE : (st.position + 1) * DIGEST_SIZE]
        if line_digest(line) != ref:
            st.mismatches.append(event.seq)
            self.mismatches.append((event.seq, st.seal.pk, ref, event))
        else:
            mac = self.mac_check(event, parts)
            if mac == MacCheck.ALTERED:  # matches its seal, not its MAC: the seal was recomputed over the change
                self.problem(
                    event.seq,
                    VerifyKind.BROKEN_CHAIN,
                    f"seq {event.seq} was changed and seal #{st.seal.pk} recomputed over it (the event's MAC differs)",
                )
            elif mac != MacCheck.OK:
                self.problem(event.seq, VerifyKind.FORGED_EVENT, f"seq {event.seq} was not written by the application")
        st.position += 1
        self.maybe_finish(st)

    def mac_check(self, event: EventRow, parts: tuple[str, str] | None = None) -> str:
        result = check_event_mac(event, parts=parts)
        if result == MacCheck.MISSING and (self.first_mac_seq is None or event.seq < self.first_mac_seq):
            return MacCheck.OK  # written before events were signed
        return result

    def check_late(self, event: EventRow, own_seal: AuditSeal | None) -> bool:
        """PostgreSQL: an event whose number a seal had already passed must have begun before that seal."""
        if not self.pg:
            return False
        past = self.first_seal_past(event.seq)
        if past is None or (own_seal is not None and own_seal.pk <= past.pk):
            return False
        cluster = event._cluster
        # After a restore into another cluster every new number is above every number of the old one (the sequence
        # is restored with the data): an event of another cluster below a sealed number cannot be genuine.
        foreign = past.cluster is not None and cluster is not None and cluster != past.cluster
        txid = event._txid
        if foreign or txid is None or past.sealer_txid is None or txid >= past.sealer_txid:
            self.problem(
                event.seq,
                VerifyKind.INSERTED_EVENT,
                f"seq {event.seq} was written after seal #{past.pk} had sealed later numbers",
            )
            if own_seal is None:
                self.orphans.append(event.seq)
            return True
        return False

    def unsealed(self, event: EventRow) -> None:
        mac = self.mac_check(event)
        if mac != MacCheck.OK:  # not sealed yet, but not as the application wrote it either
            if mac == MacCheck.ALTERED:
                self.problem(event.seq, VerifyKind.CHANGED_EVENT, f"seq {event.seq} (not sealed yet) was changed")
            else:
                self.problem(event.seq, VerifyKind.FORGED_EVENT, f"seq {event.seq} was not written by the application")
        last = self.seals[-1] if self.seals else None
        if last is None:
            self.pending += 1
            return
        if self.pg:
            if self.check_late(event, own_seal=None):
                return
            txid = event._txid
            cluster = event._cluster
            restored = cluster is not None and cluster == self.cluster and last.cluster not in (None, cluster)
            same = last.cluster is None or cluster == last.cluster
            if not restored and (
                txid is None or not same or (last.txid_horizon is not None and txid < last.txid_horizon)
            ):
                self.problem(event.seq, VerifyKind.INSERTED_EVENT, f"seq {event.seq} is in no seal")
                self.orphans.append(event.seq)
                return
        elif event.seq < max(self.reach):
            self.problem(event.seq, VerifyKind.INSERTED_EVENT, f"seq {event.seq} is in no seal")
            self.orphans.append(event.seq)
            return
        self.pending += 1

    def maybe_finish(self, st: _SealState) -> None:
        if st.position < st.seal.count:
            return
        seal = st.seal
        # Mismatching events are classified once the whole log has been read (a swap may span two seals).
        if not st.mismatches and not st.incomplete and st.hasher.hexdigest() != seal.seal_hash:
            self.problem(seal.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{seal.pk} does not match its events")

    def classify_mismatches(self) -> None:
        """An event that matches the digest sealed for another number was moved there; any other is changed."""
        paired: set[int] = set()
        candidates = self.mismatches if len(self.mismatches) <= _MAX_PAIRING else []  # quadratic: keep it small
        for seq_a, _seal_a, _ref_a, event_a in candidates:
            if seq_a in paired or event_a is None:
                continue
            for seq_b, seal_b, ref_b, _event_b in candidates:
                if seq_b == seq_a or seq_b in paired:
                    continue
                if line_digest(canonical_line(event_a, seq=seq_b)) == ref_b:
                    self.problem(
                        min(seq_a, seq_b),
                        VerifyKind.REORDERED_EVENTS,
                        f"seq {seq_a} holds the event sealed as seq {seq_b} (seal #{seal_b})",
                    )
                    paired.update((seq_a, seq_b))
                    break
        for seq, seal_id, _ref, _event in self.mismatches:
            if seq not in paired:
                self.problem(seq, VerifyKind.CHANGED_EVENT, f"seq {seq} differs from seal #{seal_id}")

    def walk(
        self, low: int | None = None, high: int | None = None, intervals: list[tuple[int, int, int]] | None = None
    ) -> None:
        """Merge the events with ``low <= seq < high`` (all when unbounded) with the sealed ranges ``intervals``
        (all by default: a part's must be exactly the ranges of the seals that lie in it)."""
        events = AuditEvent.objects.order_by("seq")
        if low is not None:
            events = events.filter(seq__gte=low)
        if high is not None:
            events = events.filter(seq__lt=high)
        columns: tuple[str, ...] = ROW_COLUMNS
        if self.pg:
            events = events.annotate(
                _txid=RawSQL("audit_auditevent.txid", ()), _cluster=RawSQL("audit_auditevent.cluster", ())
            )
            columns = (*ROW_COLUMNS, "_txid", "_cluster")
        intervals = self.intervals if intervals is None else intervals
        i = 0
        nxt = intervals[0][0] if intervals else 0  # next expected seq within intervals[i] (unused past the last)
        for row in events.values_list(*columns).iterator(chunk_size=5000):
            event = EventRow(row)
            seq = event.seq
            self.max_seen = seq if self.max_seen is None else max(self.max_seen, seq)
            self.events_checked += 1
            while i < len(intervals) and intervals[i][1] < seq:
                self.missing(nxt, intervals[i][1], intervals[i][2])
                i += 1
                nxt = intervals[i][0] if i < len(intervals) else 0
            if i < len(intervals) and intervals[i][0] <= seq:
                if nxt < seq:
                    self.missing(nxt, seq - 1, intervals[i][2])
                self.member(event, intervals[i][2])
                nxt = seq + 1
                if nxt > intervals[i][1]:
                    i += 1
                    nxt = intervals[i][0] if i < len(intervals) else 0
            else:
                self.unsealed(event)
        while i < len(intervals):
            self.missing(nxt, intervals[i][1], intervals[i][2])
            i += 1
            nxt = intervals[i][0] if i < len(intervals) else 0

    def mark_missing_tail(self) -> None:
        """Sealed numbers missing with no event after them: the newest events were removed."""
        max_seen = self.max_seen
        self.problems = [
            (seq, VerifyKind.MISSING_TAIL, msg.replace("is missing", "is missing (the end of the log was removed)"))
            if kind == VerifyKind.DELETED_EVENT and (max_seen is None or seq > max_seen)
            else (seq, kind, msg)
            for seq, kind, msg in self.problems
        ]

    # --- the events, in parallel (PostgreSQL) ---------------------------------------------------------------

    def parts(self, count: int) -> list[tuple[int | None, int | None, list[tuple[int, int, int]]]]:
        """The seq space cut into at most ``count`` parts of about equal width, each cut where no seal spans it
        (a seal's events are hashed in order by one process): ``(low, high, the part's sealed ranges)``."""
        spans: dict[int, list[int]] = {}
        for a, b, seal_id in self.intervals:
            span = spans.setdefault(seal_id, [a, b])
            span[0], span[1] = min(span[0], a), max(span[1], b)
        cuts: list[int] = []  # every number at which the log may be cut
        reach = None
        for a, b in sorted(spans.values()):
            if reach is not None and a > reach:
                cuts.append(a)
            reach = b if reach is None else max(reach, b)
        chosen: list[int] = []
        if cuts and reach is not None and count > 1:
            first = self.intervals[0][0]
            for k in range(1, count):
                index = bisect.bisect_left(cuts, first + (reach - first) * k // count)
                if index < len(cuts) and (not chosen or cuts[index] > chosen[-1]):
                    chosen.append(cuts[index])
        bounds: list[int | None] = [None, *chosen, None]
        result = []
        for low, high in itertools.pairwise(bounds):
            mine = [iv for iv in self.intervals if (low is None or iv[0] >= low) and (high is None or iv[0] < high)]
            result.append((low, high, mine))
        return result

    def walk_parallel(self, workers: int) -> None:
        """``walk`` over the parts in ``workers`` forked processes, each in this transaction's snapshot."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        global _forked  # read by the forked children: fork copies it, nothing is pickled
        _forked = self
        try:
            context = multiprocessing.get_context("fork")
            with warnings.catch_warnings():
                # Python warns of fork() in a process with other threads (a log shipper's, a test runner's): a lock
                # one of them held would stay held in the child. The child touches none of theirs: a connection of
                # its own, the ORM, hashlib and the pool's pipe (logging re-creates its locks after a fork).
                warnings.filterwarnings("ignore", r".*multi-threaded, use of fork\(\)", DeprecationWarning)
                pool = context.Pool(workers, initializer=_part_start, initargs=(snapshot,))
            with pool:
                findings = pool.map(_walk_part, self.parts(workers * 2), chunksize=1)
        finally:
            _forked = None
        pairing = sum(len(f["mismatches"]) for f in findings) <= _MAX_PAIRING
        for found in findings:
            self.problems.extend(found["problems"])
            self.events_checked += found["events_checked"]
            self.pending += found["pending"]
            self.orphans.extend(found["orphans"])
            self.mismatches.extend(
                (seq, seal_id, ref, event if pairing else None) for seq, seal_id, ref, event in found["mismatches"]
            )
            if found["max_seen"] is not None:
                self.max_seen = max(self.max_seen or found["max_seen"], found["max_seen"])

    def use_parallel(self) -> int:
        """How many processes to walk the events with (1: this one)."""
        workers = settings.AUDIT_VERIFY_WORKERS
        sealed = sum(seal.count for seal in self.seals if seal.pk > self.boundary)
        if not self.pg or workers < 2 or sealed < settings.AUDIT_VERIFY_PARALLEL_MIN_EVENTS:
            return 1
        if not self.own_snapshot or multiprocessing.current_process().daemon:
            return 1  # in a caller's transaction (children could not see it), or a daemonic process (no children)
        if "fork" not in multiprocessing.get_all_start_methods():
            return 1
        return workers

    # --- anchors ------------------------------------------------------------------------------------------

    def check_anchors(self) -> None:
        latest = self.seals[-1] if self.seals else None
        if self.expect_hash:
            target = self.by_id.get(self.expect_seal_id) if self.expect_seal_id else latest
            if target is None:
                self.problem(None, VerifyKind.MISSING_TAIL, f"seal #{self.expect_seal_id or '?'} to check is missing")
            elif target.seal_hash != self.expect_hash.strip().lower():
                self.problem(
                    target.first_seq, VerifyKind.BROKEN_CHAIN, f"seal #{target.pk} differs from the expected hash"
                )
        previous = AuditVerification.objects.filter(ok=True, latest_seal_id__isnull=False).order_by("-id").first()
        if previous is not None and previous.latest_seal_id is not None:
            seen = self.by_id.get(previous.latest_seal_id)
            if seen is None:
                pending_from = self.first_unsealed_seq()
                self.problem(
                    pending_from,
                    VerifyKind.MISSING_TAIL,
                    f"seal #{previous.latest_seal_id}, verified on {previous.ran_at:%Y-%m-%d %H:%M}, is gone",
                )
            elif seen.seal_hash != previous.latest_seal_hash:
                self.problem(
                    seen.first_seq,
                    VerifyKind.BROKEN_CHAIN,
                    f"seal #{seen.pk} changed since verification #{previous.pk}",
                )

    def report_deleted_seals(self) -> None:
        """A seal id skipped where the chain breaks: that seal row was deleted. Its events, now in no seal, are
        explained by it rather than reported one by one as inserted."""
        for prev_id, seal in self.gap_after:
            prev = self.by_id.get(prev_id) if prev_id else None
            low = prev.first_seq if prev else 0
            mine = [seq for seq in self.orphans if low < seq < seal.last_seq]
            position = min(mine) if mine else (prev.last_seq + 1 if prev else seal.first_seq)
            self.forget_orphans(set(mine))
            gone = f"#{prev_id + 1}" if prev_id else "before the first"
            self.problem(position, VerifyKind.DELETED_SEAL, f"seal {gone} is gone (seal #{seal.pk} does not follow)")

    def forget_orphans(self, seqs: set[int]) -> None:
        self.problems = [p for p in self.problems if not (p[1] == VerifyKind.INSERTED_EVENT and p[0] in seqs)]

    def check_external_anchors(self) -> None:
        """Compare the chain with the heads published outside the database (audit.anchors)."""
        anchors = read_anchors()
        if not anchors:
            return
        newest = anchors[-1]
        max_id = self.seals[-1].pk if self.seals else 0
        for anchor in anchors:
            seal = self.by_id.get(anchor.seal)
            if seal is None and anchor.seal < max_id:
                ranges = decode_seqs(anchor.seqs)
                self.forget_orphans({seq for a, b in ranges for seq in range(a, b + 1)})
                self.problem(
                    anchor.first_seq,
                    VerifyKind.DELETED_SEAL,
                    f"seal #{anchor.seal} (seq {anchor.first_seq}–{anchor.last_seq}), anchored outside the database, "
                    "is gone",
                )
            elif seal is None:
                self.problem(
                    anchor.first_seq,
                    VerifyKind.MISSING_TAIL,
                    f"the log was cut from seal #{anchor.seal} on; the anchor outside the database records it up to "
                    f"seq {newest.last_seq} (seal #{newest.seal}, hash {newest.hash})",
                )
                return
            elif seal.seal_hash != anchor.hash:
                position = self.first_altered(anchor)
                self.problem(
                    position,
                    VerifyKind.BROKEN_CHAIN,
                    f"seal #{anchor.seal} differs from its anchor outside the database: the chain was rewritten "
                    f"from seq {position}",
                )
                return

    def first_altered(self, anchor: Anchor) -> int:
        """The first number of an anchored seal whose event is gone or no longer has the anchored digest."""
        events = {e.seq: e for e in AuditEvent.objects.filter(seq__gte=anchor.first_seq, seq__lte=anchor.last_seq)}
        try:
            seqs = [seq for a, b in decode_seqs(anchor.seqs) for seq in range(a, b + 1)]
        except ValueError:
            return anchor.first_seq
        for i, seq in enumerate(seqs):
            event = events.get(seq)
            if (
                event is None
                or line_digest(canonical_line(event)) != anchor.digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]
            ):
                return seq
        return anchor.first_seq

    def first_unsealed_seq(self) -> int | None:
        after = max(self.reach) if self.reach else 0
        return AuditEvent.objects.filter(seq__gt=after).order_by("seq").values_list("seq", flat=True).first()

    def run(self) -> VerifyResult:
        self.check_chain()
        workers = self.processes = self.use_parallel()
        if workers > 1:
            self.walk_parallel(workers)
        else:
            self.walk()
        self.mark_missing_tail()
        self.classify_mismatches()
        self.report_deleted_seals()
        self.check_external_anchors()
        self.check_anchors()
        latest = self.seals[-1] if self.seals else None
        if not self.problems:
            return VerifyResult(
                ok=True,
                kind=VerifyKind.OK,
                first_bad_seq=None,
                message=(
                    f"OK: {len(self.seals)} seals, {self.events_checked} events checked "
                    f"({self.pending} not sealed yet); latest seal "
                    + (f"#{latest.pk} {latest.seal_hash}" if latest else "none")
                ),
                seals_checked=len(self.seals),
                events_checked=self.events_checked,
                pending_events=self.pending,
                latest_seal=latest,
                processes=self.processes,
            )
        self.problems.sort(key=lambda p: (p[0], _PRIORITY[p[1]]))
        seq, kind, message = self.problems[0]
        more = len(self.problems) - 1
        return VerifyResult(
            ok=False,
            kind=kind,
            first_bad_seq=seq or None,
            message=f"{kind} at seq {seq}: {message}" + (f" (and {more} more problems)" if more else ""),
            seals_checked=len(self.seals),
            events_checked=self.events_checked,
            pending_events=self.pending,
            latest_seal=latest,
            problems=self.problems,
            processes=self.processes,
        )


# --- the forked processes of ``walk_parallel`` ---------------------------------------------------------------

_forked: _Verifier | None = None  # the verifier whose parts the children walk (set in the parent before forking)
_inherited: Any = None  # in a child: the parent's connection, kept referenced and never used or closed
_start_error: str | None = None  # in a child: why it could not join the snapshot (reported by its first part)


def _part_start(snapshot: str) -> None:
    """A child's own connection, in one read-only transaction on the parent's snapshot. The inherited connection
    is the parent's session: closing it here (or letting it be collected) would end the parent's transaction.

    A failure is kept for the first part to raise: a pool replaces a child whose start fails, again and again."""
    global _inherited, _start_error
    # Ended by the pool with SIGTERM: die at once, as the default does, whatever handler the parent had (a task
    # worker's would unwind Python and could close the inherited connection on the way out).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _inherited = connections[DEFAULT_DB_ALIAS]
    try:
        connections[DEFAULT_DB_ALIAS] = connections.create_connection(DEFAULT_DB_ALIAS)
        transaction.atomic().__enter__()  # left open: the process exits when the pool closes, ending it
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
    except Exception as exc:  # raised again, with its message, by _walk_part
        _start_error = f"{type(exc).__name__}: {exc}"


def _walk_part(part: tuple[int | None, int | None, list[tuple[int, int, int]]]) -> dict[str, Any]:
    if _start_error is not None:
        raise RuntimeError(f"a verification process could not read the log's snapshot: {_start_error}")
    parent = _forked
    assert parent is not None
    low, high, intervals = part
    verifier = _Verifier.__new__(_Verifier)
    verifier.__dict__.update(parent.__dict__)  # the chain as the parent read it; findings of its own
    verifier.problems, verifier.mismatches, verifier.orphans, verifier.states = [], [], [], {}
    verifier.events_checked, verifier.pending, verifier.max_seen = 0, 0, None
    verifier.walk(low, high, intervals)
    many = len(verifier.mismatches) > _MAX_PAIRING  # too many to pair anyway: their events are not sent back
    return {
        "problems": verifier.problems,
        "events_checked": verifier.events_checked,
        "pending": verifier.pending,
        "orphans": verifier.orphans,
        "mismatches": [(seq, seal, ref, None if many else event) for seq, seal, ref, event in verifier.mismatches],
        "max_seen": verifier.max_seen,
    }


def verify_log(*, expect_hash: str | None = None, expect_seal_id: int | None = None) -> VerifyResult:
    """Recompute every seal. Read-only; see ``verify_and_record`` to keep the result.

    On PostgreSQL, outside any transaction, the whole verification reads one snapshot (so a large log can be
    walked by several processes, ``AUDIT_VERIFY_WORKERS``); inside a caller's transaction it reads that one."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _Verifier(expect_hash=expect_hash, expect_seal_id=expect_seal_id).run()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _Verifier(expect_hash=expect_hash, expect_seal_id=expect_seal_id, own_snapshot=True).run()


def verify_and_record(
    *, expect_hash: str | None = None, expect_seal_id: int | None = None, channel: str = Channel.TASK
) -> AuditVerification:
    """Recompute every seal and store the result (``channel``: ``task`` for the nightly run, ``cli`` by hand)."""
    result = verify_log(expect_hash=expect_hash, expect_seal_id=expect_seal_id)
    return AuditVerification.objects.create(
        ran_at=timezone.now(),
        ok=result.ok,
        kind=result.kind,
        first_bad_seq=result.first_bad_seq,
        message=result.message[:2000],
        seals_checked=result.seals_checked,
        events_checked=result.events_checked,
        pending_events=result.pending_events,
        latest_seal_id=result.latest_seal.pk if result.latest_seal else None,
        latest_seal_hash=result.latest_seal.seal_hash if result.latest_seal else "",
        channel=channel,
    )
