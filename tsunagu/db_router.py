"""The privacy officer's read-only searches on a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``).

Routing is explicit: only a function decorated with ``officer_reads`` (the review searches, the per-client
history, the disclosure report, the dashboard's statistics) reads from the replica, and only the audit log's own
tables (``REPLICA_MODELS``). Everything else stays on the primary: writes (the ``audit.view`` row that records the
search is written to the primary in the same call), case data, sessions, the anomaly flags the officer works on,
and every other reader of the audit tables (sealing, verification, the exporter), which must read what was just
written. A router that sent every read of the audit models to the replica would break those.

The replica is used only while it is usable: each decorated call first asks it how far behind the primary it is
(``replica_status``). When it is unreachable (a short ``connect_timeout``), it is not a standby, or it lags more
than ``DATABASE_REPLICA_MAX_LAG_SECONDS``, the call reads from the primary and a warning is logged; an
unreachable replica is not asked again for ``DATABASE_REPLICA_RETRY_SECONDS`` (each request would otherwise wait
on the dead one). A replica that fails in the middle of a call has that call run again on the primary: its
transaction on the primary (with its audit row) rolled back with the error, so the search is recorded once.

Lag: the replica has replayed everything when its replay position has reached the primary's current WAL position
read just before; otherwise it is the age of the last transaction it replayed (``now() -
pg_last_xact_replay_timestamp()`` on the replica), which over-states the lag after an idle spell on the primary —
on the safe side.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"
# What the officer's searches read: the log and its seals. Not ``audit.AnomalyFlag`` / ``audit.FlagNote`` (the
# officer writes review notes and reads them back at once), nor anything outside the audit log.
REPLICA_MODELS = frozenset(
    {"audit.auditevent", "audit.auditexposure", "audit.auditseal", "audit.auditverification", "audit.auditdigest"}
)

logger = logging.getLogger("tsunagu.replica")

_reading_from: ContextVar[str | None] = ContextVar("officer_reads_from", default=None)
_lock = threading.Lock()
_down_until = 0.0  # monotonic time before which the replica is not tried again (per process)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@dataclass(frozen=True)
class ReplicaStatus:
    usable: bool  # the officer's searches read from it now
    lag_seconds: float | None  # None: unknown (unreachable, or not a standby)
    passed_over: str = ""  # why it is not used: "unreachable", "not_standby", "lagging"; "" when usable


def _mark_down() -> None:
    global _down_until
    with _lock:
        _down_until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
    with suppress(DatabaseError):
        connections[REPLICA].close()


def _measure() -> tuple[bool, float | None]:
    """(in recovery, lag in seconds) read from the primary and the replica."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        primary_lsn = cursor.fetchone()[0]
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn, "
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
            [primary_lsn],
        )
        in_recovery, caught_up, age = cursor.fetchone()
    if not in_recovery:
        return False, None
    if caught_up:
        return True, 0.0
    return True, None if age is None else max(float(age), 0.0)


def replica_status() -> ReplicaStatus | None:
    """Whether the officer's searches read from the replica now, and its lag; None when none is configured."""
    if not replica_configured():
        return None
    if time.monotonic() < _down_until:
        return ReplicaStatus(usable=False, lag_seconds=None, passed_over="unreachable")
    try:
        in_recovery, lag = _measure()
    except DatabaseError as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        logger.warning("replica unreachable, reading from the primary: %s", first_line)
        _mark_down()
        return ReplicaStatus(usable=False, lag_seconds=None, passed_over="unreachable")
    if not in_recovery:
        logger.warning("DATABASE_REPLICA_URL is not a standby (not in recovery): reading from the primary")
        return ReplicaStatus(usable=False, lag_seconds=None, passed_over="not_standby")
    if lag is None or lag > settings.DATABASE_REPLICA_MAX_LAG_SECONDS:
        logger.warning(
            "replica lags %s s (bound %s s): reading from the primary",
            "?" if lag is None else f"{lag:.1f}",
            settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
        )
        return ReplicaStatus(usable=False, lag_seconds=lag, passed_over="lagging")
    return ReplicaStatus(usable=True, lag_seconds=lag)


@contextmanager
def _reading(alias: str) -> Iterator[None]:
    token = _reading_from.set(alias)
    try:
        yield
    finally:
        _reading_from.reset(token)


def _replica_broken() -> bool:
    """Whether the replica's connection is gone (after an error in a call reading from it)."""
    connection = connections[REPLICA]
    try:
        return connection.connection is None or not connection.is_usable()
    except DatabaseError:
        return True


def _recovery_conflict(exc: BaseException) -> bool:
    """A query the standby cancelled because replaying the primary's changes needed what it was reading
    (SQLSTATE 40001 on a standby: "canceling statement due to conflict with recovery")."""
    return getattr(exc.__cause__, "sqlstate", None) == "40001"


def officer_reads[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with its reads of the audit log (``REPLICA_MODELS``) on the replica when it is usable, on the
    primary otherwise (see the module's docstring). Writes go to the primary either way."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _reading_from.get() is not None:  # already decided by an outer call
            return func(*args, **kwargs)
        status = replica_status()
        if status is None or not status.usable:
            with _reading(DEFAULT_DB_ALIAS):
                return func(*args, **kwargs)
        try:
            with _reading(REPLICA):
                return func(*args, **kwargs)
        except DatabaseError as exc:
            if _recovery_conflict(exc):
                logger.warning("search cancelled on the replica (conflict with recovery), reading from the primary")
            elif _replica_broken():
                logger.warning("replica failed during a search, reading from the primary")
                _mark_down()
            else:
                raise
        with _reading(DEFAULT_DB_ALIAS):
            return func(*args, **kwargs)

    return wrapper


class ReplicaRouter:
    """``DATABASE_ROUTERS``: reads of ``REPLICA_MODELS`` inside ``officer_reads`` go where it decided; every other
    read and every write goes to the primary. The replica is never migrated: it is a physical copy of the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        alias = _reading_from.get()
        if alias is not None and model._meta.label_lower in REPLICA_MODELS:  # type: ignore[attr-defined]
            return alias
        # The primary, even for a related object reached from a row read on the replica (Django would otherwise
        # read it where that row came from, outside officer_reads and its checks).
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        # Always the primary, even for an object read from the replica (Django would otherwise write where the
        # object came from).
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: an event read there may be related to rows on the primary.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
