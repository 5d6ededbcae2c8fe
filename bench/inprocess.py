"""The in-process table: the selectors and services called directly, as a request would, on the fixture.

Every figure is a median and 95th percentile over ``repeat`` calls after a warm-up; the side-by-side comparisons
(audit on/off, our visibility filter vs guardian's generic path, keyset vs OFFSET, our audit write vs
django-auditlog) alternate A and B call by call so both see the same machine. "Audit off" replaces
``audit_record`` with a no-op in this process only, for the measurement; the product has no such switch.

For a figure that misses its target the scenario keeps evidence: the plan (``EXPLAIN (ANALYZE, BUFFERS)``) of the
slowest statement of one call, or a profile excerpt for the Python-bound ones (sealing, verification).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import django
from django.db import connection, transaction
from django.utils import timezone

from .common import ROOT, Scale, interleaved, log, summary, timed
from .fixture import CASEWORKER, OFFICER, USERS_PER_AGENCY, agency_code, case_number, username

# --- evidence for misses ---------------------------------------------------------------------------------------


def slowest_plan(fn: Callable[[], object]) -> str:
    """Run ``fn`` once recording its statements; the EXPLAIN (ANALYZE, BUFFERS) of the slowest SELECT."""
    seen: list[tuple[float, str, object]] = []

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((time.perf_counter() - start, sql, params))

    with connection.execute_wrapper(wrapper):
        fn()
    selects = [s for s in seen if s[1].lstrip().upper().startswith("SELECT")]
    if not selects:
        return ""
    duration, sql, params = max(selects, key=lambda s: s[0])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    shown = sql if len(sql) <= 1500 else sql[:1500] + " …"
    return f"-- slowest statement of one call: {duration * 1000:.1f} ms of {len(seen)} statements\n{shown}\n\n{plan}"


def profile_excerpt(fn: Callable[[], object], lines: int = 18) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    text = text[text.find("ncalls") :] if "ncalls" in text else text
    for prefix in (str(Path(django.__file__).parent.parent) + "/", str(ROOT) + "/"):
        text = text.replace(prefix, "")
    return text


def request_profile(api_key: str, method: str, path: str, body: dict | None = None) -> str:
    """One API request through Django's whole stack in this process (middleware, authentication, view): its
    statements and a profile excerpt, as evidence for an HTTP figure that misses."""
    import json

    from django.test import Client as TestClient

    client = TestClient(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {api_key}")

    def call():
        if method == "GET":
            return client.get(path, secure=True)
        return client.post(path, json.dumps(body or {}), content_type="application/json", secure=True)

    call()  # warm
    statements: list[str] = []

    def wrapper(execute, sql, params, many, context):
        statements.append(sql.split(" FROM ")[0][:60] if sql.startswith("SELECT") else sql[:60])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        status = call().status_code
    head = f"-- {method} {path}: HTTP {status}, {len(statements)} statements:\n" + "\n".join(
        f"--   {s}" for s in statements
    )
    return head + "\n\n" + profile_excerpt(call, lines=15)


# --- audit off, for the measurement only ----------------------------------------------------------------------


@contextlib.contextmanager
def audit_off() -> Iterator[None]:
    """Every module's ``audit_record`` / ``audit_denied`` replaced by a no-op while the block runs."""
    from audit import services

    real = {name: getattr(services, name) for name in ("audit_record", "audit_denied") if hasattr(services, name)}
    patched: list[tuple[object, str, object]] = []
    for module in list(sys.modules.values()):
        for name, function in real.items():
            if getattr(module, name, None) is function:
                patched.append((module, name, function))
                setattr(module, name, lambda **kwargs: None)
    try:
        yield
    finally:
        for module, name, function in patched:
            setattr(module, name, function)


def with_audit_off(fn: Callable[[], object]) -> Callable[[], object]:
    def run():
        with audit_off():
            return fn()

    return run


# --- the scenarios -----------------------------------------------------------------------------------------------


def run_all(sc: Scale, info: dict) -> dict:
    from django.contrib.auth import get_user_model

    from agencies.actors import Actor

    users = get_user_model().objects
    worker = Actor.for_user(users.get(username=CASEWORKER), channel="web")
    officer = Actor.for_user(users.get(username=OFFICER), channel="web")
    rng = random.Random(11)
    results: dict = {}
    for name, scenario in (
        ("officer", officer_searches),
        ("visibility", visibility),
        ("audit_overhead", audit_overhead),
        ("search", search),
        ("keyset", keyset_vs_offset),
        ("auditlog", audit_write_vs_auditlog),
        ("sealing", sealing),
        ("dashboard", dashboard),
        ("verify", verification),
    ):
        started = time.perf_counter()
        log(f"in-process: {name}")
        results[name] = scenario(sc, info, worker=worker, officer=officer, rng=rng)
        log(f"in-process: {name} done in {time.perf_counter() - started:.0f} s")
    return results


