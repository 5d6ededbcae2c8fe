from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "監査ログ"

    def ready(self) -> None:
        from tsunagu.appendonly import reinstall_all

        def _reinstall(sender, using="default", **kwargs):
            reinstall_all(using=using)

        post_migrate.connect(_reinstall, sender=self, dispatch_uid="tsunagu-append-only")
