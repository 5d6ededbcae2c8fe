from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "監査ログ"

    def ready(self) -> None:
        from tsunagu.appendonly import reinstall_all

        from . import (
            checks,  # noqa: F401 - registers the admin and key checks
            tasks,  # noqa: F401 - registers the audit tasks in every process (they are queued by name)
        )
        from .admin import audit_every_model_admin

        # The admin app (first in INSTALLED_APPS) has loaded every admin module by now: audit them all,
        # including the admins of third-party apps.
        audit_every_model_admin()

        def _reinstall(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
            reinstall_all(using=using)

        post_migrate.connect(_reinstall, sender=self, dispatch_uid="tsunagu-append-only")
