from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0009_flag_summary_code_verification_channel"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("authorised_by", ""), _negated=True),
                fields=["authorised_by", "-seq"],
                name="audit_authorised_seq",
            ),
        ),
    ]
