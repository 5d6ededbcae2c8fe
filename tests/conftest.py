import pytest
from django.core.cache import cache
from django.db import connection

from tests.cast import build_cast


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need PostgreSQL; on SQLite they are deselected (reported in the summary)."""
    if connection.vendor == "postgresql":
        return
    selected, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("postgres") else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "permission_matrix(cases): a test that checks ``cases`` cases of the permission matrix"
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report the size of the permission matrix, counted from the tests that ran (not a written number)."""
    tests = cases = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            marker = getattr(report, "permission_matrix_cases", None)
            if marker is not None and getattr(report, "when", "") == "call":
                tests += 1
                cases += marker
    if tests:
        terminalreporter.write_line(f"permission matrix: {cases} cases in {tests} tests")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    marker = item.get_closest_marker("permission_matrix")
    if marker is not None:
        outcome.get_result().permission_matrix_cases = marker.kwargs["cases"]


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts (per key, per address) belong to one test: 127.0.0.1 is every test's address."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def cast(db):
    return build_cast()
