"""PostgreSQL: the audit events table partitioned by month (declarative partitioning on ``occurred_at``).

Why: at millions of events a month, the retention purge deleting rows one by one (with the WAL, the vacuum and
the index bloat that go with it) costs more than the log itself; a month whose events are all purged is dropped
whole instead (``audit.retention``). Searches by period also touch only the months they span.

The layout (migration 0012, PostgreSQL only; SQLite keeps one plain table and everything below is a no-op there):

* ``audit_auditevent`` is partitioned by range of ``occurred_at``, one partition per calendar month in UTC
  (``audit_auditevent_p202612`` holds [2026-12-01 00:00 UTC, 2027-01-01 00:00 UTC)), plus a default partition
  (``audit_auditevent_default``) as a safety net: an event dated in a month that has no partition yet is still
  written there, never refused.
* PostgreSQL wants the partition key in every unique constraint, so the primary key is ``(seq, occurred_at)`` and
  the uniqueness of ``uuid`` is ``(uuid, occurred_at)``. The Django model keeps ``seq`` as its primary key (every
  query, ``event.pk`` and the selectors are unchanged): ``seq`` comes from one sequence (migration 0005) and the
  uuid is random, so both stay unique by construction. Exposure rows keep naming their event by ``seq`` without a
  database foreign key (one to a partitioned table would need ``occurred_at`` too); they are written by
  ``audit_record`` in the event's own transaction, so each names an event that exists (a test checks it).
* The append-only trigger is defined on the parent; PostgreSQL clones it onto every partition, present and future,
  so UPDATE and DELETE are rejected whether they name the parent or a partition.
* Partitions are made ahead of time: the migration makes one for every month that holds events plus the current
  and the next month, and ``ensure_partitions`` (the ``audit.tasks.ensure_audit_partitions`` beat task, hourly,
  and the purge) makes the current and next months. Only the table's owner may add a partition, and the
  application role owns nothing (``audit.roles``), so the work is done by ``tsunagu_audit_ensure_partitions()``, a
  ``SECURITY DEFINER`` function owned by the migrating role that can only add the months around now and those the
  default partition holds events of: such a month is carved out of the default partition (its rows move,
  unchanged, into the new partition). A bulk load of past events should make its months first (``add_months``).
* Adding a partition needs only a SHARE UPDATE EXCLUSIVE lock on the parent (the new month is built apart and
  attached), so writers are never blocked; it waits at most ``lock_timeout`` and is retried by the next run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

PARENT = "audit_auditevent"
DEFAULT_PARTITION = "audit_auditevent_default"
MONTH_PREFIX = "audit_auditevent_p"

# The functions the migration installs (owned by the migrating role; SECURITY DEFINER so that the application role,
# which owns no audit table, can make the next month's partition without being able to do anything else). Their
# search_path is pinned to the schema of the tables (``{schema}``), as a SECURITY DEFINER function's must be.
_FUNCTIONS_SQL = [
    r"""
    CREATE OR REPLACE FUNCTION tsunagu_audit_add_month(month_start timestamptz) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    DECLARE
        lower_bound timestamptz := date_trunc('month', month_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        upper_bound timestamptz := (date_trunc('month', month_start AT TIME ZONE 'UTC') + interval '1 month')
                                   AT TIME ZONE 'UTC';
        part text := 'audit_auditevent_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMM');
        cols text;
        purge_was text := coalesce(current_setting('tsunagu.allow_purge', true), 'off');
    BEGIN
        IF to_regclass(part) IS NOT NULL THEN
            RETURN false;
        END IF;
        -- Built apart and then attached: ATTACH needs only SHARE UPDATE EXCLUSIVE on the parent (writers go on),
        -- and ACCESS EXCLUSIVE on the default partition only (writers of months without a partition wait).
        EXECUTE format('CREATE TABLE %I (LIKE audit_auditevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        LOCK TABLE audit_auditevent_default IN ACCESS EXCLUSIVE MODE;
        IF EXISTS (SELECT 1 FROM audit_auditevent_default
                   WHERE occurred_at >= lower_bound AND occurred_at < upper_bound) THEN
            -- The default partition took events of this month meanwhile: they move, unchanged, into it.
            SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
              FROM pg_attribute WHERE attrelid = 'audit_auditevent'::regclass AND attnum > 0 AND NOT attisdropped;
            EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM audit_auditevent_default '
                           'WHERE occurred_at >= $1 AND occurred_at < $2', part, cols, cols)
                USING lower_bound, upper_bound;
            PERFORM set_config('tsunagu.allow_purge', 'on', true);
            DELETE FROM audit_auditevent_default WHERE occurred_at >= lower_bound AND occurred_at < upper_bound;
            PERFORM set_config('tsunagu.allow_purge', purge_was, true);
        END IF;
        EXECUTE format('ALTER TABLE audit_auditevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lower_bound, upper_bound);
        RETURN true;
    END
    $$
    """,
    r"""
    CREATE OR REPLACE FUNCTION tsunagu_audit_ensure_partitions(months_ahead integer DEFAULT 1) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    DECLARE
        made integer := 0;
        i integer;
        stray timestamp;
    BEGIN
        FOR i IN 0..least(greatest(months_ahead, 0), 12) LOOP
            IF tsunagu_audit_add_month(now() + make_interval(months => i)) THEN
                made := made + 1;
            END IF;
        END LOOP;
        -- Months the default partition took events of (no partition was ready): each gets its own.
        FOR stray IN SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')
                       FROM audit_auditevent_default ORDER BY 1 LOOP
            IF tsunagu_audit_add_month(stray AT TIME ZONE 'UTC') THEN
                made := made + 1;
            END IF;
        END LOOP;
        RETURN made;
    END
    $$
    """,
    # Any month can be added by the owner; the application role may only ask for the months around now.
    "REVOKE ALL ON FUNCTION tsunagu_audit_add_month(timestamptz) FROM PUBLIC",
]


def functions_sql(schema: str) -> list[str]:
    """The statements that (re)install the partition functions for tables in ``schema`` (quoted by the caller)."""
    return [statement.replace("{schema}", schema) for statement in _FUNCTIONS_SQL]


DROP_FUNCTIONS_SQL = [
    "DROP FUNCTION IF EXISTS tsunagu_audit_ensure_partitions(integer)",
    "DROP FUNCTION IF EXISTS tsunagu_audit_add_month(timestamptz)",
]

_BOUND = re.compile(r"FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None for the default partition
    upper: datetime | None

    @property
    def is_default(self) -> bool:
        return self.lower is None


def is_partitioned() -> bool:
    """Whether the events table is partitioned here (PostgreSQL after migration 0012)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [PARENT])
        return bool(cursor.fetchone()[0])


