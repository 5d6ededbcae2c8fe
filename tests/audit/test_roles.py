"""Production privileges (PostgreSQL): the application role may only SELECT and INSERT audit rows."""

import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent, AuditSeal
from audit.roles import AUDIT_TABLES
from audit.services import SystemActor, audit_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def app_role():
    """A throw-away role, created inside the test's transaction (so it disappears with the rollback)."""
    name = f"tsunagu_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" NOLOGIN')
    return name


def refused(cursor, statement, params=None) -> str:
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        cursor.execute(statement, params)
    return str(info.value)


def test_print_shows_the_sql_and_changes_nothing(app_role, capsys):
    call_command("audit_db_roles", "--app-role", app_role, "--print")
    out = capsys.readouterr().out
    for table in AUDIT_TABLES:
        assert f'REVOKE ALL ON TABLE "{table}" FROM "{app_role}";' in out
        assert f'GRANT SELECT, INSERT ON TABLE "{table}" TO "{app_role}";' in out
    assert "GRANT USAGE ON SEQUENCE" in out
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, 'audit_auditevent', 'SELECT')", [app_role])
        assert cursor.fetchone()[0] is False


def test_the_app_role_can_insert_and_select_but_not_alter_or_erase(cast, app_role):
    call_command("audit_db_roles", "--app-role", app_role)
    seq = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{app_role}"')
        try:
            event = audit_record(actor=SystemActor(), action="test.as_app", client_ids=[cast.client.id])
            assert AuditEvent.objects.filter(seq=event.seq, action="test.as_app").exists()
            assert AuditEvent.objects.count() > 1 and AuditSeal.objects.count() == 0
            messages = [
                refused(cursor, "UPDATE audit_auditevent SET action = 'x' WHERE seq = %s", [seq]),
                refused(cursor, "DELETE FROM audit_auditevent WHERE seq = %s", [seq]),
                refused(cursor, "TRUNCATE audit_auditevent CASCADE"),
                refused(cursor, "TRUNCATE audit_auditseal"),
                refused(cursor, "UPDATE audit_auditseal SET seal_hash = 'x'"),
                refused(cursor, "DELETE FROM audit_auditexposure"),
            ]
            assert all("permission denied" in m for m in messages), messages
            for statement in (
                'DROP TRIGGER "audit_auditevent_append_only" ON audit_auditevent',
                "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
                "DROP TABLE audit_auditevent CASCADE",
            ):
                assert "must be owner" in refused(cursor, statement)
            assert "permission denied" in refused(cursor, "SET session_replication_role = replica")
            # Setting the purge switch does not help: the privilege is missing, not just the trigger's consent.
            with transaction.atomic():
                cursor.execute("SET LOCAL tsunagu.allow_purge = 'on'")
                assert "permission denied" in refused(cursor, "DELETE FROM audit_auditevent WHERE seq = %s", [seq])
        finally:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.filter(seq=seq).exists()


def test_an_owner_or_superuser_app_role_is_refused(app_role):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditevent'")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match=r"superuser|owns"):
        call_command("audit_db_roles", "--app-role", owner)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("audit_db_roles", "--app-role", "no_such_role_here")