def officer_searches(sc: Scale, info: dict, *, officer, rng, **_) -> dict:
    from audit.review.dashboard import review_stats
    from audit.review.disclosure import review_disclosure
    from audit.review.search import review_events

    now = timezone.now()
    visible = info["visible"]
    days = sc.audit_days

    def by_day():
        day = (now - timedelta(days=rng.randrange(1, days))).replace(hour=0, minute=0, second=0, microsecond=0)
        return review_events(actor=officer, since=day, until=day + timedelta(days=1))

    calls: dict[str, Callable[[], object]] = {
        "by_client": lambda: review_events(actor=officer, client_id=rng.choice(visible)),
        "by_user": lambda: review_events(
            actor=officer, username=username(rng.randrange(sc.agencies), rng.randrange(USERS_PER_AGENCY))
        ),
        "disclosure": lambda: review_disclosure(
            actor=officer, client_id=rng.choice(visible), since=now - timedelta(days=365), until=now
        ),
        "by_day": by_day,
        "agency_30_days": lambda: review_events(
            actor=officer, agency=agency_code(rng.randrange(sc.agencies)), since=now - timedelta(days=30)
        ),
        # Here with the fixture's backlog not sealed yet (the sealing scenario's), which the dashboard counts live:
        # a figure; the target is measured once the sealer has caught up (``dashboard``).
        "dashboard_30_days_backlog": lambda: review_stats(actor=officer, days=30),
    }
    out = {name: timed(fn, sc.repeat) for name, fn in calls.items()}
    for name, fn in calls.items():
        out[name]["_plan"] = fn  # evidence taken by the report only for misses
    return out


def dashboard(sc: Scale, info: dict, *, officer, **_) -> dict:
    """The dashboard's 30-day statistics in the steady state: the sealer caught up (sealing ran just before), so
    the sealed events come from the daily counts and only the few not sealed yet are counted live."""
    from audit.review.dashboard import review_stats
    from audit.sealing import unsealed_count

    def call():
        return review_stats(actor=officer, days=30)

    out = timed(call, sc.repeat)
    out["unsealed"] = unsealed_count()
    out["_plan"] = call
    return {"days_30": out}


def visibility(sc: Scale, info: dict, *, worker, **_) -> dict:
    from guardian.shortcuts import get_objects_for_user

    from cases.access import actor_visible_clients
    from cases.models import Client

    def ours():
        return list(actor_visible_clients(worker).order_by("name_kana", "id")[:50])

    def theirs():
        generic = get_objects_for_user(worker.account, "cases.view_client", klass=Client)
        return list(generic.order_by("name_kana", "id")[:50])

    def unfiltered():
        # The floor under both: the same page of clients with no visibility filter at all (what the ORM spends
        # compiling the query and building 50 model objects, and PostgreSQL reading 50 rows in index order).
        return list(Client.objects.order_by("name_kana", "id")[:50])

    assert {c.pk for c in ours()} == {c.pk for c in theirs()}, "the two paths must return the same page"
    a, b = interleaved(ours, theirs, sc.repeat)
    floor = timed(unfiltered, sc.repeat)
    return {"ours": a, "guardian": b, "unfiltered": floor, "_plan": ours}


def audit_overhead(sc: Scale, info: dict, *, worker, rng, **_) -> dict:
    from cases import selectors, services

    visible = info["visible"]
    ops: dict[str, Callable[[], object]] = {
        "list": lambda: selectors.client_list(actor=worker),
        "view": lambda: selectors.client_get(actor=worker, client_id=rng.choice(visible)),
        "timeline": lambda: selectors.timeline_list(actor=worker, client_id=rng.choice(visible)),
        "append": lambda: services.timeline_append(
            actor=worker, client_id=rng.choice(visible), kind="call", body="電話連絡。"
        ),
    }
    out = {}
    for name, fn in ops.items():
        on, off = interleaved(fn, with_audit_off(fn), sc.repeat)
        out[name] = {"on": on, "off": off, "ratio": on["median_ms"] / off["median_ms"], "_plan": fn}
    return out


def search(sc: Scale, info: dict, *, worker, rng, **_) -> dict:
    from cases import selectors

    by_number = lambda: selectors.client_list(actor=worker, q=case_number(rng.randrange(sc.visible)))  # noqa: E731
    by_kana = lambda: selectors.client_list(actor=worker, q="さとう")  # noqa: E731
    return {
        "case_number": {**timed(by_number, sc.repeat), "_plan": by_number},
        "kana": {**timed(by_kana, sc.repeat), "_plan": by_kana},
    }


