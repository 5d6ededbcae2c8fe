from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "支援対象者"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from audit import actions
        from audit import names as audit_names

        # Registers the Celery tasks in every process: the outbox publishes to them by name.
        from . import (
            checks,  # noqa: F401 - registers the attachment key checks
            review,
            tasks,  # noqa: F401
        )
        from .actions import CASE_ACTION_TRAITS, CaseAction, CaseReason

        actions.register(CaseAction, traits=CASE_ACTION_TRAITS)
        actions.register_reasons(CaseReason)
        audit_names.register(audit_names.CLIENT, review.case_numbers)

        from .text import register_sqlite_function

        # Timeline search compares normalised text in SQL; SQLite gets the normalisation as a function.
        connection_created.connect(register_sqlite_function, dispatch_uid="cases.text.sqlite_normalize")
