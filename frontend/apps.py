from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"
    verbose_name = "画面"

    def ready(self):
        from . import auth  # noqa: F401 - connects the lockout audit receiver
