"""The benchmark of record runs: ``BENCH_SCALE=smoke`` through every scenario, in-process and over HTTP.

Performance goals live in the benchmark (``make bench``, BENCHMARKS.md), never here: this asserts only that each
scenario ran and produced numbers, and that the bulk-built audit log is one ``verify_audit`` accepts (a fixture
the product would call tampered with would measure nothing real). It runs the harness as a subprocess on a
database of its own (dropped and re-created by the harness) and a Redis of its own.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.cases.processes import RedisServer

ROOT = Path(settings.BASE_DIR)

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("processes")]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture
def redis_url():
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


def test_every_scenario_runs_and_reports_numbers(tmp_path, redis_url):
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    name = f"{s['NAME'] or 'tsunagu'}_bench_smoke"[:63]
    database = f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    out = tmp_path / "results.json"
    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\nKept by hand.\n", encoding="utf-8")
    env = {
        **os.environ,
        "BENCH_SCALE": "smoke",
        "BENCH_DATABASE_URL": database,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_JSON": str(out),
        "BENCH_REPORT": str(report),
        "BENCH_RUN_DIR": str(tmp_path / "run"),
        "BENCH_SEAL_WAIT": "20",
    }
    for key in ("DATABASE_URL", "DEBUG", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(key, None)
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, str(ROOT / "bench" / "run.py")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
        # The fixture drops the indexes for its COPY and re-creates them: the measured schema must be main's, every
        # index valid and, on the partitioned audit table, present on every partition (an index made ON ONLY the
        # parent serves no query: the figures would be a table without its indexes).
        import psycopg

        with psycopg.connect(database.replace("postgres://", "postgresql://", 1)) as conn:
            invalid = conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid").fetchall()
            assert invalid == [], invalid
            missing = conn.execute(
                "SELECT p.relname, i.indexrelid::regclass::text FROM pg_inherits h "
                "JOIN pg_class p ON p.oid = h.inhrelid JOIN pg_index i ON i.indrelid = h.inhparent "
                "WHERE NOT EXISTS (SELECT 1 FROM pg_index c JOIN pg_inherits ci ON ci.inhrelid = c.indexrelid "
                "WHERE c.indrelid = h.inhrelid AND ci.inhparent = i.indexrelid)"
            ).fetchall()
            assert missing == [], missing
    finally:
        import psycopg

        with psycopg.connect(
            database.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    results = json.loads(out.read_text(encoding="utf-8"))
    ip, hp = results["inprocess"], results["http"]
    for name in ("by_client", "by_user", "disclosure", "by_day", "agency_30_days", "dashboard_30_days_backlog"):
        assert _number(ip["officer"][name]["p95_ms"]), name
    assert _number(ip["dashboard"]["days_30"]["p95_ms"])
    assert _number(ip["visibility"]["ours"]["median_ms"]) and _number(ip["visibility"]["guardian"]["median_ms"])
    for name in ("list", "view", "timeline", "append"):
        assert _number(ip["audit_overhead"][name]["ratio"]), name
    assert _number(ip["search"]["case_number"]["p95_ms"]) and _number(ip["search"]["kana"]["p95_ms"])
    assert _number(ip["keyset"]["clients"]["keyset"]["median_ms"])
    assert _number(ip["keyset"]["audit"]["offset_"]["median_ms"])
    assert "skipped" in ip["auditlog"] or _number(ip["auditlog"]["ratio"])
    assert _number(ip["sealing"]["backlog"]) and _number(ip["sealing"]["waited_for_xmin_s"])
    assert ip["verify"]["ok"], ip["verify"]["message"]
    assert _number(ip["verify"]["events_s"])
    for name in (
        "one_list",
        "one_timeline",
        "one_append",
        "saturated_list",
        "saturated_timeline",
        "saturated_append",
        "saturated_mixed",
    ):
        assert hp[name]["ok"] > 0 and _number(hp[name]["rps"]), (name, hp[name])
    assert [n["nodes"] for n in hp["nodes"]] == [1, 2]
    assert all(n["ok"] > 0 for n in hp["nodes"])
    assert results["targets"] and all("figure" in row for row in results["targets"])
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nKept by hand.\n")  # text outside the markers is kept
    assert "<!-- bench:begin" in text and "<!-- bench:end -->" in text
