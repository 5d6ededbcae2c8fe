from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from audit import actions

        from . import schema  # noqa: F401 - registers the Bearer security scheme with drf-spectacular
        from .actions import ApiAction, ApiReason

        actions.register(ApiAction)
        actions.register_reasons(ApiReason)
