"""Restores against PostgreSQL clusters started by the test (initdb on other ports): after pg_dump → pg_restore
into a fresh cluster (the restore drill), and after point-in-time recovery from a base backup and a WAL archive,
verify_audit is OK and sealing goes on, without letting an event in below a sealed horizon."""

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


class Clusters:
    """PostgreSQL servers started by a test in one temporary directory (owned by the postgres user when run as
    root), each on a free port; all stopped and removed at the end."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="tsunagu-cluster-"))
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.running: list[Path] = []

    def initdb(self, name: str) -> Path:
        data = self.base / name
        _run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]))
        return data

    def start(self, data: Path, *settings: str) -> str:
        port = _free_port()
        options = " ".join(
            [f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"]
            + [f"-c {setting}" for setting in settings]
        )
        log = str(self.base / f"{data.name}.log")
        _run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "-t", "60", "start"]))
        self.running.append(data)
        return f"postgres://postgres@127.0.0.1:{port}"

    def stop(self, data: Path) -> None:
        _run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"]), check=False)
        self.running.remove(data)

    def close(self) -> None:
        for data in list(self.running):
            self.stop(data)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def clusters():
    made = Clusters()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def second_cluster(clusters):
    """A fresh PostgreSQL cluster (initdb) on a free port."""
    return clusters.start(clusters.initdb("second"))


def _manage(*args: str, database: str, anchors: Path | str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "AUDIT_ANCHOR_DIR": str(anchors)}
    return subprocess.run(  # noqa: S603 - this program, with a fixed command line
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


FAST = ("-X", "fetch", "-c", "fast")  # WAL fetched at the end; a fast checkpoint to start with


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
    result = _manage("verify_audit", database=target, anchors="")
    assert result.returncode == 1 and f"FAILED inserted_event at seq {gap}" in result.stderr, result.stderr


def test_point_in_time_recovery_keeps_verifying_and_sealing(sealed_cast, clusters, settings, tmp_path):
    """A cluster with WAL archiving; a base backup; work sealed up to a named restore point and more after it; a
    recovery to the restore point from the backup and the archive. The recovered database verifies against the
    anchors as they were at that point and seals new events; against the newer anchors it names what was lost."""
    settings.AUDIT_ANCHOR_DIR = str(tmp_path / "anchors")
    seal_all()
    archive = clusters.base / "archive"
    archive.mkdir()
    if os.geteuid() == 0:
        shutil.chown(archive, "postgres", "postgres")
    primary_data = clusters.initdb("primary")
    archiving = ("wal_level=replica", "archive_mode=on", f"archive_command='cp %p {archive}/%f'")
    primary = clusters.start(primary_data, *archiving)
    target = f"{primary}/tsunagu_pitr"
    call_command("restore_drill", "--target", target)  # the application's database, now on that cluster
    anchors = tmp_path / "anchors-primary"
    shutil.copytree(tmp_path / "anchors", anchors)
    sealed = _manage("seal_audit", database=target, anchors=anchors)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr

    base = clusters.base / "base"
    port = target.split(":")[-1].split("/")[0]
    _run(
        # A fast checkpoint: the default spread one waits out checkpoint_completion_target (minutes on a quiet
        # cluster) before the backup starts.
        _as_postgres(["pg_basebackup", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-D", str(base), *FAST])
    )
    done = _manage("restore_drill", "--target", target, "--check-restored", database=target, anchors=anchors)
    assert done.returncode == 0, done.stderr
    at_restore_point = tmp_path / "anchors-at-restore-point"
    shutil.copytree(anchors, at_restore_point)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("SELECT pg_create_restore_point('tsunagu')")
        horizon = conn.execute(
            "SELECT max(txid_horizon) FROM audit_auditseal WHERE cluster = tsunagu_cluster_id()"
        ).fetchone()[0]
        cluster = conn.execute("SELECT tsunagu_cluster_id()").fetchone()[0]
    lost = _manage("restore_drill", "--target", target, "--check-restored", database=target, anchors=anchors)
    assert lost.returncode == 0, lost.stderr
    with psycopg.connect(target, autocommit=True) as conn:
        wal = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
    deadline = time.monotonic() + 60
    while not (archive / wal).exists():
        assert time.monotonic() < deadline, "the WAL was never archived"
        time.sleep(0.2)
    clusters.stop(primary_data)

    (base / "recovery.signal").touch()
    recovered = clusters.start(
        base,
        f"restore_command='cp {archive}/%f %p'",
        "recovery_target_name=tsunagu",
        "recovery_target_action=promote",
    )
    database = f"{recovered}/tsunagu_pitr"
    deadline = time.monotonic() + 60
    while True:
        with psycopg.connect(database, autocommit=True) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                break
        assert time.monotonic() < deadline, "recovery did not finish"
        time.sleep(0.2)

    gone = _manage("verify_audit", database=database, anchors=anchors)
    assert gone.returncode == 1 and "FAILED missing_tail" in gone.stderr, gone.stderr
    again = _manage(
        "restore_drill", "--target", database, "--check-restored", database=database, anchors=at_restore_point
    )
    assert again.returncode == 0, again.stdout + again.stderr
    with psycopg.connect(database, autocommit=True) as conn:
        newest = conn.execute("SELECT cluster, txid_horizon FROM audit_auditseal ORDER BY id DESC LIMIT 1").fetchone()
    assert newest[0] == cluster and newest[1] > horizon  # the same cluster, its ids still increasing
