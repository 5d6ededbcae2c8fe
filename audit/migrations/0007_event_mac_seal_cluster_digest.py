"""Each event's MAC (audit.signing), the cluster whose transaction ids a seal's horizon counts, the daily signed
digest, and (PostgreSQL only) the cluster each event was written in, so sealing survives a restore into another
cluster (audit.sealing)."""

from django.db import migrations, models

from tsunagu.appendonly import migration_operation

_CLUSTER_SQL = [
    # Readable by any role (no superuser needed); pg_dump carries the function and the default to the new cluster,
    # where it returns that cluster's identifier.
    """
    CREATE OR REPLACE FUNCTION tsunagu_cluster_id() RETURNS bigint LANGUAGE sql STABLE AS $$
        SELECT system_identifier FROM pg_control_system()
    $$
    """,
    "ALTER TABLE audit_auditevent ADD COLUMN IF NOT EXISTS cluster bigint",
    "ALTER TABLE audit_auditevent ALTER COLUMN cluster SET DEFAULT tsunagu_cluster_id()",
]


def add_cluster(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _CLUSTER_SQL:
            schema_editor.execute(statement, params=None)


def drop_cluster(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE audit_auditevent DROP COLUMN IF EXISTS cluster", params=None)
        schema_editor.execute("DROP FUNCTION IF EXISTS tsunagu_cluster_id()", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_review'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditDigest',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField()),
                ('seal_id', models.BigIntegerField()),
                ('last_seq', models.BigIntegerField()),
                ('seal_hash', models.CharField(max_length=64)),
                ('text', models.TextField()),
                ('signature', models.CharField(max_length=100)),
            ],
            options={
                'verbose_name': '監査ログの署名付きダイジェスト',
                'verbose_name_plural': '監査ログの署名付きダイジェスト',
                'ordering': ['-id'],
            },
        ),
        migrations.AddField(
            model_name='auditevent',
            name='mac',
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddField(
            model_name='auditseal',
            name='cluster',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='auditverification',
            name='kind',
            field=models.CharField(choices=[('ok', '正常'), ('changed_event', '記録の改変'), ('deleted_event', '記録の削除'), ('inserted_event', '記録の挿入'), ('reordered_events', '記録の入れ替え'), ('broken_chain', '封印の連鎖の破損'), ('missing_tail', '末尾の欠落'), ('deleted_seal', '封印の削除'), ('forged_event', '記録の偽造')], max_length=16),
        ),
        migration_operation("audit_auditdigest"),
        migrations.RunPython(add_cluster, drop_cluster, elidable=False),
    ]
