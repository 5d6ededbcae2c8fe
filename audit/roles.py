"""Database privileges for the audit tables in production (PostgreSQL).

The triggers stop UPDATE and DELETE by mistake; privileges stop them for good. The application connects as a
role that holds only SELECT and INSERT on the audit tables (and USAGE on their sequences) and owns none of them,
so it cannot UPDATE, DELETE or TRUNCATE them, nor drop or disable their triggers (both need ownership), nor
switch triggers off with ``session_replication_role`` (superuser only). Migrations and the retention purge run
as the owner role.

Typical setup::

    CREATE ROLE tsunagu_owner LOGIN PASSWORD '…';   -- runs migrate and purge_audit; owns every table
    CREATE ROLE tsunagu_app LOGIN PASSWORD '…';     -- the web, API and worker processes
    -- as tsunagu_owner, after migrate:
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tsunagu_app;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tsunagu_app;
    -- then narrow the audit tables (this module's SQL):
    python manage.py audit_db_roles --app-role tsunagu_app
"""

from django.db import connection

from tsunagu.appendonly import APPEND_ONLY_TABLES

AUDIT_TABLES = tuple(t for t in APPEND_ONLY_TABLES if t.startswith("audit_"))


class RoleProblem(Exception):
    pass


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def role_statements(*, app_role: str, tables: tuple[str, ...] = AUDIT_TABLES) -> list[str]:
    """The GRANT/REVOKE statements that leave ``app_role`` with SELECT and INSERT only on ``tables``."""
    if connection.vendor != "postgresql":
        raise RoleProblem("database roles apply to PostgreSQL only")
    role = _quote(app_role)
    statements: list[str] = []
    with connection.cursor() as cursor:
        for table in tables:
            quoted = _quote(table)
            statements += [
                f"REVOKE ALL ON TABLE {quoted} FROM PUBLIC",
                f"REVOKE ALL ON TABLE {quoted} FROM {role}",
                f"GRANT SELECT, INSERT ON TABLE {quoted} TO {role}",
            ]
            # The partitions of a partitioned table (audit.partitions): the application goes through the parent
            # only, so it gets nothing on them (a schema-wide GRANT would otherwise let it name one directly).
            cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [table])
            for (partition,) in cursor.fetchall():
                statements += [
                    f"REVOKE ALL ON TABLE {partition} FROM PUBLIC",
                    f"REVOKE ALL ON TABLE {partition} FROM {role}",
                ]
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                [table],
            )
            for (column,) in cursor.fetchall():
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
                sequence = cursor.fetchone()[0]
                if sequence:
                    statements += [
                        f"REVOKE ALL ON SEQUENCE {sequence} FROM {role}",
                        f"GRANT USAGE ON SEQUENCE {sequence} TO {role}",
                    ]
    return statements


def role_problems(*, app_role: str, tables: tuple[str, ...] = AUDIT_TABLES) -> list[str]:
    """Why ``app_role`` could still alter the audit tables whatever the grants say (empty: nothing)."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [app_role])
        row = cursor.fetchone()
        if row is None:
            return [f"role {app_role} does not exist"]
        if row[0]:
            problems.append(f"role {app_role} is a superuser")
        for table in tables:
            cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", [table])
            owner_row = cursor.fetchone()
            if owner_row is None:
                problems.append(f"table {table} does not exist (run migrate first)")
                continue
            owner = owner_row[0]
            cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner])
            if owner == app_role or cursor.fetchone()[0]:
                problems.append(f"role {app_role} owns {table} (or is a member of its owner {owner})")
    return problems


def apply_roles(*, app_role: str) -> list[str]:
    problems = role_problems(app_role=app_role)
    if problems:
        raise RoleProblem("; ".join(problems))
    statements = role_statements(app_role=app_role)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
