from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from audit import actions

        from . import checks, schema  # noqa: F401 - system checks; the Bearer security scheme for drf-spectacular
        from .actions import ApiAction

        actions.register(ApiAction)
