from django.db import migrations

from tsunagu.appendonly import migration_operation


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migration_operation("audit_auditevent")]
