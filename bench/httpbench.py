"""The HTTP table: the application as deployed, driven over loopback by a separate load-generator process.

* gunicorn per ``deploy/gunicorn.conf.py`` (its worker count unless ``BENCH_WORKERS``), ``DEBUG=false``, the
  run's production environment (``bench.common.env``); API keys as an integration system would use them;
* a real Celery worker and beat on Redis (the outbox relay and the sealer every ``AUDIT_SEAL_INTERVAL_SECONDS``,
  as in production), so the seal lag under load is the real one;
* ``bench/loadgen.py``: closed loop, bounded duration, N connections.

Measured: one client (one connection) p95 of list / timeline / append; saturated requests/s of each and of a mixed
profile (→ requests a day); then the mixed profile against N gunicorn "nodes" (separate instances on separate
ports, one PostgreSQL) with the CPU the machine spent per request, which says what another core or node buys.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .common import ROOT, Scale, env, log

BIN = Path(sys.executable).parent
MIX = "list:3,timeline:5,append:2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/", headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"})
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not answer")


class Processes:
    """Processes started by the run, stopped (by their own process group) at the end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            argv, cwd=ROOT, env={**os.environ, **env(), **(extra or {})}, stdout=out, stderr=out, start_new_session=True
        )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if process in self.started:
            self.started.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.started)):
            self.stop(process)


@contextmanager
def nodes(procs: Processes, count: int, workers: int):
    ports = [free_port() for _ in range(count)]
    started = [
        procs.start(
            f"gunicorn-{port}",
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "tsunagu.wsgi"],
            {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)},
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, started, strict=True):
            _wait_http(port, process)
        yield ports
    finally:
        for process in started:
            procs.stop(process)


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [float(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


PROCESS_GROUPS = {"gunicorn": "gunicorn", "celery": "Celery", "postgres": "PostgreSQL"}


def cpu_by_process() -> dict[str, float]:
    """CPU seconds spent so far by the live processes of each group (``PROCESS_GROUPS``, by command name)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = dict.fromkeys(PROCESS_GROUPS, 0.0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                raw = handle.read()
        except OSError:  # gone meanwhile
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        group = next((g for g in PROCESS_GROUPS if comm.startswith(g)), None)
        if group:
            fields = raw[raw.rindex(")") + 2 :].split()
            out[group] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


def load(ports: list[int], key: str, clients_file: Path, profile: str, concurrency: int, seconds: float) -> dict:
    by0 = cpu_by_process()
    busy0, total0 = cpu_busy()
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            str(ROOT / "bench" / "loadgen.py"),
            "--ports",
            ",".join(map(str, ports)),
            "--key",
            key,
            "--clients",
            str(clients_file),
            "--profile",
            profile,
            "--mix",
            MIX,
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    busy1, total1 = cpu_busy()
    by1 = cpu_by_process()
    result = json.loads(completed.stdout)
    cores = os.cpu_count() or 1
    busy_cores = (busy1 - busy0) / (total1 - total0) * cores if total1 > total0 else float("nan")
    result["machine_busy_cores"] = busy_cores
    result["cpu_ms_per_request"] = busy_cores * result["seconds"] * 1000 / result["ok"] if result["ok"] else None
    if result["ok"]:
        # Where that CPU went, per request: each group's processes (those alive at both samples), the load
        # generator's own, and the rest (the kernel's network and scheduling work, processes that ended, others).
        share = {g: max(0.0, by1[g] - by0[g]) * 1000 / result["ok"] for g in PROCESS_GROUPS}
        share["loadgen"] = result.get("loadgen_cpu_s", 0.0) * 1000 / result["ok"]
        if result["cpu_ms_per_request"]:
            share["other"] = max(0.0, result["cpu_ms_per_request"] - sum(share.values()))
        result["cpu_ms_by_process"] = share
    return result


def seal_lag_seconds(since: float) -> float | None:
    """How old the oldest event written since ``since`` (epoch seconds) and after the last seal is (the product's
    health figure, over the run's own events; None: all sealed)."""
    import psycopg

    from .common import database_url

    with psycopg.connect(database_url().replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        row = conn.execute(
            "SELECT EXTRACT(EPOCH FROM now() - min(occurred_at)) FROM audit_auditevent "
            "WHERE seq > COALESCE((SELECT max(last_seq) FROM audit_auditseal), 0) AND occurred_at >= to_timestamp(%s)",
            [since],
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def run_all(sc: Scale, info: dict) -> dict:
    run_dir = Path(env()["BENCH_RUN_DIR"])
    procs = Processes(run_dir)
    clients_file = run_dir / "clients.txt"
    clients_file.write_text("\n".join(info["visible"]) + "\n", encoding="utf-8")
    key = info["api_key"]
    results: dict = {"workers_per_node": sc.workers, "mix": MIX}
    try:
        procs.start(
            "celery-worker",
            [str(BIN / "celery"), "-A", "tsunagu", "worker", "--loglevel=WARNING", "--hostname=bench@%h"],
        )
        procs.start(
            "celery-beat",
            [str(BIN / "celery"), "-A", "tsunagu", "beat", "--loglevel=WARNING", f"--schedule={run_dir}/beat"],
        )
        with nodes(procs, 1, sc.workers) as ports:
            for profile in ("list", "timeline", "append"):
                log(f"http: one client, {profile}")
                results[f"one_{profile}"] = load(ports, key, clients_file, profile, 1, sc.http_seconds)
            for profile in ("list", "timeline", "append"):
                log(f"http: saturated ({sc.concurrency} connections), {profile}")
                results[f"saturated_{profile}"] = load(
                    ports, key, clients_file, profile, sc.concurrency, sc.http_seconds
                )
            log("http: saturated, mixed (with the seal lag sampled each second)")
            lags: list[float] = []
            stop = threading.Event()

            since = time.time()

            def sample() -> None:
                while not stop.wait(1.0):
                    lag = seal_lag_seconds(since)
                    lags.append(lag or 0.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            results["saturated_mixed"] = load(ports, key, clients_file, "mixed", sc.concurrency, sc.http_seconds * 2)
            stop.set()
            sampler.join()
            results["seal_lag_s"] = {"max": max(lags) if lags else None, "samples": len(lags)}
        scaling = []
        for count in sc.nodes:
            log(f"http: {count} node(s), mixed, {sc.concurrency * count} connections")
            with nodes(procs, count, sc.workers) as ports:
                result = load(ports, key, clients_file, "mixed", sc.concurrency * count, sc.http_seconds)
            scaling.append({"nodes": count, **result})
        results["nodes"] = scaling
    finally:
        procs.stop_all()
    return results
