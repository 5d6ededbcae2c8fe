"""Routing the privacy officer's reads (tsunagu.db_router) without a real replica: what the router sends where,
the fall-back when the replica fails in the middle of a search, and the settings that make the ``replica`` alias.
The real streaming replica is started by tests/audit/test_replica.py (PostgreSQL)."""

import json

import pytest
from django import test as django_test
from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.urls import reverse

from audit.models import AnomalyFlag, AuditEvent, AuditExposure
from cases.models import Client
from tests.mfa import sign_in
from tsunagu import db_router
from tsunagu.db_router import REPLICA, ReplicaRouter, ReplicaStatus, officer_reads

from .test_settings import _load_settings

router = ReplicaRouter()


def test_outside_officer_reads_everything_reads_the_primary():
    assert router.db_for_read(AuditEvent) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Client) == DEFAULT_DB_ALIAS
    event = AuditEvent()
    event._state.db = REPLICA  # read by an officer's search: what it leads to is read on the primary
    assert router.db_for_read(AuditExposure, instance=event) == DEFAULT_DB_ALIAS


def test_without_a_replica_officer_reads_read_the_primary():
    assert db_router.replica_status() is None

    @officer_reads
    def search():
        return router.db_for_read(AuditEvent), router.db_for_read(AuditExposure), router.db_for_read(Client)

    assert search() == (DEFAULT_DB_ALIAS, DEFAULT_DB_ALIAS, DEFAULT_DB_ALIAS)


def test_only_the_audit_log_is_read_from_the_replica_and_writes_go_to_the_primary(monkeypatch):
    monkeypatch.setattr(db_router, "replica_status", lambda: ReplicaStatus(usable=True, lag_seconds=0.0))

    @officer_reads
    def search():
        return {model.__name__: router.db_for_read(model) for model in (AuditEvent, AuditExposure, AnomalyFlag, Client)}

    assert search() == {
        "AuditEvent": REPLICA,
        "AuditExposure": REPLICA,
        "AnomalyFlag": DEFAULT_DB_ALIAS,
        "Client": DEFAULT_DB_ALIAS,
    }
    event = AuditEvent()
    event._state.db = REPLICA
    assert router.db_for_write(AuditEvent, instance=event) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "audit") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "audit") is None


def _failing_once(error: Exception, calls: list):
    @officer_reads
    def search():
        calls.append(router.db_for_read(AuditEvent))
        if len(calls) == 1:
            raise error
        return "found"

    return search


def test_a_replica_lost_during_a_search_is_searched_again_on_the_primary_and_left_alone(monkeypatch):
    monkeypatch.setattr(db_router, "replica_status", lambda: ReplicaStatus(usable=True, lag_seconds=0.0))
    monkeypatch.setattr(db_router, "_replica_broken", lambda: True)
    closed = []
    monkeypatch.setattr(db_router, "_mark_down", lambda: closed.append(True))
    calls: list = []
    assert _failing_once(DatabaseError("server closed the connection"), calls)() == "found"
    assert calls == [REPLICA, DEFAULT_DB_ALIAS] and closed == [True]


def test_a_query_cancelled_by_recovery_is_searched_again_on_the_primary(monkeypatch):
    monkeypatch.setattr(db_router, "replica_status", lambda: ReplicaStatus(usable=True, lag_seconds=0.0))
    monkeypatch.setattr(db_router, "_mark_down", lambda: pytest.fail("a live replica is not left alone"))
    error = DatabaseError("canceling statement due to conflict with recovery")
    cause = Exception("SQLSTATE 40001")
    cause.sqlstate = "40001"  # type: ignore[attr-defined]  # as psycopg's errors carry it
    error.__cause__ = cause
    calls: list = []
    assert _failing_once(error, calls)() == "found"
    assert calls == [REPLICA, DEFAULT_DB_ALIAS]


def test_an_error_that_is_not_the_replicas_is_raised(monkeypatch):
    monkeypatch.setattr(db_router, "replica_status", lambda: ReplicaStatus(usable=True, lag_seconds=0.0))
    monkeypatch.setattr(db_router, "_replica_broken", lambda: False)
    calls: list = []
    with pytest.raises(DatabaseError):
        _failing_once(DatabaseError("duplicate key"), calls)()
    assert calls == [REPLICA]


def test_the_dashboard_shows_no_replica_when_none_is_configured(cast):
    page = sign_in(django_test.Client(), cast.users["penny"]).get(reverse("frontend:privacy_dashboard"))
    assert page.status_code == 200 and "レプリカ" not in page.content.decode()


def test_the_replica_setting_makes_an_alias_with_a_short_connect_timeout():
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "r = settings.DATABASES['replica']; "
        "print(json.dumps([r['HOST'], r['PORT'], r['OPTIONS'], r['TEST'], settings.DATABASE_REPLICA_MAX_LAG_SECONDS, "
        "settings.DATABASE_ROUTERS]))"
    )
    result = _load_settings(
        {
            "DEBUG": "true",
            "DATABASE_URL": "postgres://app@db1:5432/tsunagu",
            "DATABASE_REPLICA_URL": "postgres://app@db2:5433/tsunagu",
            "DATABASE_REPLICA_MAX_LAG_SECONDS": "10",
        },
        code,
    )
    assert result.returncode == 0, result.stderr
    host, port, options, test, max_lag, routers = json.loads(result.stdout)
    assert routers == ["tsunagu.db_router.ReplicaRouter"]
    assert (host, port, max_lag) == ("db2", 5433, 10)
    assert options["connect_timeout"] == 2 and test["MIRROR"] == "default"


def test_without_a_replica_there_is_no_router():
    result = _load_settings(
        {"DEBUG": "true"},
        "import django; django.setup(); from django.conf import settings; print(settings.DATABASE_ROUTERS)",
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_a_replica_needs_postgresql():
    result = _load_settings({"DEBUG": "true", "DATABASE_REPLICA_URL": "postgres://app@db2:5433/tsunagu"})
    assert result.returncode != 0 and "DATABASE_REPLICA_URL needs PostgreSQL" in result.stderr
