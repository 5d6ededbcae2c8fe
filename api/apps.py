import re

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tsunagu.keyset import MAX_PAGE_SIZE

_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        # Fail loudly at startup on a value DRF would otherwise misread or reject only at the first request.
        for name in ("API_THROTTLE_RATE", "API_AUTH_FAILURE_RATE"):
            value = getattr(settings, name)
            if not _RATE.match(value):
                raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 600/min or 10/s")
        if settings.API_PAGE_SIZE > MAX_PAGE_SIZE:
            raise ImproperlyConfigured(f"API_PAGE_SIZE={settings.API_PAGE_SIZE} is above the maximum {MAX_PAGE_SIZE}")
        from . import schema  # noqa: F401 - registers the Bearer security scheme with drf-spectacular
