"""System checks for the API's settings: a value DRF would misread, or reject only at the first request, fails
``manage.py check`` (and so every start-up command) with a clear message instead."""

import re

from django.core import checks

RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


@checks.register()
def api_settings(app_configs=None, **kwargs):
    from django.conf import settings

    from tsunagu.keyset import MAX_PAGE_SIZE

    errors = [
        checks.Error(
            f"{name}={getattr(settings, name)!r} is not a rate",
            hint="Write a rate such as 600/min or 10/s (a positive number per s, min, h or day).",
            id="api.E001",
        )
        for name in ("API_THROTTLE_RATE", "API_AUTH_FAILURE_RATE")
        if not RATE.match(str(getattr(settings, name)))
    ]
    if settings.API_PAGE_SIZE > MAX_PAGE_SIZE:
        errors.append(
            checks.Error(
                f"API_PAGE_SIZE={settings.API_PAGE_SIZE} is above the maximum {MAX_PAGE_SIZE}",
                hint=f"Set API_PAGE_SIZE to {MAX_PAGE_SIZE} or less.",
                id="api.E002",
            )
        )
    return errors
