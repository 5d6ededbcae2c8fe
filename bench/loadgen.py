"""A closed-loop HTTP load generator: N connections, each sending its next request when the previous one answered,
for a bounded time. Run as its own process (``python bench/loadgen.py``) so that it never shares the interpreter
with what it measures; prints one JSON object (counts, errors, latency percentiles, requests/s, its own CPU time).

Each request goes as the deployment's nginx would pass it (``X-Forwarded-Proto: https``), with the API key as a
Bearer token. A profile is ``list``, ``timeline``, ``append`` or ``mixed`` (weights ``--mix``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import resource
import statistics
import sys
import threading
import time
import uuid


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True, help="comma-separated ports on 127.0.0.1 (round robin)")
    parser.add_argument("--key", required=True)
    parser.add_argument("--clients", required=True, help="a file with one client id a line")
    parser.add_argument("--profile", choices=["list", "timeline", "append", "mixed"], required=True)
    parser.add_argument("--mix", default="list:3,timeline:5,append:2")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    with open(args.clients, encoding="utf-8") as handle:
        clients = [line.strip() for line in handle if line.strip()]
    if args.profile == "mixed":
        kinds = []
        for part in args.mix.split(","):
            name, weight = part.split(":")
            kinds += [name] * int(weight)
    else:
        kinds = [args.profile]
    headers = {"Authorization": f"Bearer {args.key}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
    latencies: dict[str, list[float]] = {k: [] for k in set(kinds)}
    statuses: dict[str, int] = {}
    errors: list[str] = []
    exceptions = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds
    body = json.dumps({"kind": "call", "body": "電話連絡。"}, ensure_ascii=False).encode("utf-8")

    def loop(index: int) -> None:
        rng = random.Random(index)
        port = ports[index % len(ports)]
        conn = None
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            client = rng.choice(clients)
            if kind == "list":
                method, path, payload, extra = "GET", "/api/v1/clients/", None, {}
            elif kind == "timeline":
                method, path, payload, extra = "GET", f"/api/v1/clients/{client}/timeline/", None, {}
            else:
                method, path, payload = "POST", f"/api/v1/clients/{client}/timeline/", body
                extra = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            start = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request(method, path, body=payload, headers={**headers, **extra})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close" or response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                if conn is not None:
                    conn.close()
                conn = None
                with lock:
                    exceptions[0] += 1
                    if len(errors) < 20:
                        errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                time.sleep(0.05)
                continue
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                key = f"{kind} {status}"
                statuses[key] = statuses.get(key, 0) + 1
                if 200 <= status < 300:
                    latencies[kind].append(elapsed)
                elif len(errors) < 20:
                    errors.append(f"{kind}: HTTP {status}")

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ok = sum(len(v) for v in latencies.values())
    out = {
        "profile": args.profile,
        "concurrency": args.concurrency,
        "ports": ports,
        "seconds": wall,
        "ok": ok,
        "failed": sum(n for k, n in statuses.items() if not k.split()[1].startswith("2")) + exceptions[0],
        "statuses": statuses,
        "errors": errors[:10],
        "rps": ok / wall if wall else 0.0,
        "loadgen_cpu_s": usage.ru_utime + usage.ru_stime,
        "by_kind": {
            kind: {
                "n": len(samples),
                "median_ms": statistics.median(samples) if samples else float("nan"),
                "p95_ms": percentile(samples, 95),
                "rps": len(samples) / wall if wall else 0.0,
            }
            for kind, samples in latencies.items()
        },
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
