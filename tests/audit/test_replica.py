"""The privacy officer's searches on a real PostgreSQL streaming replica (tsunagu.db_router).

The test starts a primary cluster of its own (the machine's cluster does not accept replication connections), copies
the test database into it, makes a standby with ``pg_basebackup -R`` on another port and points the application at
both: ``default`` at the new primary, ``replica`` at the standby. Replay is paused on the standby so that what a
search returns tells where it was read: an event written after the pause is on the primary only."""

import copy
import logging
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.services import apikey_issue
from audit.models import AuditEvent
from audit.services import SystemActor, audit_record
from tests.mfa import sign_in
from tsunagu import db_router

from .conftest import ProbeAction
from .test_restore import Clusters, _as_postgres, _pg_bin, _run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clusters():
    made = Clusters()
    try:
        yield made
    finally:
        made.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@contextmanager
def _default_on(port: int):
    """The application's ``default`` database on another server (a copy of the test database under its name)."""
    conn = connections[DEFAULT_DB_ALIAS]
    conn.close()
    saved = dict(conn.settings_dict)
    conn.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)


def _allow_alias(monkeypatch, alias: str) -> None:
    """Let the running test case connect to ``alias``, added after it started: Django refuses connections to
    aliases not in the test case's ``databases`` through a patched ``ensure_connection`` that reads them from the
    class it closes over (pytest-django makes that class; the marker cannot name an alias that does not exist yet)."""
    patched = BaseDatabaseWrapper.ensure_connection
    cells = dict(zip(patched.__code__.co_freevars, patched.__closure__ or (), strict=True))
    test_case = cells["cls"].cell_contents
    monkeypatch.setattr(test_case, "databases", {*test_case.databases, alias})


@contextmanager
def _replica_at(port: int):
    """A ``replica`` alias, as settings.py makes one from DATABASE_REPLICA_URL."""
    config = copy.deepcopy(connections.settings[DEFAULT_DB_ALIAS])
    config.update(HOST="127.0.0.1", PORT=port, TEST={"MIRROR": DEFAULT_DB_ALIAS})
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "connect_timeout": 2}
    connections.settings[db_router.REPLICA] = config
    try:
        yield
    finally:
        connections[db_router.REPLICA].close()
        del connections[db_router.REPLICA]
        del connections.settings[db_router.REPLICA]


