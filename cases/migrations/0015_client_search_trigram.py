"""PostgreSQL: a trigram index on ``Client.search_key``, so that the case list's search (``search_key LIKE
'%term%'``: 氏名, フリガナ or case number, normalised by ``cases.text.normalize``) reads the few matching rows instead
of scanning every client.

The index needs the ``pg_trgm`` extension. The migration creates it when it is missing; ``pg_trgm`` is a trusted
extension (PostgreSQL 13+), so the database's owner, which runs migrate (docs/operations.md), may create it.
Where policy forbids that, a superuser creates it beforehand (``CREATE EXTENSION pg_trgm;`` in the database) and the
migration only adds the index. SQLite has no trigram index: the search there stays a scan (the quick start's data
is small), and this migration does nothing.
"""

from django.db import migrations

INDEX = "client_search_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            try:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as exc:  # no right to: the migration fails, saying what the DBA does
                raise RuntimeError(
                    "The pg_trgm extension is missing and this role may not create it: have a superuser run "
                    "'CREATE EXTENSION pg_trgm;' in this database, then migrate again (docs/operations.md)."
                ) from exc
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON cases_client USING gin (search_key gin_trgm_ops)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")  # the extension stays: others may use it


class Migration(migrations.Migration):
    dependencies = [("cases", "0014_kintone_import")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
