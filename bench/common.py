"""What every part of the benchmark shares: the scale, the environment of every process, timing and statistics.

The benchmark runs the application as production does (``DEBUG=false``, the deployment's keys and services), so
every process it starts — itself, gunicorn, the Celery worker and beat — gets the same environment from ``env()``:
throw-away keys made for the run, its own PostgreSQL database and its own Redis databases.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int
    visible: int  # clients the measured agency sees (owns, with a share and guardian's permissions)
    entries: int
    events: int
    backlog: int  # the newest events, left unsealed for the sealing scenario
    agencies: int
    audit_days: int  # the log's time span, ending now
    repeat: int  # timed calls per in-process operation (after a warm-up)
    seals: int  # seals made and timed in the sealing scenario
    seal_batch: int  # events per seal (the product's AUDIT_SEAL_BATCH_SIZE)
    http_seconds: float  # each HTTP load run
    concurrency: int  # connections of a saturated run
    nodes: tuple[int, ...]  # numbers of gunicorn "nodes" for the throughput-vs-nodes run
    workers: int  # gunicorn workers per node (the deployment's 2 x cores + 1 unless set)
    deep_page: int  # the page number of the keyset-vs-OFFSET comparison

    def as_dict(self) -> dict:
        return asdict(self)


_PRESETS = {
    "smoke": dict(
        clients=200,
        visible=110,
        entries=2000,
        events=10000,
        backlog=2000,
        agencies=4,
        audit_days=60,
        repeat=3,
        seals=2,
        seal_batch=1000,
        http_seconds=0.6,
        concurrency=3,
        nodes="1,2",
        workers=1,
        deep_page=2,
    ),
    "default": dict(
        clients=20000,
        visible=2000,
        entries=200000,
        events=1000000,
        backlog=100000,
        agencies=20,
        audit_days=730,
        repeat=30,
        seals=5,
        seal_batch=10000,
        http_seconds=10,
        concurrency=8,
        nodes="1,2",
        workers=0,
        deep_page=30,
    ),
    "full": dict(
        clients=100000,
        visible=5000,
        entries=1000000,
        events=10000000,
        backlog=1000000,
        agencies=20,
        audit_days=730,
        repeat=40,
        seals=5,
        seal_batch=10000,
        http_seconds=20,
        concurrency=10,
        nodes="1,2,3",
        workers=0,
        deep_page=90,
    ),
}


def scale() -> Scale:
    """``BENCH_SCALE`` (smoke / default / full), each dimension overridable (``BENCH_CLIENTS=…``)."""
    name = os.environ.get("BENCH_SCALE", "default")
    if name not in _PRESETS:
        raise SystemExit(f"BENCH_SCALE={name!r}: one of {', '.join(_PRESETS)}")
    values: dict = dict(_PRESETS[name])
    for key, default in list(values.items()):
        raw = os.environ.get(f"BENCH_{key.upper()}")
        if raw is None or raw == "":
            continue
        values[key] = raw if isinstance(default, str) else type(default)(raw)
    values["nodes"] = tuple(int(n) for n in str(values["nodes"]).split(",") if n.strip())
    if not values["workers"]:
        values["workers"] = min(2 * (os.cpu_count() or 1) + 1, 12)  # deploy/gunicorn.conf.py's default
    values["visible"] = min(values["visible"], values["clients"])
    values["backlog"] = min(values["backlog"], values["events"])
    return Scale(name=name, **values)


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench")


def redis_base() -> str:
    """Redis for the broker (database n) and the cache (n + 1); flushed at the start of a run."""
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _redis_url(offset: int) -> str:
    base, _, db = redis_base().rpartition("/")
    return f"{base}/{int(db) + offset}"


_ENV: dict[str, str] = {}


def env() -> dict[str, str]:
    """The production-like environment of every process of the run (made once per run)."""
    if not _ENV:
        run_dir = Path(os.environ.get("BENCH_RUN_DIR") or tempfile.mkdtemp(prefix="tsunagu-bench-"))
        (run_dir / "anchors").mkdir(parents=True, exist_ok=True)
        (run_dir / "var").mkdir(parents=True, exist_ok=True)
        secret = os.environ.get("BENCH_SECRET") or secrets.token_urlsafe(40)
        _ENV.update(
            {
                "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
                "DEBUG": "false",
                "SECRET_KEY": f"bench-{secret}-{secret}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "AUDIT_HMAC_KEYS": f"b1:{secret}",
                "AUDIT_SIGNING_KEYS": f"b1:{secret}",
                "ATTACHMENT_KEYS": f"b1:{secret}",
                "AUDIT_ANCHOR_DIR": str(run_dir / "anchors"),
                "TSUNAGU_VAR_DIR": str(run_dir / "var"),
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": _redis_url(0),
                "CACHE_URL": _redis_url(1),
                # As behind the deployment's nginx: it terminates TLS and says so (deploy/nginx/tsunagu.conf).
                "PROXY_SSL_HEADER": "X-Forwarded-Proto",
                # The benchmark drives one key far above a person's rate; the limit is not what is measured.
                "API_THROTTLE_RATE": "100000000/min",
                "LOG_LEVEL": "WARNING",
                "GUNICORN_LOG_LEVEL": "warning",
                "BENCH_RUN_DIR": str(run_dir),
                "BENCH_SECRET": secret,
            }
        )
    return dict(_ENV)


def apply_env() -> None:
    """This process: the run's environment, and the project on the import path."""
    os.environ.update(env())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)


# --- statistics ------------------------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of the samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples_ms: list[float]) -> dict:
    return {
        "n": len(samples_ms),
        "median_ms": statistics.median(samples_ms) if samples_ms else float("nan"),
        "p95_ms": percentile(samples_ms, 95),
        "min_ms": min(samples_ms) if samples_ms else float("nan"),
    }


def timed(fn: Callable[[], object], repeat: int) -> dict:
    """``fn`` once to warm up, then ``repeat`` timed calls."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


def interleaved(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[dict, dict]:
    """A and B alternately (A B B A A B …, so neither always runs second), ``repeat`` timed calls of each after a
    warm-up of each: both see the same machine, caches and background load."""
    a()
    b()
    sa: list[float] = []
    sb: list[float] = []
    for i in range(repeat):
        pair = ((a, sa), (b, sb)) if i % 2 == 0 else ((b, sb), (a, sa))
        for fn, samples in pair:
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
    return summary(sa), summary(sb)
