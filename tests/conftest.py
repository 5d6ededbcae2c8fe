import copy
import logging
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone, translation
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from pytest_django.fixtures import validate_django_db
from pytest_django.plugin import blocking_manager_key

from cases.models import OutboxMessage
from tests.cast import build_cast
from tsunagu.appendonly import APPEND_ONLY_TABLES, install_append_only, remove_append_only

# Property tests judge their examples, not the clock: no per-example deadline and no "input generation is slow"
# health check, whose verdict depends on how busy the machine is (a shared CI machine failed a regex strategy on
# it). Every other health check stays on.
hypothesis_settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("suite")

# Tests that start processes of their own run one at a time within their group, each group on one pytest-xdist
# worker (``--dist loadgroup``); everything else is spread over the workers. The browser tests (Chromium and a live
# server) are one group, the other processes (Redis, Celery workers, PostgreSQL clusters, clamd, moto's S3, the
# production smoke test, the README's commands) another, so that the two long queues run side by side.
PROCESS_FIXTURES = ("redis_server", "clusters", "clamd", "moto_s3")
BROWSER_FIXTURES = ("browser",)


def _join_group(item) -> None:
    """What pytest-xdist's ``--dist loadgroup`` does on a worker: the group's name after an ``@`` in the node id,
    which the controller reads to send the group's tests to one worker. pytest-xdist 3.8 writes ``item._nodeid``,
    which pytest 9.2 no longer reads (the id is ``item._id``; pytest-xdist issue #1386), so every test was
    scheduled on its own; and it does so before this conftest's markers are added. Done here, for both."""
    groups = sorted(
        {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
    )
    if not groups or "@" in item.nodeid.rpartition("]")[2]:
        return  # no group, or pytest-xdist has already named it
    nodeid = f"{item.nodeid}@{'_'.join(groups)}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(nodeid)
    else:
        item._nodeid = nodeid


def pytest_addoption(parser):
    parser.addoption(
        "--db-tests-only",
        action="store_true",
        help="run only the tests that use the database (make test-sqlite: the others ran in the PostgreSQL pass)",
    )


def _needs_db(item) -> bool:
    """Whether the test can reach the database: through pytest-django's fixtures or marker, or through a fixture of
    this suite that unblocks it (``django_db_blocker``). A test that cannot is the same on either engine."""
    if _uses_db(item) or "django_db_setup" in getattr(item, "fixturenames", ()):
        return True
    definitions = getattr(item, "_fixtureinfo", None)
    return definitions is None or any(
        "django_db_blocker" in definition.argnames and definition.baseid  # baseid "": a plugin's (pytest-django's)
        for chain in definitions.name2fixturedefs.values()
        for definition in chain
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need PostgreSQL; on SQLite they are deselected (reported in the summary). With
    ``--db-tests-only`` (the SQLite pass of ``make test``) the tests that use no database are deselected too: they
    run the same on either engine, and the PostgreSQL pass has run them."""
    loadgroup = getattr(config.option, "loadgroup", False)  # set on pytest-xdist's workers for --dist loadgroup
    for item in items:
        if any(name in item.fixturenames for name in BROWSER_FIXTURES):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif any(name in item.fixturenames for name in PROCESS_FIXTURES):
            item.add_marker(pytest.mark.xdist_group("processes"))
        if loadgroup:
            _join_group(item)
    postgres = connection.vendor == "postgresql"
    db_tests_only = config.getoption("db_tests_only")
    if postgres and not db_tests_only:
        return
    selected, deselected = [], []
    for item in items:
        left_out = (not postgres and item.get_closest_marker("postgres")) or (db_tests_only and not _needs_db(item))
        (deselected if left_out else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
        if hasattr(config, "workeroutput"):  # a pytest-xdist worker: tell the controller, which counts them
            config.workeroutput["deselected"] = [item.nodeid for item in deselected]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: every worker deselects the same tests; count them once in the controller's summary."""
    from tests.api.conftest import SCHEMATHESIS_TALLY

    output = getattr(node, "workeroutput", {})
    reporter = node.config.pluginmanager.get_plugin("terminalreporter")
    deselected = output.get("deselected", [])
    if reporter is not None and deselected and "deselected" not in reporter.stats:
        reporter.stats["deselected"] = [SimpleNamespace(nodeid=nodeid) for nodeid in deselected]
    for caller, mode, status, count in output.get("schemathesis", []):
        SCHEMATHESIS_TALLY[caller, mode, status] += count


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "permission_matrix(cases): a test that checks ``cases`` cases of the permission matrix"
    )
    config.addinivalue_line("markers", "empty_db: a test that needs a database without the standing cast")


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
    import tests.api.conftest as api_conftest

    if not config.pluginmanager.is_registered(api_conftest):  # a pytest-xdist controller that collected nothing
        api_conftest.write_schemathesis_tally(terminalreporter)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    marker = item.get_closest_marker("permission_matrix")
    if marker is not None:
        outcome.get_result().permission_matrix_cases = marker.kwargs["cases"]


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's language: a request with Accept-Language: en activates English for the
    thread, and that must not leak into the next test."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _root_log_level():
    """Each test starts with the root logger's level as configured: a Celery test worker sets it to ERROR when it
    starts (``start_worker(loglevel="error")``), which would hide every later test's warnings from ``caplog``."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts (per key, per address) belong to one test: 127.0.0.1 is every test's address."""
    cache.clear()
    yield
    cache.clear()


# The standing cast is built once per test database, committed, right after the database is set up; every test
# that runs in a rolled-back transaction finds it there. Tests that commit for real (``transaction=True``, the live
# server) start from an empty database as before and build their own cast: the standing one is flushed before
# such a test, and rebuilt before the next test that runs in a transaction.
_STANDING: dict = {"cast": None, "present": False, "item": None}
_DB_FIXTURES = ("db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback")
_COMMITTING_FIXTURES = ("transactional_db", "live_server", "django_db_reset_sequences")


def _uses_db(item) -> bool:
    names = getattr(item, "fixturenames", ())
    return item.get_closest_marker("django_db") is not None or any(name in names for name in _DB_FIXTURES)


def commits(item) -> bool:
    """Whether the test runs without the rolled-back transaction (what pytest-django decides the same way)."""
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        transaction, reset_sequences, *_ = validate_django_db(marker)
        if transaction or reset_sequences:
            return True
    return any(name in getattr(item, "fixturenames", ()) for name in _COMMITTING_FIXTURES)


def _wants_empty(item) -> bool:
    return commits(item) or item.get_closest_marker("empty_db") is not None


def _build_standing() -> None:
    """Built as the ``cast`` fixture used to build it inside each test's transaction: with the tests' password
    hasher, and with no on-commit work run (the cast's notices stay in the outbox, undelivered)."""
    with (
        override_settings(PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
        mock.patch.object(connection, "on_commit", lambda func, robust=False: None),
    ):
        _STANDING["cast"] = build_cast()
    _STANDING["built_at"] = timezone.now()
    _STANDING["present"] = True


def _flush() -> None:
    """Empty every table, as pytest-django does after a test that commits. SQLite flushes with DELETE, which the
    append-only triggers refuse: they are dropped for the flush and put back (PostgreSQL truncates)."""
    sqlite = connection.vendor == "sqlite"
    for table in APPEND_ONLY_TABLES if sqlite else ():
        remove_append_only(connection, table)
    try:
        call_command("flush", verbosity=0, interactive=False)
    finally:
        for table in APPEND_ONLY_TABLES if sqlite else ():
            install_append_only(connection, table)
    _STANDING["present"] = False


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _build_standing()
        item = _STANDING["item"]
        if item is not None and _wants_empty(item):
            _flush()  # the first test to use the database starts from an empty one


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _STANDING["item"] = item
    if _STANDING["cast"] is None or not _uses_db(item):
        return  # the database is not set up yet (``django_db_setup`` builds the cast) or not used
    empty = _wants_empty(item)
    if empty == _STANDING["present"]:
        with item.config.stash[blocking_manager_key].unblock():
            _flush() if empty else _build_standing()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    if _STANDING["cast"] is not None and commits(item):
        _STANDING["present"] = False  # pytest-django flushed the database after the test


@pytest.fixture
def cast(request, db):
    """The standing cast: fresh Python objects for each test (rows are rolled back after it). A test that commits
    (or is marked ``empty_db``) gets a cast of its own, built on its empty database."""
    if not _STANDING["present"]:
        return build_cast()
    # The cast's notices wait in the outbox as if it had just been built (the health check fails on old ones).
    OutboxMessage.objects.update(created_at=F("created_at") + (timezone.now() - _STANDING["built_at"]))
    return copy.deepcopy(_STANDING["cast"])
