"""The API's settings are checked by Django's system checks (so by ``manage.py check`` and every start-up command):
a bad rate or page size is an error with its id, not a failure at the first request."""

import pytest
from django.core import checks

from api.checks import api_settings


def _ids():
    return [message.id for message in api_settings()]


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("API_THROTTLE_RATE", "600 per minute", "api.E001"),
        ("API_THROTTLE_RATE", "0/min", "api.E001"),
        ("API_AUTH_FAILURE_RATE", "20/fortnight", "api.E001"),
        ("API_PAGE_SIZE", 201, "api.E002"),
    ],
)
def test_a_bad_api_setting_is_a_system_check_error(settings, name, value, check_id):
    setattr(settings, name, value)
    assert _ids() == [check_id]


def test_the_shipped_api_settings_pass_and_the_check_is_registered():
    assert _ids() == []
    assert api_settings in checks.registry.registry.get_checks()