def _parse_bound(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def partitions() -> list[Partition]:
    """The partitions of the events table, months in order and the default partition last (empty if none)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [PARENT],
        )
        rows = cursor.fetchall()
    found: list[Partition] = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match is None:  # DEFAULT
            found.append(Partition(name, None, None))
        else:
            found.append(Partition(name, _parse_bound(match.group(1)), _parse_bound(match.group(2))))
    return sorted(found, key=lambda p: (p.lower is None, p.lower or datetime.min.replace(tzinfo=UTC)))


def ensure_partitions(months_ahead: int = 1) -> int:
    """Make the partitions of the current month and the next ``months_ahead`` (UTC) if missing; returns how many
    were made. A no-op on SQLite. Waits at most a few seconds for locks (the next run retries)."""
    if not is_partitioned():
        return 0
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("SELECT tsunagu_audit_ensure_partitions(%s)", [months_ahead])
        return int(cursor.fetchone()[0])


def add_months(first: datetime, last: datetime) -> int:
    """Make the partitions of every month from ``first`` to ``last`` (UTC) if missing, e.g. before a bulk load of
    past events (the owner role); returns how many were made."""
    made = 0
    month = first.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= last:
        made += add_month(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return made


def add_month(month_start: datetime) -> bool:
    """Make the partition of the month (UTC) holding ``month_start`` if missing (the owner role; tests and the
    purge's catch-up). True if made."""
    if not is_partitioned():
        return False
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT tsunagu_audit_add_month(%s)", [month_start])
        return bool(cursor.fetchone()[0])
