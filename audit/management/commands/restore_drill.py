"""The restore drill: dump this database, restore it into a fresh database, and prove the audit log there.

Run it regularly (e.g. monthly) against a scratch PostgreSQL, ideally another cluster, as an operator would restore
after losing the server::

    python manage.py restore_drill --target postgres://postgres@backup-host:5432/tsunagu_drill

Steps: ``pg_dump --format=custom`` of the current database; ``CREATE DATABASE`` of the target (``--replace``
drops an existing one first); ``pg_restore --no-owner``; then, in a separate process connected to the target and
to a *copy* of the anchor directory (so the drill never writes into the real one): ``verify_audit`` of the
restored log against the anchors, one new event (``audit.restore_drill``), a sealing run, and ``verify_audit``
again, which must report the new event sealed. Exit 0 when all of that passed.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from audit.actions import AuditAction

_TIMEOUT = 1800


def _source_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise CommandError("the restore drill needs PostgreSQL (pg_dump / pg_restore)")
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT, check=False, **kwargs)  # noqa: S603
    if result.returncode != 0:
        raise CommandError(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-2000:]}")
    return result


class Command(BaseCommand):
    help = "Dump the database, restore it into a fresh database and verify the audit log there (a restore drill)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target", required=True, help="postgres:// URL of the database to restore into")
        parser.add_argument("--replace", action="store_true", help="drop the target database first if it exists")
        parser.add_argument("--check-restored", action="store_true", help=AUDIT_STEP_HELP)

    def handle(self, *args: Any, target: str, replace: bool, check_restored: bool, **options: Any) -> None:
        if check_restored:
            self.check_restored()
            return
        source = _source_url()
        parts = urlsplit(target)
        name = parts.path.lstrip("/")
        if not name or parts.scheme not in ("postgres", "postgresql"):
            raise CommandError("--target must be a postgres:// URL with a database name")
        if target.rstrip("/") == source.rstrip("/"):
            raise CommandError("--target is the database itself")
        maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
        with tempfile.TemporaryDirectory(prefix="tsunagu-drill-") as work:
            dump = Path(work) / "tsunagu.dump"
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={source}"])
            self.stdout.write(f"dumped {dump.stat().st_size} bytes")
            quoted = '"' + name.replace('"', '""') + '"'
            if replace:
                _run(["psql", "-v", "ON_ERROR_STOP=1", "-q", maintenance, "-c", f"DROP DATABASE IF EXISTS {quoted}"])
            _run(["psql", "-v", "ON_ERROR_STOP=1", "-q", maintenance, "-c", f"CREATE DATABASE {quoted}"])
            _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)])
            self.stdout.write(f"restored into {parts.hostname}:{parts.port or 5432}/{name}")
            env = {**os.environ, "DATABASE_URL": target}
            anchors = getattr(settings, "AUDIT_ANCHOR_DIR", None)
            if anchors and Path(anchors).exists():
                shutil.copytree(anchors, Path(work) / "anchors")
            env["AUDIT_ANCHOR_DIR"] = str(Path(work) / "anchors") if anchors else ""
            result = subprocess.run(  # noqa: S603 - this program, with a fixed command line
                [
                    sys.executable,
                    str(Path(settings.BASE_DIR) / "manage.py"),
                    "restore_drill",
                    "--target",
                    target,
                    "--check-restored",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
            self.stdout.write(result.stdout.rstrip())
            if result.returncode != 0:
                raise CommandError(f"FAILED on the restored database: {(result.stderr or '').strip()[-2000:]}")
        self.stdout.write("restore drill passed")

    def check_restored(self) -> None:
        """In the restored database: verify, write one event, seal, verify again."""
        from audit.sealing import current_cluster, seal_pending, unsealed_count
        from audit.services import SystemActor, audit_record
        from audit.verification import verify_and_record

        before = verify_and_record()
        self.stdout.write(f"restored log: {before.message}")
        if not before.ok:
            raise CommandError(f"FAILED {before.message}", returncode=1)
        with transaction.atomic():
            event = audit_record(
                actor=SystemActor(channel="cli"),
                action=AuditAction.RESTORE_DRILL,
                details={"database": connection.settings_dict["NAME"], "cluster": str(current_cluster() or "")},
            )
        deadline = time.monotonic() + 60
        while True:  # an unrelated open transaction on the cluster holds sealing back until it ends
            seal_pending()
            if not unsealed_count() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        after = verify_and_record()
        self.stdout.write(f"after a new event (seq {event.seq}) and a sealing run: {after.message}")
        if not after.ok:
            raise CommandError(f"FAILED {after.message}", returncode=1)
        if unsealed_count():
            raise CommandError("FAILED sealing did not take the new event in the restored database", returncode=1)


AUDIT_STEP_HELP = "internal: the checks run inside the restored database"
