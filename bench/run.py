"""Benchmarks of the hot paths on PostgreSQL, at a configurable scale. Numbers go to BENCHMARKS.md.

    make bench                                   # default scale (see SCALE below), database tsunagu_bench
    BENCH_CLIENTS=100000 BENCH_ENTRIES=1000000 BENCH_EVENTS=2000000 make bench

The fixture data is written in bulk (COPY-speed inserts straight into the tables, shares and guardian
permissions included) because building 100k clients one service call at a time would take hours; every
*measured* operation goes through the real, audited selectors and services, exactly as a request does.
The database is dropped and re-created on each run.
"""

import contextlib
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("AUDIT_HMAC_KEYS", "bench:bench-only-audit-hmac-key-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagu_bench")

SCALE = {
    "clients": int(os.environ.get("BENCH_CLIENTS", "20000")),
    "entries": int(os.environ.get("BENCH_ENTRIES", "200000")),
    "events": int(os.environ.get("BENCH_EVENTS", "500000")),
    "agencies": 20,
    "visible": int(os.environ.get("BENCH_VISIBLE", "2000")),  # clients shared with the measured agency
}
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))


def recreate_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    actor, client_ids, hidden_ids = build_fixture()
    results = measure(actor, client_ids, hidden_ids)
    write_report(results)


def build_fixture():
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from agencies.actors import Actor
    from agencies.services import agency_create, staff_create
    from audit.models import AuditEvent, AuditExposure
    from audit.signing import event_mac
    from cases.models import LEVEL_PERMS, Client, ClientGroupObjectPermission, Share, TimelineEntry
    from cases.services.clients import _refresh_keys

    rng = random.Random(7)
    system = Actor.system(channel="cli")
    agencies = [
        agency_create(actor=system, code=f"a{i:02d}", name=f"機関{i:02d}", kind="other")
        for i in range(SCALE["agencies"])
    ]
    staff = staff_create(actor=system, username="bench", agency_code="a00", role="supervisor")
    actor = Actor.for_user(staff.user, channel="api")
    now = timezone.now()
    family = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
    kana = [
        "サトウ",
        "スズキ",
        "タカハシ",
        "タナカ",
        "イトウ",
        "ワタナベ",
        "ヤマモト",
        "ナカムラ",
        "コバヤシ",
        "カトウ",
    ]
    given = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("恵", "メグミ"), ("翔", "ショウ")]
    t0 = time.perf_counter()
    clients = []
    for i in range(SCALE["clients"]):
        f = rng.randrange(len(family))
        g = rng.randrange(len(given))
        client = Client(
            case_number=f"B-{i:07d}",
            name=f"{family[f]} {given[g][0]}{i}",
            name_kana=f"{kana[f]} {given[g][1]}",
            birth_date=now.date() - timedelta(days=rng.randrange(365 * 5, 365 * 95)),
            owner_agency=agencies[rng.randrange(1, len(agencies))] if i >= SCALE["visible"] else agencies[0],
            tags=[rng.choice(["高齢", "障がい", "生活困窮", "子ども"])],
        )
        _refresh_keys(client)
        clients.append(client)
    Client.objects.bulk_create(clients, batch_size=5000)
    shares, perms = [], []
    permission = {p.codename: p for p in Permission.objects.filter(content_type__app_label="cases")}
    for client in clients:
        agency = client.owner_agency
        shares.append(Share(client=client, agency=agency, level="manage", basis="consent"))
        perms += [
            ClientGroupObjectPermission(group_id=agency.group_id, permission=permission[c], content_object=client)
            for c in LEVEL_PERMS["manage"]
        ]
    Share.objects.bulk_create(shares, batch_size=5000)
    ClientGroupObjectPermission.objects.bulk_create(perms, batch_size=10000)
    visible = [c.pk for c in clients[: SCALE["visible"]]]
    hidden = [c.pk for c in clients[SCALE["visible"] :]]
    entries = []
    for i in range(SCALE["entries"]):
        client = clients[rng.randrange(len(clients))] if i % 4 else clients[rng.randrange(SCALE["visible"])]
        entries.append(
            TimelineEntry(
                client=client,
                kind=rng.choice(["visit", "call", "note"]),
                occurred_at=now - timedelta(minutes=rng.randrange(1, 60 * 24 * 365)),
                body="訪問して様子を確認した。" * 3,
                agency=client.owner_agency,
            )
        )
        if len(entries) == 10000:
            TimelineEntry.objects.bulk_create(entries)
            entries = []
    TimelineEntry.objects.bulk_create(entries)
    events = []
    for _ in range(SCALE["events"]):
        cid = clients[rng.randrange(len(clients))].pk
        events.append(
            AuditEvent(
                occurred_at=now - timedelta(seconds=rng.randrange(1, 3600 * 24 * 365)),
                actor_username=f"user{rng.randrange(500)}",
                actor_agency_code=f"a{rng.randrange(SCALE['agencies']):02d}",
                channel="web",
                action=rng.choice(["client.view", "timeline.view", "timeline.append"]),
                outcome="allowed",
                client_ids=[str(cid)],
                target_type="client",
                target_id=str(cid),
            )
        )
        events[-1].mac = event_mac(events[-1])
        if len(events) == 10000:
            made = AuditEvent.objects.bulk_create(events)
            AuditExposure.objects.bulk_create(
                [AuditExposure(event=e, client_id=uuid.UUID(e.target_id)) for e in made], batch_size=10000
            )
            events = []
    if events:
        made = AuditEvent.objects.bulk_create(events)
        AuditExposure.objects.bulk_create([AuditExposure(event=e, client_id=uuid.UUID(e.target_id)) for e in made])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"fixture: {SCALE} built in {time.perf_counter() - t0:.0f} s", flush=True)
    return actor, visible, hidden


