from collections import Counter

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.services import apikey_issue


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def issue_key(user, **kwargs) -> tuple:
    """A key the user issued for themselves (the only way a person gets one)."""
    return apikey_issue(actor=Actor.for_user(user, channel="web"), user=user, name="test", **kwargs)


@pytest.fixture
def keys(cast):
    """One API key (plain text) per member of the standing cast."""
    return {name: issue_key(user)[1] for name, user in cast.users.items()}


@pytest.fixture
def api(keys):
    """``api("alice")``: a client sending alice's key; ``api(None)``: no credentials."""

    def make(name: str | None) -> APIClient:
        client = APIClient()
        if name is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[name]}")
        return client

    return make


# Requests sent by the schemathesis tests: (caller, "positive"/"negative", status) → count, summed up at the end.
SCHEMATHESIS_TALLY: Counter = Counter()


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker: the controller adds up and prints
        session.config.workeroutput["schemathesis"] = [[*key, count] for key, count in SCHEMATHESIS_TALLY.items()]


def pytest_terminal_summary(terminalreporter):
    write_schemathesis_tally(terminalreporter)


def write_schemathesis_tally(terminalreporter):
    if not SCHEMATHESIS_TALLY:
        return
    by_caller, by_mode, by_status = Counter(), Counter(), Counter()
    for (caller, mode, status), count in SCHEMATHESIS_TALLY.items():
        by_caller[caller] += count
        by_mode[mode] += count
        by_status[status] += count
    terminalreporter.write_sep("-", "schemathesis requests")
    terminalreporter.write_line(f"total {SCHEMATHESIS_TALLY.total()}: {dict(sorted(by_mode.items()))}")
    terminalreporter.write_line(f"by caller: {dict(sorted(by_caller.items()))}")
    terminalreporter.write_line(f"by status: {dict(sorted(by_status.items()))}")
