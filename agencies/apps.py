from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "関係機関"

    def ready(self) -> None:
        from audit import actions

        from . import signals  # noqa: F401 - login/logout audit receivers
        from .actions import AgencyAction

        actions.register(AgencyAction)
