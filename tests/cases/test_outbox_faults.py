"""Fault injection on the outbox: PostgreSQL, a real Celery worker (a ``celery -A tsunagu worker`` subprocess) and
a Redis of the test's own. Every expected notice must arrive, exactly once, within a bounded time.

- the database goes away while the worker consumes (connections cut, new ones refused);
- Redis restarts without persistence after the messages were published and before they were consumed;
- the worker is killed with SIGKILL in the middle of a message, holding others it had prefetched.

The periodic relay is what beat runs every 10 s; the tests call it themselves, once a second.
"""

import re
from collections import Counter

import psycopg
import psycopg.sql
import pytest
from django.db import connection

from cases import services
from cases.models import Notification, OutboxMessage
from cases.outbox import outbox_relay
from tests.cases.processes import (
    RedisServer,
    Worker,
    celery_broker,
    reset_broker_connections,
    wait_for,
    worker_database_url,
)
from tests.cast import build_cast

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ENTRIES = 30
RECIPIENTS = {"alice", "sam", "ada", "bob"}  # carol appends: the other sharing agencies' staff


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    with celery_broker(server.url):
        yield server
        server.stop()


@pytest.fixture
def workers(redis_server, tmp_path):
    """Start workers with ``workers(lease=…)``; all are stopped at the end."""
    started = []

    def start(*, lease: int) -> Worker:
        worker = Worker(redis_server.url, tmp_path, OUTBOX_LEASE_SECONDS=str(lease))
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()


def _append_entries(cast) -> list:
    carol = cast.actor("carol")
    return [
        services.timeline_append(actor=carol, client_id=cast.client.id, kind="call", body=f"電話 {i}").id
        for i in range(ENTRIES)
    ]


def _relay():
    """What beat's periodic relay does; a broker error is the relay's to report, not the test's."""
    outbox_relay()


def _all_finished() -> bool:
    return not OutboxMessage.objects.filter(finished_at__isnull=True).exists()


def _assert_every_notice_exactly_once(entry_ids):
    notices = list(Notification.objects.filter(entry_id__in=entry_ids).values_list("entry_id", "recipient__username"))
    assert len(notices) == len(set(notices)) == ENTRIES * len(RECIPIENTS)  # none missing, none twice
    assert {(e, r) for e in entry_ids for r in RECIPIENTS} == set(notices)
    assert _all_finished()


def _wait_for_notices(entry_ids, timeout):
    expected = ENTRIES * len(RECIPIENTS)
    done = wait_for(
        lambda: Notification.objects.filter(entry_id__in=entry_ids).count() >= expected and _all_finished(),
        timeout=timeout,
        interval=1.0,
        between=_relay,
    )
    unfinished = list(OutboxMessage.objects.filter(finished_at__isnull=True).values("pk", "published_at"))
    assert done, f"{Notification.objects.filter(entry_id__in=entry_ids).count()}/{expected} notices; {unfinished}"


def _database_refuses_connections(refuse: bool):
    """The test database stops (or resumes) accepting connections; with ``refuse``, every connection to it but
    this test's own is cut. Other databases on the server are untouched."""
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    maintenance = worker_database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as admin:
        quoted = psycopg.sql.Identifier(name)
        allow = psycopg.sql.SQL("false" if refuse else "true")
        admin.execute(psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(quoted, allow))
        if refuse:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s", [name, own]
            )


def test_a_database_outage_during_consumption_loses_no_notice(redis_server, workers, settings):
    # A lease far beyond the test: only the consumer's own retries can deliver these messages.
    settings.OUTBOX_LEASE_SECONDS = 3600
    worker = workers(lease=3600)
    cast = build_cast()
    assert wait_for(_all_finished, timeout=60, interval=0.5, between=_relay)  # the worker has a live connection

    _database_refuses_connections(True)
    try:
        entry_ids = _append_entries(cast)  # this test's connection still works; the worker's is gone
        assert outbox_relay() == ENTRIES
        # the worker takes every message and fails on the database; each is retried later, not acknowledged as done
        assert wait_for(lambda: redis_server.client().llen("celery") == 0, timeout=60)
        assert wait_for(lambda: _retried(worker) >= ENTRIES, timeout=60)
        assert not Notification.objects.filter(entry_id__in=entry_ids).exists()
        assert OutboxMessage.objects.filter(finished_at__isnull=True).count() == ENTRIES
    finally:
        _database_refuses_connections(False)

    _wait_for_notices(entry_ids, timeout=150)
    _assert_every_notice_exactly_once(entry_ids)


def _retried(worker) -> int:
    """How many consumer tasks the worker received more than once (a retry keeps its task id)."""
    received = Counter(re.findall(r"process_outbox_message\[([0-9a-f-]+)\] received", worker.log()))
    return sum(1 for count in received.values() if count > 1)


def test_a_broker_restart_without_persistence_loses_no_notice(redis_server, workers, settings):
    settings.OUTBOX_LEASE_SECONDS = 3
    cast = build_cast()
    entry_ids = _append_entries(cast)
    assert outbox_relay() > ENTRIES  # every message is in Redis, and no worker has taken any
    assert redis_server.client().llen("celery") > ENTRIES

    redis_server.stop()  # Redis restarts empty: everything it held is gone
    redis_server.start()
    reset_broker_connections()
    assert redis_server.client().llen("celery") == 0

    workers(lease=3)
    _wait_for_notices(entry_ids, timeout=90)
    _assert_every_notice_exactly_once(entry_ids)


def test_a_worker_killed_mid_message_loses_and_strands_no_notice(redis_server, workers, settings):
    settings.OUTBOX_LEASE_SECONDS = 3
    first = workers(lease=3)
    cast = build_cast()
    assert wait_for(_all_finished, timeout=60, interval=0.5, between=_relay)

    # Hold back the worker inside its first message: inserting a notice waits for this lock.
    blocker = psycopg.connect(worker_database_url(), autocommit=False)
    try:
        blocker.execute("LOCK TABLE cases_notification IN SHARE MODE")
        entry_ids = _append_entries(cast)  # each commit nudges the worker's relay
        assert outbox_relay() >= 0
        assert wait_for(_worker_waits_on_a_lock, timeout=60)
        first.kill()  # SIGKILL mid-message, with prefetched messages unacknowledged in Redis
        assert redis_server.client().hlen("unacked") > 0  # stranded until Redis's visibility timeout
    finally:
        blocker.rollback()
        blocker.close()

    workers(lease=3)
    _wait_for_notices(entry_ids, timeout=90)
    _assert_every_notice_exactly_once(entry_ids)


def _worker_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
