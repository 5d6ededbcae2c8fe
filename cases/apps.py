from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "支援対象者"

    def ready(self) -> None:
        from audit import actions

        # Registers the Celery tasks in every process: the outbox publishes to them by name.
        from . import tasks  # noqa: F401
        from .actions import CASE_ACTION_TRAITS, CaseAction

        actions.register(CaseAction, traits=CASE_ACTION_TRAITS)
