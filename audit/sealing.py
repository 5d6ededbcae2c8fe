"""Sealing: hash every not-yet-sealed event into the next link of the seal chain, off the request path.

The hard part is knowing which events can no longer appear. Sequence numbers are drawn at INSERT time but
transactions commit in a different order, so "everything above the last sealed number" would skip an event whose
transaction commits after the seal with a lower number. How each database is handled:

* PostgreSQL: every event row carries the id of the transaction that inserted it (column ``txid``, filled by a
  column default; the number itself comes from a default that assigns the transaction id first, migration
  0005). A seal covers the events whose ``txid`` lies between the previous seal's ``txid_horizon`` and its own,
  which is the ``xmin`` of the sealer's snapshot: every transaction below it has finished, so no event of theirs
  can still appear, and every later event has a ``txid`` at or above it and falls into a later seal. Nothing is
  skipped and nothing sealed twice, whatever the commit order; an event whose number is below an earlier seal's
  numbers is simply sealed later (its seal lists exactly which numbers it holds). A long-running writing
  transaction anywhere in the cluster delays sealing (never loses events); keep
  ``idle_in_transaction_session_timeout`` set.
* PostgreSQL, after a restore into another cluster (``pg_dump``/``pg_restore`` into a new ``initdb``): transaction
  ids there start again from a low number, below the last seal's horizon. So every event also records the
  cluster it was written in (column ``cluster``, the cluster's system identifier, filled by a column default;
  migration 0007) and every seal the cluster its horizon counts in. When the sealer finds itself in another
  cluster than the last seal, one seal takes the old cluster's leftovers (its events at or above that seal's
  horizon: transactions that had committed but were not yet sealed when the dump was taken) together with the new
  cluster's events below the new horizon; from then on the new cluster's ids are counted. An event of any other
  cluster, or of an old cluster below its horizon, is never sealed and verification reports it. A restore into
  the same cluster (another database) and point-in-time recovery keep the cluster and its increasing ids.
* SQLite: one writer at a time holds the database lock from its first write to its commit, so events commit in
  number order and a seal takes every event after the previous seal's ``last_seq``.

Sealers take a transaction-scoped advisory lock (PostgreSQL) so that two of them never interleave; requests take
no lock at all. A unique constraint on ``prev_hash`` makes a fork of the chain impossible on either database.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .anchors import publish_anchors
from .canonical import GENESIS_HASH, ROW_COLUMNS, EventRow, canonical_line, encode_seqs, line_digest, seal_hash
from .daily import record_daily_counts
from .models import AuditEvent, AuditSeal

# pg_advisory_xact_lock key shared by the sealer and the purge ("tsunagu audit" in ASCII, as an integer).
ADVISORY_LOCK_KEY = 0x7473756E61677561


@dataclass(frozen=True)
class _Window:
    condition: str  # SQL over audit_auditevent
    params: list[int | None]
    horizon: int | None
    sealer_txid: int | None
    cluster: int | None = None


def take_sealing_lock() -> bool:
    """Serialise sealers and purges among themselves (never requests). False when another one holds it."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _snapshot_bounds() -> tuple[int, int]:
    """The oldest transaction still running (everything below it has finished), then the sealer's own
    transaction id, taken afterwards: every transaction that had begun writing before this point has a lower id.
    (The snapshot's ``xmax`` would not do: it is one past the last *completed* id, not the next one assigned.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        xmin = cursor.fetchone()[0]
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        own = cursor.fetchone()[0]
    return int(xmin), int(own)


def current_cluster() -> int | None:
    """PostgreSQL: the system identifier of the cluster this database runs in (changes with a new initdb)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsunagu_cluster_id()")
        return int(cursor.fetchone()[0])


