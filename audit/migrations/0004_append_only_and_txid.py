"""Append-only triggers for the new audit tables, the purge-aware trigger function, and (PostgreSQL only) the
inserting transaction id of each event, which sealing uses to know when no earlier event can still commit."""

from django.db import migrations

from tsunagu.appendonly import install_append_only, migration_operation

_TXID_SQL = [
    "ALTER TABLE audit_auditevent ADD COLUMN IF NOT EXISTS txid bigint",
    "ALTER TABLE audit_auditevent ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    "CREATE INDEX IF NOT EXISTS audit_auditevent_txid ON audit_auditevent (txid)",
]


def reinstall_event_trigger(apps, schema_editor):
    install_append_only(schema_editor.connection, "audit_auditevent")


def add_txid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _TXID_SQL:
            schema_editor.execute(statement, params=None)


def drop_txid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE audit_auditevent DROP COLUMN IF EXISTS txid", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_seals_exposures")]
    operations = [
        # Re-installs the event trigger too: it now passes 'purgeable' to the updated function.
        migrations.RunPython(reinstall_event_trigger, reinstall_event_trigger, elidable=False),
        migration_operation("audit_auditexposure"),
        migration_operation("audit_auditseal"),
        migration_operation("audit_auditverification"),
        migration_operation("audit_auditpurge"),
        migrations.RunPython(add_txid, drop_txid, elidable=False),
    ]
