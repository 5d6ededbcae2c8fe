"""Database triggers that make a table append-only (UPDATE and DELETE rejected), on PostgreSQL and SQLite.

Installed by migrations, and re-installed after every ``migrate`` (idempotently), because SQLite rebuilds a table
to alter it and a rebuilt table would silently lose its triggers. TRUNCATE is deliberately not guarded by a
trigger (it would break test database flushing); in production the application role is not allowed to truncate
(see ``python manage.py audit_db_roles``).

The only sanctioned deletion is the audit retention purge (``python manage.py purge_audit``), and only on the
tables in ``PURGEABLE_TABLES``. It goes through ``purge_allowed()``: on PostgreSQL the trigger function lets a
DELETE through when the transaction has run ``SET LOCAL tsunagu.allow_purge = 'on'``; on SQLite the delete
trigger is dropped and re-created inside the purge transaction. Any role may set that variable, so the trigger is
a guard against mistakes, not against the application role: in production the application role holds no DELETE
privilege on these tables at all, and the purge runs as the owner role.
"""

from contextlib import contextmanager

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tsunagu_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_NARGS > 0 AND TG_ARGV[0] = 'purgeable'
            AND current_setting('tsunagu.allow_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'table % is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# Every append-only table; re-checked after each migrate.
APPEND_ONLY_TABLES = (
    "audit_auditevent",
    "audit_auditexposure",
    "audit_auditseal",
    "audit_auditverification",
    "audit_auditpurge",
    "audit_auditdigest",
    "audit_flagnote",
    "cases_timelineentry",
    "cases_inquiryreply",
    "cases_meetingminutes",
    "cases_attachment",
)
# Tables whose rows the retention purge may delete (whole sealed batches only, see audit.retention).
PURGEABLE_TABLES = ("audit_auditexposure", "audit_auditevent")


def install_append_only(connection, table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION, None)
            argument = "'purgeable'" if table in PURGEABLE_TABLES else ""
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
            cursor.execute(
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION tsunagu_reject_change({argument})"
            )
        elif connection.vendor == "sqlite":
            for op in ("UPDATE", "DELETE"):
                cursor.execute(
                    f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{op.lower()}" BEFORE {op} ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {op} rejected'); END"
                )
        else:  # pragma: no cover - only the two supported databases
            raise NotImplementedError(f"append-only triggers are not implemented for {connection.vendor}")


def remove_append_only(connection, table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
        else:
            for op in ("update", "delete"):
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_{op}"')


@contextmanager
def purge_allowed(connection, tables=PURGEABLE_TABLES):
    """Let DELETE through on ``tables`` for the rest of the current transaction's block (purge only).

    Must run inside ``transaction.atomic()``: if anything fails, the rollback also restores the guard.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("purge_allowed() must run inside a transaction")
    unknown = set(tables) - set(PURGEABLE_TABLES)
    if unknown:
        raise ValueError(f"not purgeable: {sorted(unknown)}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL tsunagu.allow_purge = 'on'")
        else:
            for table in tables:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_delete"')
    yield
    # Reached only on success; on failure the rollback undoes the SET LOCAL / DROP TRIGGER above.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL tsunagu.allow_purge = 'off'")
    if connection.vendor != "postgresql":
        for table in tables:
            install_append_only(connection, table)


def migration_operation(table: str):
    """A RunPython operation that installs the triggers for ``table`` (and removes them on reverse)."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        install_append_only(schema_editor.connection, table)

    def backwards(apps, schema_editor):
        remove_append_only(schema_editor.connection, table)

    return migrations.RunPython(forwards, backwards, elidable=False)


def reinstall_all(using: str = "default", **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    existing = set(connection.introspection.table_names())
    for table in APPEND_ONLY_TABLES:
        if table in existing:
            install_append_only(connection, table)
