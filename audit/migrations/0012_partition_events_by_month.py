"""PostgreSQL: the events table partitioned by month of ``occurred_at`` (see audit.partitions). SQLite: unchanged.

Works on a populated database, in one transaction: the table is locked against writers, a partitioned copy is
built with a partition for every month that holds events (plus the current and next month and a default one),
the rows are copied as they are (``seq``, ``txid``, ``cluster`` and ``mac`` included, so every seal still
verifies), and the copy takes the table's name, indexes, grants, append-only trigger and the sequence from
migration 0005 (its ``seq`` default, which draws the number after the transaction id, is carried over with the
column). The exposures' database foreign key to ``seq`` is dropped first: a foreign key to a partitioned table
would have to name ``occurred_at`` too (see audit.partitions for how integrity is kept).

Reversible: backwards copies the rows into a plain table again and restores the primary key on ``seq`` (then the
foreign key comes back). Either way the copy takes as long as reading and writing the table once.
"""

from django.db import migrations, models

from tsunagu.appendonly import install_append_only

_TABLE = "audit_auditevent"


def _columns(cursor, table: str) -> str:
    cursor.execute(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    return cursor.fetchone()[0]


def _plain_indexes(cursor, table: str) -> list[str]:
    """CREATE INDEX statements of the table's indexes that back no constraint (those are re-made by hand)."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY i.indexrelid",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _grants(cursor, table: str) -> list[str]:
    """GRANT statements that give the new table the old one's privileges (the owner's own are implicit)."""
    cursor.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type "
        "FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        [table],
    )
    return [f"GRANT {privilege} ON TABLE {_TABLE} TO {grantee}" for grantee, privilege in cursor.fetchall()]


def _swap(cursor, new: str, indexes: list[str], grants: list[str]) -> None:
    """The copy ``new`` takes the table's place: the sequence of migration 0005 moves over (it is owned by the
    column, and would go with the old table), then the old table goes and its indexes are re-made on the copy."""
    cursor.execute(f"ALTER SEQUENCE {_TABLE}_seq_seq OWNED BY NONE")
    cursor.execute(f"DROP TABLE {_TABLE}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {_TABLE}")
    cursor.execute(f"ALTER SEQUENCE {_TABLE}_seq_seq OWNED BY {_TABLE}.seq")
    for statement in indexes + grants:
        cursor.execute(statement)


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from audit.partitions import functions_sql

    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {_TABLE} IN ACCESS EXCLUSIVE MODE")
        columns = _columns(cursor, _TABLE)
        indexes = _plain_indexes(cursor, _TABLE)
        grants = _grants(cursor, _TABLE)
        new = f"{_TABLE}_partitioned"
        cursor.execute(
            f"CREATE TABLE {new} (LIKE {_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (occurred_at)"
        )
        cursor.execute(f"CREATE TABLE {_TABLE}_default PARTITION OF {new} DEFAULT")
        # Every month that holds events, and the current and next ones (UTC months).
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM {_TABLE} "  # noqa: S608
            "UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') "
            "UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month' ORDER BY 1"
        )
        for (month,) in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE {_TABLE}_p{month:%Y%m} PARTITION OF {new} "
                "FOR VALUES FROM (%s::timestamp AT TIME ZONE 'UTC') TO ((%s::timestamp + interval '1 month') AT TIME ZONE 'UTC')",
                [month, month],
            )
        cursor.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {_TABLE}")  # noqa: S608
        _swap(cursor, new, indexes, grants)
        cursor.execute(f"ALTER TABLE {_TABLE} ADD CONSTRAINT {_TABLE}_pkey PRIMARY KEY (seq, occurred_at)")
        cursor.execute(f"ALTER TABLE {_TABLE} ADD CONSTRAINT {_TABLE}_uuid_key UNIQUE (uuid, occurred_at)")
        cursor.execute("SELECT quote_ident(current_schema())")
        for statement in functions_sql(cursor.fetchone()[0]):
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {_TABLE}")
    install_append_only(connection, _TABLE)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from audit.partitions import DROP_FUNCTIONS_SQL

    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {_TABLE} IN ACCESS EXCLUSIVE MODE")
        columns = _columns(cursor, _TABLE)
        indexes = _plain_indexes(cursor, _TABLE)
        grants = _grants(cursor, _TABLE)
        new = f"{_TABLE}_plain"
        cursor.execute(f"CREATE TABLE {new} (LIKE {_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {_TABLE}")  # noqa: S608
        _swap(cursor, new, indexes, grants)
        cursor.execute(f"ALTER TABLE {_TABLE} ADD CONSTRAINT {_TABLE}_pkey PRIMARY KEY (seq)")
        cursor.execute(f"ALTER TABLE {_TABLE} ADD CONSTRAINT {_TABLE}_uuid_key UNIQUE (uuid)")
        for statement in DROP_FUNCTIONS_SQL:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {_TABLE}")
    install_append_only(connection, _TABLE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0011_sealing_index_daily_counts")]

    operations = [
        migrations.AlterField(
            model_name="auditexposure",
            name="event",
            field=models.ForeignKey(
                db_column="event_seq",
                db_constraint=False,
                on_delete=models.DO_NOTHING,
                related_name="exposures",
                to="audit.auditevent",
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
