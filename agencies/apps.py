from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "関係機関"

    def ready(self) -> None:
        from audit import actions
        from audit import names as audit_names

        from . import (
            selectors,
            signals,  # noqa: F401 - login/logout audit receivers
        )
        from .actions import AgencyAction, AgencyReason

        actions.register(AgencyAction)
        actions.register_reasons(AgencyReason)
        audit_names.register(audit_names.AGENCY, selectors.agency_names_by_code)
