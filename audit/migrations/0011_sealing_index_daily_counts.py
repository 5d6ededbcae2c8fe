"""Sealing without re-sorting the backlog, and the dashboard's daily counts (issue 17).

* PostgreSQL: an index on ``(txid NULLS FIRST, seq)``, the order in which sealing cuts its batches (audit.sealing):
  finding the batch boundary reads one batch of index entries instead of sorting every unsealed event. It also
  serves every ``txid`` range the plain ``txid`` index of migration 0004 served, so that one goes (one index less
  to write per event). Built concurrently on a plain table (writers are not blocked meanwhile; the migration is
  not atomic for that reason), normally on a partitioned one (which cannot be indexed concurrently).
* ``AuditDailyCount`` (audit.daily), filled here from the seals made so far; sealing keeps it up to date.
"""

from django.db import migrations, models

_INDEX = "audit_event_txid_seq"


def _partitioned(cursor) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
    return cursor.fetchone()[0] == "p"


def add_sealing_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        how = "" if _partitioned(cursor) else "CONCURRENTLY"
        cursor.execute(f"CREATE INDEX {how} IF NOT EXISTS {_INDEX} ON audit_auditevent (txid NULLS FIRST, seq)")
        cursor.execute(f"DROP INDEX {how} IF EXISTS audit_auditevent_txid")


def drop_sealing_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        how = "" if _partitioned(cursor) else "CONCURRENTLY"
        cursor.execute(f"CREATE INDEX {how} IF NOT EXISTS audit_auditevent_txid ON audit_auditevent (txid)")
        cursor.execute(f"DROP INDEX {how} IF EXISTS {_INDEX}")


def count_sealed_events(apps, schema_editor):
    from audit.daily import count_uncounted_seals

    count_uncounted_seals(
        seal_model=apps.get_model("audit", "AuditSeal"),
        event_model=apps.get_model("audit", "AuditEvent"),
        count_model=apps.get_model("audit", "AuditDailyCount"),
        purge_model=apps.get_model("audit", "AuditPurge"),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0010_authorised_by_index")]

    operations = [
        migrations.RunPython(add_sealing_index, drop_sealing_index, elidable=False),
        migrations.CreateModel(
            name="AuditDailyCount",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("seal_id", models.BigIntegerField()),
                ("day", models.DateField()),
                ("agency_code", models.CharField(blank=True, max_length=32)),
                ("events", models.PositiveIntegerField()),
                ("denied", models.PositiveIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["day", "seal_id"], name="audit_daily_count_day")],
                "constraints": [
                    models.UniqueConstraint(fields=("seal_id", "day", "agency_code"), name="audit_daily_count_unique")
                ],
            },
        ),
        migrations.RunPython(count_sealed_events, migrations.RunPython.noop, atomic=True, elidable=False),
    ]
