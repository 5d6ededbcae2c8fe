import time
from contextlib import contextmanager

import pytest
from django.db import connection, models, transaction

from audit import actions
from audit.sealing import seal_pending, unsealed_count
from tsunagu.appendonly import APPEND_ONLY_TABLES, install_append_only, remove_append_only

AUDIT_TABLES = [t for t in APPEND_ONLY_TABLES if t.startswith("audit_")]


class ProbeAction(models.TextChoices):
    """Codes that only these tests write, to tell their own events apart (``audit_record`` takes registered
    codes only). The ``test.`` namespace is left out of the vocabulary checks."""

    AS_APP = "test.as_app"
    EARLY = "test.early"
    KEPT = "test.kept"
    LATE = "test.late"
    MORE = "test.more"
    RECENT = "test.recent"
    ROLLED_BACK = "test.rolled_back"
    TARGET = "test.target"
    UNSEALED_AT_DUMP = "test.unsealed_at_dump"
    WRITE = "test.write"
    WRITE2 = "test.write2"


actions.register(ProbeAction)


# Sealing on PostgreSQL only takes events of finished transactions (and never those of the sealer's own), so tests
# that seal commit for real there; on SQLite they run in the usual rolled-back transaction.
sealing_db = pytest.mark.django_db(transaction=connection.vendor == "postgresql")


@pytest.fixture
def sealed_cast(cast):
    """The standing cast, for tests marked ``sealing_db``."""
    return cast


def seal_all(timeout: float = 60.0) -> None:
    """Seal until nothing is left. On PostgreSQL an unrelated open transaction anywhere on the cluster holds
    sealing back until it ends, so poll rather than assume."""
    deadline = time.monotonic() + timeout
    while True:
        seal_pending()
        if unsealed_count() == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{unsealed_count()} events still unsealed after {timeout}s")
        time.sleep(0.05)


@contextmanager
def triggers_bypassed():
    """Tamper as a database superuser would: PostgreSQL switches triggers off for the transaction; on SQLite the
    triggers are dropped and re-created."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield cursor
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            for table in AUDIT_TABLES:
                remove_append_only(connection, table)
            yield cursor
            for table in AUDIT_TABLES:
                install_append_only(connection, table)
