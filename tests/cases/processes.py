"""Real background processes for tests: a Redis server on a spare port, and Celery workers as subprocesses.

Each test gets its own Redis (never the shared one on 6379), so stopping, restarting or emptying it affects that
test only. Workers run ``celery -A tsunagu worker`` against that Redis and the test database, so they can be
killed with SIGKILL like a real one.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout=30.0, interval=0.1, between=None):
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; ``between`` runs after each failed poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if between is not None:
            between()
        time.sleep(interval)
    return condition()


class RedisServer:
    """A redis-server without persistence: a restart starts it empty, like a broker that lost its memory."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required (scripts/ensure-services / .ci/run install it)"
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)


def reset_broker_connections() -> None:
    """Forget pooled broker connections so the next publish connects to the configured broker."""
    from tsunagu.celery import app

    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str):
    """Publish to the broker at ``url`` (not eagerly) for the block; the configuration is restored after it."""
    from tsunagu.celery import app

    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}
    app.conf.update(broker_url=url, task_always_eager=False)
    reset_broker_connections()
    try:
        yield
    finally:
        app.conf.update(**saved)
        reset_broker_connections()


def worker_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database), for worker subprocesses."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """``celery -A tsunagu worker`` (solo pool) as a subprocess, on the test's Redis and database."""

    def __init__(self, broker_url: str, log_dir: Path, **env):
        self.broker_url, self.log_dir, self.env = broker_url, log_dir, env
        self.process = None
        self.log_path = None

    def start(self, timeout=60.0):
        name = f"fault-{uuid.uuid4().hex[:8]}"
        self.log_path = self.log_dir / f"{name}.log"
        env = dict(os.environ, DATABASE_URL=worker_database_url(), CELERY_BROKER_URL=self.broker_url, **self.env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [sys.executable, "-m", "celery", "-A", "tsunagu", "worker", "--pool", "solo", "--loglevel", "info",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@localhost"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if not wait_for(lambda: "ready." in self.log() or self.process.poll() is not None, timeout):
            raise RuntimeError(f"worker did not start:\n{self.log()[-3000:]}")
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self):
        """SIGKILL: no warm shutdown, nothing acknowledged or handed back to the broker."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None