def timed(fn, repeat=REPEAT) -> dict:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[max(0, int(len(samples) * 0.95) - 1)],
    }


def measure(actor, visible, hidden) -> dict:
    from audit import selectors as audit_selectors
    from cases import selectors, services
    from tsunagu.errors import NotFound

    rng = random.Random(11)
    results = {}
    results["client_list: first page (50) of the visible clients"] = timed(lambda: selectors.client_list(actor=actor))
    page = selectors.client_list(actor=actor)
    results["client_list: next page by cursor"] = timed(
        lambda: selectors.client_list(actor=actor, cursor=page.next_cursor)
    )
    results["client_list: search by フリガナ"] = timed(lambda: selectors.client_list(actor=actor, q="さとう"))
    results["client_list: search by case number"] = timed(
        lambda: selectors.client_list(actor=actor, q=f"B-{rng.randrange(len(visible)):07d}")
    )
    results["client_get: one client (audited)"] = timed(
        lambda: selectors.client_get(actor=actor, client_id=rng.choice(visible))
    )

    def hidden_get():
        with contextlib.suppress(NotFound):
            selectors.client_get(actor=actor, client_id=rng.choice(hidden))

    results["client_get: a hidden client (denied, audited)"] = timed(hidden_get)
    results["timeline_list: newest 50 entries"] = timed(
        lambda: selectors.timeline_list(actor=actor, client_id=rng.choice(visible))
    )
    results["timeline_append: one entry (audited, outbox)"] = timed(
        lambda: services.timeline_append(actor=actor, client_id=rng.choice(visible), kind="call", body="電話連絡。")
    )
    results["audit: events by client (newest 50)"] = timed(
        lambda: audit_selectors.audit_event_list(client_id=rng.choice(visible))
    )
    results["audit: events by actor (newest 50)"] = timed(
        lambda: audit_selectors.audit_event_list(actor=f"user{rng.randrange(500)}")
    )
    return results


def write_report(results: dict) -> None:
    import platform

    import django

    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`bench/run.py`) on PostgreSQL; fixture data in bulk, every measured call through",
        "the audited selectors/services (so each includes its audit insert). Medians and 95th percentiles over",
        f"{REPEAT} calls after a warm-up, on one process of this machine ({os.cpu_count()} cores).",
        "",
        f"Scale: {SCALE['clients']:,} clients, {SCALE['entries']:,} timeline entries, "
        f"{SCALE['events']:,} audit events, {SCALE['agencies']} agencies; the measured agency sees "
        f"{SCALE['visible']:,} clients.",
        f"Python {platform.python_version()}, Django {django.get_version()}.",
        "",
        "| operation | median ms | p95 ms |",
        "|---|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} |")
    lines.append("")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