def _pg_window(last: AuditSeal | None, batch_size: int) -> _Window | None:
    upper, sealer_txid = _snapshot_bounds()
    cluster = current_cluster()
    lower = last.txid_horizon if last is not None else None
    if last is not None and last.cluster is not None and last.cluster != cluster:
        # A restore into another cluster: the old cluster's leftovers and the new cluster's finished events, in
        # one seal (no batching: the two id ranges cannot be cut at one boundary).
        return _Window(
            condition="((cluster = %s AND txid >= %s) OR (cluster = %s AND txid < %s))",
            params=[last.cluster, lower, cluster, upper],
            horizon=upper,
            sealer_txid=sealer_txid,
            cluster=cluster,
        )
    if lower is not None and upper <= lower:
        return None

    def condition(up: int) -> tuple[str, list[int | None]]:
        if lower is None:  # the first seal also takes events written before the txid column existed
            return "(txid IS NULL OR txid < %s) AND (cluster IS NULL OR cluster = %s)", [up, cluster]
        if last is None or last.cluster is None:  # sealed before seals recorded their cluster
            return "txid >= %s AND txid < %s AND (cluster IS NULL OR cluster = %s)", [lower, up, cluster]
        return "txid >= %s AND txid < %s AND cluster = %s", [lower, up, cluster]

    where, params = condition(upper)
    with connection.cursor() as cursor:
        # More than a batch waiting: cut at a transaction boundary so one transaction's events stay together.
        cursor.execute(
            f"SELECT txid FROM audit_auditevent WHERE {where} ORDER BY txid NULLS FIRST, seq LIMIT 1 OFFSET %s",  # noqa: S608
            [*params, batch_size],
        )
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(
                f"SELECT txid FROM audit_auditevent WHERE {where} ORDER BY txid NULLS FIRST, seq LIMIT 1",  # noqa: S608
                params,
            )
            first = cursor.fetchone()[0]
            cut = row[0]
            if cut is None:  # more legacy (txid-less) events than a batch: seal them all at once
                cursor.execute(f"SELECT min(txid) FROM audit_auditevent WHERE {where}", params)  # noqa: S608
                cut = cursor.fetchone()[0] or upper
                upper = min(upper, cut)
            else:
                upper = min(upper, cut if first is None or first < cut else cut + 1)
            where, params = condition(upper)
    return _Window(condition=where, params=params, horizon=upper, sealer_txid=sealer_txid, cluster=cluster)


def _sqlite_window(last: AuditSeal | None, batch_size: int) -> _Window:
    after = last.last_seq if last is not None else 0
    ids = list(AuditEvent.objects.filter(seq__gt=after).order_by("seq").values_list("seq", flat=True)[: batch_size + 1])
    if len(ids) > batch_size:
        return _Window("seq > %s AND seq < %s", [after, ids[batch_size]], None, None)
    return _Window("seq > %s", [after], None, None)


def _seal_one(batch_size: int) -> AuditSeal | None:
    last = AuditSeal.objects.order_by("-id").defer("digests").first()
    if connection.vendor == "postgresql":
        window = _pg_window(last, batch_size)
        if window is None:
            return None
    else:
        window = _sqlite_window(last, batch_size)
    # Tuples, not model instances (building those cost more than serialising them).
    rows = (
        AuditEvent.objects.extra(where=[window.condition], params=window.params)  # noqa: S610 (fixed SQL, bound params)
        .order_by("seq")
        .values_list(*ROW_COLUMNS)
    )
    events = [EventRow(row) for row in rows]
    if not events:
        return None
    lines = [canonical_line(event) for event in events]
    prev_hash = last.seal_hash if last is not None else GENESIS_HASH
    seqs = [event.seq for event in events]
    seal = AuditSeal.objects.create(
        first_seq=seqs[0],
        last_seq=seqs[-1],
        count=len(seqs),
        seqs=encode_seqs(seqs),
        digests=b"".join(line_digest(line) for line in lines),
        prev_hash=prev_hash,
        seal_hash=seal_hash(prev_hash, lines),
        txid_horizon=window.horizon,
        sealer_txid=window.sealer_txid,
        cluster=window.cluster,
        created_at=timezone.now(),
    )
    record_daily_counts(seal, events)  # in the seal's transaction: the dashboard's counts of sealed events
    return seal


def seal_pending(*, batch_size: int | None = None, max_seals: int = 1000) -> list[AuditSeal]:
    """Seal every event that can be sealed now, in batches of about ``batch_size``; returns the new seals.

    Each batch is its own short transaction. Returns early (no error) if another sealer is running.
    """
    batch_size = batch_size or settings.AUDIT_SEAL_BATCH_SIZE
    seals: list[AuditSeal] = []
    for _ in range(max_seals):
        with transaction.atomic():
            if not take_sealing_lock():
                break
            seal = _seal_one(batch_size)
        if seal is None:
            break
        seals.append(seal)
    publish_anchors()
    return seals


def pending_condition(last: AuditSeal | None) -> tuple[str, list[int | None]]:
    """SQL over ``audit_auditevent`` selecting the events in no seal up to ``last`` (which a later seal takes or
    took): on PostgreSQL those at or above its transaction horizon (an index range on ``txid``), on SQLite those
    numbered after it."""
    if last is None:
        return "1 = 1", []
    if connection.vendor == "postgresql":
        cluster = current_cluster()
        if last.cluster is not None and last.cluster != cluster:
            return "((cluster = %s AND txid >= %s) OR cluster = %s)", [last.cluster, last.txid_horizon, cluster]
        return "(txid >= %s AND (cluster IS NULL OR cluster = %s))", [last.txid_horizon, cluster]
    return "seq > %s", [last.last_seq]


def unsealed_count() -> int:
    """Events not yet in any seal (on PostgreSQL: those a future seal will take)."""
    last = AuditSeal.objects.order_by("-id").defer("digests").first()
    condition, params = pending_condition(last)
    return AuditEvent.objects.extra(where=[condition], params=params).count()  # noqa: S610 (fixed SQL)
