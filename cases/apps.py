from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "支援対象者"

    def ready(self):
        # Registers the Celery tasks in every process: the outbox publishes to them by name.
        from . import tasks  # noqa: F401
