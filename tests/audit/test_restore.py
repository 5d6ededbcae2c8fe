"""The restore drill against a second PostgreSQL cluster started by the test (initdb on another port): after
pg_dump → pg_restore into a fresh cluster, verify_audit is OK and sealing goes on, without letting an event in
below a sealed horizon."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from audit.models import AuditSeal
from audit.sealing import current_cluster, unsealed_count
from audit.services import SystemActor, audit_record
from cases import selectors

from .conftest import seal_all
from .test_tamper import make_gap

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise AssertionError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root: run the server as the postgres system user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=check)  # noqa: S603 - fixed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def second_cluster():
    """A fresh PostgreSQL cluster on a free port in a temporary directory, stopped and removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="tsunagu-cluster-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    _run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]))
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    log = str(base / "log")
    _run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "-t", "60", "start"]))
    try:
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        _run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"]), check=False
        )
        shutil.rmtree(base, ignore_errors=True)


def test_restore_drill_into_a_fresh_cluster_verifies_and_keeps_sealing(sealed_cast, second_cluster, settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path / "anchors")
    seal_all()
    selectors.client_list(actor=sealed_cast.actor("alice"))
    seal_all()
    gap = make_gap()  # a number burnt by a rolled-back insert, below sealed ones
    selectors.client_list(actor=sealed_cast.actor("alice"))
    seal_all()
    # Left unsealed at dump time: the restored cluster must seal them together with its own new events.
    audit_record(actor=SystemActor(channel="task"), action="test.unsealed_at_dump")
    assert unsealed_count() == 1
    last = AuditSeal.objects.order_by("-id").first()
    target = f"{second_cluster}/tsunagu_drill"

    started = time.monotonic()
    call_command("restore_drill", "--target", target)
    assert time.monotonic() - started < 300

    with psycopg.connect(target, autocommit=True) as conn:
        new_cluster = conn.execute("SELECT tsunagu_cluster_id()").fetchone()[0]
        assert new_cluster != current_cluster()
        seals = conn.execute(
            "SELECT id, cluster, txid_horizon FROM audit_auditseal WHERE id > %s", [last.pk]
        ).fetchall()
        assert seals and all(cluster == new_cluster for _id, cluster, _h in seals)
        # The new cluster's transaction ids started below the old horizon: the reason a restore stopped sealing.
        assert seals[0][2] < last.txid_horizon
        drill = conn.execute("SELECT seq FROM audit_auditevent WHERE action = 'audit.restore_drill'").fetchone()[0]
        unsealed = conn.execute("SELECT seq FROM audit_auditevent WHERE action = 'test.unsealed_at_dump'").fetchone()[0]
        sealed = {
            n
            for (text,) in conn.execute("SELECT seqs FROM audit_auditseal").fetchall()
            for part in text.split(",")
            for n in range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1)
        }
        assert {drill, unsealed} <= sealed

        # What a seal proves still holds in the new cluster: an event slipped in below a sealed number is caught.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO audit_auditevent (uuid, occurred_at, channel, action, outcome, reason, client_ids, "
            "target_type, target_id, request_id, user_agent, api_key_id, authorised_by, details, actor_username, "
            "actor_agency_code, seq) VALUES (gen_random_uuid(), now(), 'web', 'client.view', 'allowed', '', '[]', "
            "'', '', '', '', '', '', '{}', 'mallory', '', %s)",
            [gap],
        )
        assert gap < max(sealed) and gap not in sealed
    env = {**os.environ, "DATABASE_URL": target, "AUDIT_ANCHOR_DIR": ""}
    result = subprocess.run(  # noqa: S603 - this program, with a fixed command line
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), "verify_audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1 and f"FAILED inserted_event at seq {gap}" in result.stderr, result.stderr