@pytest.fixture
def replicated(cast, clusters, tmp_path, monkeypatch, settings):
    """(standby URL, standby data directory): the test database on a new primary and its standby, the application
    pointed at them."""
    monkeypatch.setattr(db_router, "_down_until", 0.0)
    settings.DATABASE_ROUTERS = ["tsunagu.db_router.ReplicaRouter"]  # as settings.py sets it with a replica
    _allow_alias(monkeypatch, db_router.REPLICA)
    source = connections[DEFAULT_DB_ALIAS].settings_dict
    name = source["NAME"]
    primary = clusters.start(clusters.initdb("primary"))
    dump = tmp_path / "test.dump"
    source_url = f"postgres://{source['USER'] or 'postgres'}@{source['HOST'] or '127.0.0.1'}:{source['PORT'] or 5432}"
    _run(["pg_dump", "-Fc", "-O", "-x", "-f", str(dump), "-d", f"{source_url}/{name}"])
    with psycopg.connect(f"{primary}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _run(["pg_restore", "-O", "-x", "-d", f"{primary}/{name}", str(dump)])
    standby_data = clusters.base / "standby"
    _run(
        _as_postgres(
            [
                *(_pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(_port(primary)), "-U", "postgres"),
                *("-D", str(standby_data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
            ]
        )
    )
    standby = clusters.start(standby_data)
    with _default_on(_port(primary)), _replica_at(_port(standby)):
        yield f"{standby}/{name}", standby_data


def _on_standby(standby: str, sql: str, params=()) -> tuple:
    with psycopg.connect(standby, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()


def _seqs(api: APIClient, action: str) -> set[int]:
    response = api.get("/api/v1/audit/events/", {"action": action})
    assert response.status_code == 200, response.content
    return {event["seq"] for event in response.json()["results"]}


def _last_view() -> AuditEvent:
    return AuditEvent.objects.filter(action="audit.view", actor_username="penny").latest("seq")


def test_officer_searches_read_the_replica_and_fall_back_to_the_primary(replicated, cast, clusters, settings, caplog):
    standby, standby_data = replicated
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
    caplog.set_level(logging.WARNING, logger="tsunagu.replica")
    penny = cast.users["penny"]
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {apikey_issue(actor=Actor.for_user(penny, channel='web'), user=penny, name='t')[1]}"
    )
    browser = sign_in(Client(), penny)

    before = audit_record(actor=SystemActor(channel="task"), action=ProbeAction.EARLY).seq
    _wait(
        lambda: _on_standby(standby, "SELECT count(*) FROM audit_auditevent WHERE seq = %s", [before])[0] == 1,
        "the standby never replayed the first event",
    )
    _on_standby(standby, "SELECT pg_wal_replay_pause()")
    _wait(lambda: _on_standby(standby, "SELECT pg_get_wal_replay_pause_state()")[0] == "paused", "replay not paused")
    after = audit_record(actor=SystemActor(channel="task"), action=ProbeAction.EARLY).seq

    # Read from the standby (it has not replayed `after`); the search's own audit row is on the primary.
    with (
        CaptureQueriesContext(connections[db_router.REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
    ):
        assert _seqs(api, ProbeAction.EARLY) == {before}
    assert any('FROM "audit_auditevent"' in q["sql"] for q in on_replica.captured_queries)
    assert not any("INSERT" in q["sql"] for q in on_replica.captured_queries)
    assert any('INSERT INTO "audit_auditevent"' in q["sql"] for q in on_primary.captured_queries)
    view = _last_view()
    assert view.details["filters"] == {"action": ProbeAction.EARLY} and view.details["count"] == 1
    assert _on_standby(standby, "SELECT count(*) FROM audit_auditevent WHERE seq = %s", [view.seq])[0] == 0

    # The browser's search and the dashboard read there too; the dashboard shows the lag.
    page = browser.get(reverse("frontend:privacy_events"), {"action": ProbeAction.EARLY})
    assert page.status_code == 200
    dashboard = browser.get(reverse("frontend:privacy_dashboard")).content.decode()
    assert 'data-testid="replica-lag"' in dashboard and "レプリカの遅延" in dashboard and " 秒" in dashboard
    assert "監査ログの検索と集計はレプリカから読み取っています。" in dashboard

    # Lagging beyond the bound: the primary answers.
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0
    assert _seqs(api, ProbeAction.EARLY) == {before, after}
    assert "replica lags" in caplog.text
    dashboard = browser.get(reverse("frontend:privacy_dashboard")).content.decode()
    assert "遅延が上限を超えたため、プライマリから読み取っています。" in dashboard

    # Caught up again: the standby answers, with everything.
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
    _on_standby(standby, "SELECT pg_wal_replay_resume()")
    _wait(
        lambda: _on_standby(standby, "SELECT count(*) FROM audit_auditevent WHERE seq = %s", [after])[0] == 1,
        "the standby never caught up",
    )
    with CaptureQueriesContext(connections[db_router.REPLICA]) as on_replica:
        assert _seqs(api, ProbeAction.EARLY) == {before, after}
    assert any('FROM "audit_auditevent"' in q["sql"] for q in on_replica.captured_queries)

    # The standby stopped: the same searches succeed on the primary, and the dead standby is not asked again
    # for every request.
    caplog.clear()
    clusters.stop(standby_data)
    assert _seqs(api, ProbeAction.EARLY) == {before, after}
    assert _last_view().details["count"] == 2
    assert browser.get(reverse("frontend:privacy_events"), {"action": ProbeAction.EARLY}).status_code == 200
    dashboard = browser.get(reverse("frontend:privacy_dashboard"))
    assert dashboard.status_code == 200
    assert "レプリカに接続できないため、プライマリから読み取っています。" in dashboard.content.decode()
    assert caplog.text.count("replica unreachable") == 1
