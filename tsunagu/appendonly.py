"""Database triggers that make a table append-only (UPDATE and DELETE rejected), on PostgreSQL and SQLite.

Installed by migrations, and re-installed after every ``migrate`` (idempotently), because SQLite rebuilds a table
to alter it and a rebuilt table would silently lose its triggers. TRUNCATE is deliberately not guarded by a
trigger (it would break test database flushing); in production the application role is not allowed to truncate.
"""

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tsunagu_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def install_append_only(connection, table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION, None)
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
            cursor.execute(
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION tsunagu_reject_change()"
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


def migration_operation(table: str):
    """A RunPython operation that installs the triggers for ``table`` (and removes them on reverse)."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        install_append_only(schema_editor.connection, table)

    def backwards(apps, schema_editor):
        remove_append_only(schema_editor.connection, table)

    return migrations.RunPython(forwards, backwards, elidable=False)


# Every append-only table; re-checked after each migrate.
APPEND_ONLY_TABLES = ("audit_auditevent", "cases_timelineentry")


def reinstall_all(using: str = "default", **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    existing = set(connection.introspection.table_names())
    for table in APPEND_ONLY_TABLES:
        if table in existing:
            install_append_only(connection, table)
