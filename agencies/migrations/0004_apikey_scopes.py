from django.db import migrations, models


def full_scopes_for_existing_keys(apps, schema_editor):
    """Keys issued before scopes were enforced could do everything their user may: say so explicitly."""
    ApiKey = apps.get_model("agencies", "ApiKey")
    for key in ApiKey.objects.filter(scopes=[]):
        key.scopes = ["read", "write"]
        key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("agencies", "0003_login_throttle")]

    operations = [
        migrations.AlterField(model_name="apikey", name="scopes", field=models.JSONField(default=list)),
        migrations.RunPython(full_scopes_for_existing_keys, migrations.RunPython.noop),
    ]