def keyset_vs_offset(sc: Scale, info: dict, *, worker, **_) -> dict:
    """The client list at page ``deep_page`` (product keyset paging vs the same query with OFFSET), and the audit
    log half-way down (seek on ``seq`` vs OFFSET)."""
    from audit.models import AuditEvent
    from cases.access import actor_visible_clients
    from cases.selectors import CLIENT_ORDER
    from tsunagu.keyset import keyset_page

    qs = actor_visible_clients(worker)
    pages = max(1, min(sc.deep_page, sc.visible // 50 - 1))
    cursor = None
    for _ in range(pages):
        cursor = keyset_page(qs, order=CLIENT_ORDER, limit=50, cursor=cursor).next_cursor
    offset = pages * 50
    by_key = lambda: keyset_page(qs, order=CLIENT_ORDER, limit=50, cursor=cursor).items  # noqa: E731
    by_offset = lambda: list(qs.order_by("name_kana", "id")[offset : offset + 50])  # noqa: E731
    assert [c.pk for c in by_key()] == [c.pk for c in by_offset()]
    clients_key, clients_offset = interleaved(by_key, by_offset, sc.repeat)
    total = AuditEvent.objects.count()
    deep = total // 2
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[deep]
    seek = lambda: list(AuditEvent.objects.filter(seq__lte=seq).order_by("-seq")[:50])  # noqa: E731
    skip = lambda: list(AuditEvent.objects.order_by("-seq")[deep : deep + 50])  # noqa: E731
    audit_key, audit_offset = interleaved(seek, skip, max(3, sc.repeat // 3))
    return {
        "clients": {"page": pages + 1, "offset": offset, "keyset": clients_key, "offset_": clients_offset},
        "audit": {"offset": deep, "keyset": audit_key, "offset_": audit_offset},
    }


def audit_write_vs_auditlog(sc: Scale, info: dict, *, worker, rng, **_) -> dict:
    """One audit write of ours (``audit_record``: event + exposure, MAC) vs django-auditlog's ``log_create`` of an
    access to the same client, each in its own transaction (bench environment only: ``bench/requirements.txt``)."""
    from django.apps import apps

    from audit.services import audit_record
    from cases.models import Client

    if not apps.is_installed("auditlog"):
        return {"skipped": "django-auditlog is not installed (make bench installs bench/requirements.txt)"}
    from auditlog.models import LogEntry

    clients = list(Client.objects.filter(pk__in=info["visible"][:50]))

    def ours():
        client = rng.choice(clients)
        with transaction.atomic():
            audit_record(
                actor=worker, action="client.view", client_ids=[client.pk], target_type="client", target_id=client.pk
            )

    def theirs():
        client = rng.choice(clients)
        with transaction.atomic():
            LogEntry.objects.log_create(client, action=LogEntry.Action.ACCESS, changes={}, force_log=True)

    a, b = interleaved(ours, theirs, sc.repeat)
    return {"ours": a, "auditlog": b, "ratio": a["median_ms"] / b["median_ms"]}


def sealing(sc: Scale, info: dict, **_) -> dict:
    """Seal the backlog one seal at a time (the real sealer), timing each; bounded by BENCH_SEAL_SECONDS."""
    import os

    from audit.sealing import seal_pending, unsealed_count

    limit = float(os.environ.get("BENCH_SEAL_SECONDS", "600"))
    backlog = unsealed_count()
    samples: list[float] = []
    sizes: list[int] = []
    # The sealer takes only what transactions older than the cluster's oldest running one wrote: a long
    # transaction elsewhere in the cluster (another database's tests) holds it back. Wait for it, a while
    # (BENCH_SEAL_WAIT seconds).
    waited = time.perf_counter()
    wait = float(os.environ.get("BENCH_SEAL_WAIT", "180"))
    while backlog and time.perf_counter() - waited < wait:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint > %s", [info["highest_txid"]])
            if cursor.fetchone()[0]:
                break
        time.sleep(1)
    waited_s = time.perf_counter() - waited
    started = time.perf_counter()
    evidence = ""
    while time.perf_counter() - started < limit:
        t0 = time.perf_counter()
        made = seal_pending(batch_size=sc.seal_batch, max_seals=1)
        if not made:
            break
        samples.append((time.perf_counter() - t0) * 1000)
        sizes.append(made[0].count)
    left = unsealed_count()
    sealed = sum(sizes)
    seconds = sum(samples) / 1000
    rate = sealed / seconds if seconds else float("nan")
    if left:  # one more seal, for its plan and profile
        evidence = slowest_plan(lambda: seal_pending(batch_size=sc.seal_batch, max_seals=1))
    return {
        "backlog": backlog,
        "seals": len(samples),
        "events_per_seal": sealed / len(samples) if samples else 0,
        "per_seal": summary(samples),
        "first_seals_ms": samples[:3],
        "last_seals_ms": samples[-3:],
        "rate_events_s": rate,
        "catch_up_s": backlog / rate if rate == rate and rate else float("nan"),
        "left_unsealed": left,
        "waited_for_xmin_s": waited_s,
        "evidence": evidence,
    }


def verification(sc: Scale, info: dict, **_) -> dict:
    from audit.verification import verify_log

    t0 = time.perf_counter()
    result = verify_log()
    seconds = time.perf_counter() - t0
    out = {
        "ok": result.ok,
        "message": result.message[:300],
        "events": result.events_checked,
        "seals": result.seals_checked,
        "seconds": seconds,
        "events_s": result.events_checked / seconds if seconds else float("nan"),
        "processes": result.processes,
    }
    return out


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
