"""The quick start's SQLite database under concurrent writers.

A client page and the requests it starts at once (thumbnails, the boxes htmx loads) each write an audit event in a
transaction that reads first. With SQLite's default deferred transactions, one that starts as a reader and then
writes after another connection wrote fails at once with "database is locked" (SQLite cannot wait there): the
quick start answered 500 for the client page. The settings make every transaction take the write lock when it
begins, and wait for it.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from django.conf import settings

SCRIPT = textwrap.dedent(
    """
    import sys, threading, django
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.contrib.sessions.models import Session

    call_command("migrate", "sessions", verbosity=0)
    errors, start = [], threading.Barrier(4)

    def work(worker):
        try:
            start.wait()
            for n in range(25):
                with transaction.atomic():
                    list(Session.objects.all()[:1])  # read first, then write: the pattern of an audited page
                    Session.objects.create(
                        session_key=f"w{worker}-{n}", session_data="x", expire_date="2030-01-01T00:00:00Z"
                    )
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(len(errors), Session.objects.count(), errors[:1])
    """
)


def test_concurrent_audited_requests_wait_for_each_other_on_sqlite(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SQLITE_TEST_NAME", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DEBUG": "true",
            "TSUNAGU_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
            "PYTHONPATH": str(Path(settings.BASE_DIR)),
        }
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    errors, rows, first = result.stdout.split(" ", 2)
    assert (errors, rows) == ("0", "100"), first
