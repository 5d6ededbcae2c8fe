"""The benchmark's data, written in bulk: PostgreSQL ``COPY`` (psycopg's ``cursor.copy``) for the big tables.

Building 100,000 clients and 10,000,000 audit events one service call at a time would take days, so the fixture
writes the rows the services would have written, straight into the tables; every *measured* operation then goes
through the real, audited selectors and services. What makes the data realistic:

* the audit log rises with ``seq`` in time, as a real log does (random times would hide the slow plans): events
  spread over ``audit_days`` ending now, dense on weekdays 8–19 JST, thin at night and at weekends;
* each event is an access by a user of the client's owning agency (views, timeline reads, appends, 1% denied),
  with its exposure row, its ``authorised_by`` share and a valid MAC (``audit.signing``);
* all but the newest ``backlog`` events are sealed in batches of ``seal_batch`` in a seal chain computed exactly as
  ``audit.sealing`` does (``audit.canonical``); the newest are left for the sealing scenario. ``verify_audit`` must
  pass on the result, which the run checks (the verification scenario).

Transaction ids: a seal's batch is "events whose inserting transaction id is between two horizons"
(``audit.sealing``). A COPY is one transaction, so the events get ``txid`` values written explicitly, rising with
``seq`` (several events a transaction, like requests that write an event or two): ids the fixture first uses up
(one empty transaction each, pipelined), above those of the setup's own events (agencies, staff, the API key,
written by the services), which open the first seal. The real sealer takes the backlog only once the cluster's
oldest running transaction is past those ids (a long transaction in another database of the cluster delays it;
the sealing scenario waits up to 3 minutes and reports the wait).

Index maintenance during a 10M-row COPY would dominate the build, so the secondary indexes and unique constraints
of the bulk-loaded tables are dropped first and re-created afterwards from their own definitions
(``pg_get_indexdef`` / ``pg_get_constraintdef``): whatever indexes main has, the measured database has them too.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import time
import uuid
from datetime import datetime, timedelta

from .common import Scale, log

# Names of the measured people (also used by the scenarios).
CASEWORKER = "bench_worker"  # supervisor of agency a00: the in-process caseworker
INTEGRATION = "bench_api"  # integration user of a00: the HTTP API key's user
OFFICER = "bench_officer"  # the privacy officer
USERS_PER_AGENCY = 25


def agency_code(i: int) -> str:
    return f"a{i:02d}"


def username(agency: int, k: int) -> str:
    return f"u{agency:02d}{k:02d}"


FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ")]
FAMILY += [("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ")]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("恵", "メグミ"), ("翔", "ショウ"), ("陽子", "ヨウコ")]
TAGS = ["高齢", "障がい", "生活困窮", "子ども"]


def case_number(i: int) -> str:
    return f"B-{i:07d}"


# --- bulk loading ------------------------------------------------------------------------------------------------


def _raw(connection):
    connection.ensure_connection()
    return connection.connection


def copy_models(connection, model, objs) -> int:
    """COPY model instances into their table: every concrete field, prepared as Django would save it."""
    from django.db import models

    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    n = 0
    table = model._meta.db_table
    with _raw(connection).cursor() as cursor, cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
        for obj in objs:
            copy.write_row([f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields])
            n += 1
    return n


def drop_secondary(connection, table: str) -> list[str]:
    """Drop the indexes and unique constraints of ``table`` other than its primary key; returns the statements
    that re-create them."""
    statements: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'u' AND conparentid = 0",
            [table],
        )
        for name, definition in cursor.fetchall():
            statements.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)",
            [table],
        )
        for name, definition in cursor.fetchall():
            # A partitioned table's index reads "CREATE INDEX … ON ONLY <table>": made that way it would cover no
            # partition (and stay invalid). Made on the table, it is built on every partition and attached.
            statements.append(definition.replace(" ON ONLY ", " ON ", 1))
            cursor.execute(f"DROP INDEX {name}")
    return statements


def recreate(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's foreign keys are deferred: check them now
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for statement in statements:
            cursor.execute(statement)


# --- the log's clock ---------------------------------------------------------------------------------------------


def _hour_weight(moment: datetime) -> float:
    jst = moment + timedelta(hours=9)
    weekday = jst.weekday() < 5
    hour = jst.hour
    if weekday:
        return 10.0 if 8 <= hour < 19 else 3.0 if hour in (7, 19, 20) else 0.4
    return 1.0 if 9 <= hour < 18 else 0.2


def event_times(n: int, days: int, end: datetime, rng: random.Random):
    """``n`` timestamps (UTC, microseconds) rising over ``days`` up to ``end``, with business-hours density:
    yields (canonical text ``YYYY-MM-DDTHH:MM:SS.ffffff``, datetime of the hour) in ascending order."""
    start = (end - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    hours = [start + timedelta(hours=h) for h in range(days * 24)]
    weights = [_hour_weight(h) for h in hours]
    total = sum(weights)
    done = 0
    cumulative = 0.0
    for hour, weight in zip(hours, weights, strict=True):
        cumulative += weight
        upto = round(cumulative / total * n)
        k = upto - done
        done = upto
        if k <= 0:
            continue
        base = hour.strftime("%Y-%m-%dT%H:")
        for off in sorted(rng.randrange(3_600_000_000) for _ in range(k)):
            minute, rest = divmod(off, 60_000_000)
            second, micro = divmod(rest, 1_000_000)
            yield f"{base}{minute:02d}:{second:02d}.{micro:06d}", hour


# --- the fixture ---------------------------------------------------------------------------------------------------


def build(connection, sc: Scale) -> dict:
    """Build everything; returns what the scenarios need to know (ids, names, periods)."""
    from django.contrib.auth.models import Permission
    from django.db import transaction
    from django.utils import timezone

    from agencies.actors import Actor
    from agencies.models import Agency
    from agencies.services import agency_create, apikey_issue, staff_create
    from cases.models import LEVEL_PERMS, Client, ClientGroupObjectPermission, Share, TimelineEntry
    from cases.services.clients import _refresh_keys

    started = time.perf_counter()
    rng = random.Random(7)
    system = Actor.system(channel="cli")
    agencies = [
        agency_create(actor=system, code=agency_code(i), name=f"機関{i:02d}", kind="other") for i in range(sc.agencies)
    ]
    staff_create(actor=system, username=CASEWORKER, agency_code="a00", role="supervisor")
    integration = staff_create(actor=system, username=INTEGRATION, agency_code="a00", role="integration")
    staff_create(actor=system, username=OFFICER, agency_code="a00", role="supervisor", is_privacy_officer=True)
    _key, api_key = apikey_issue(actor=system, user=integration.user, name="benchmark")
    agencies = list(Agency.objects.order_by("code"))
    now = timezone.now()
    timings: dict[str, float] = {}

    # Clients, their owner's share and guardian's permissions on the owner's group.
    t0 = time.perf_counter()
    client_ids: list[uuid.UUID] = []
    owner_of: list[int] = []
    share_of: list[uuid.UUID] = []

    def clients():
        for i in range(sc.clients):
            family, family_kana = FAMILY[rng.randrange(len(FAMILY))]
            given, given_kana = GIVEN[rng.randrange(len(GIVEN))]
            owner = 0 if i < sc.visible else 1 + rng.randrange(max(1, sc.agencies - 1))
            owner = min(owner, sc.agencies - 1)
            client = Client(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                case_number=case_number(i),
                name=f"{family} {given}{i}",
                name_kana=f"{family_kana} {given_kana}",
                birth_date=(now - timedelta(days=rng.randrange(365 * 5, 365 * 95))).date(),
                owner_agency=agencies[owner],
                tags=[rng.choice(TAGS)],
            )
            _refresh_keys(client)
            client_ids.append(client.id)
            owner_of.append(owner)
            yield client

    permission = {p.codename: p.pk for p in Permission.objects.filter(content_type__app_label="cases")}

    def shares():
        for cid, owner in zip(client_ids, owner_of, strict=True):
            share = Share(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                client_id=cid,
                agency=agencies[owner],
                level="manage",
                basis="consent",
                granted_at=now - timedelta(days=800),
            )
            share_of.append(share.id)
            yield share

    def perms():
        for cid, owner in zip(client_ids, owner_of, strict=True):
            for codename in LEVEL_PERMS["manage"]:
                yield ClientGroupObjectPermission(
                    group_id=agencies[owner].group_id, permission_id=permission[codename], content_object_id=cid
                )

    with transaction.atomic():
        rebuild = []
        for model in (Client, Share, ClientGroupObjectPermission):
            rebuild += drop_secondary(connection, model._meta.db_table)
        copy_models(connection, Client, clients())
        copy_models(connection, Share, shares())
        copy_models(connection, ClientGroupObjectPermission, perms())
        recreate(connection, rebuild)
    timings["clients, shares, permissions"] = time.perf_counter() - t0
    log(f"{sc.clients:,} clients with shares and permissions in {timings['clients, shares, permissions']:.0f} s")

    # Timeline entries: a quarter on the measured agency's clients.
    t0 = time.perf_counter()
    span = 60 * 24 * sc.audit_days

    def entries():
        for i in range(sc.entries):
            index = rng.randrange(sc.visible) if i % 4 == 0 else rng.randrange(sc.clients)
            yield TimelineEntry(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                client_id=client_ids[index],
                kind=rng.choice(["visit", "call", "consultation"]),
                occurred_at=now - timedelta(minutes=rng.randrange(1, span)),
                body="訪問して様子を確認した。" * 3,
                agency=agencies[owner_of[index]],
                recorded_at=now,
            )

    with transaction.atomic():
        rebuild = drop_secondary(connection, TimelineEntry._meta.db_table)
        copy_models(connection, TimelineEntry, entries())
        recreate(connection, rebuild)
    timings["timeline entries"] = time.perf_counter() - t0
    log(f"{sc.entries:,} timeline entries in {timings['timeline entries']:.0f} s")

    t0 = time.perf_counter()
    audit_info = _audit_events(connection, sc, rng, client_ids, owner_of, share_of, now)
    timings["audit events, exposures, seals"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("audit_auditevent", "audit_auditexposure", "cases_client", "cases_share"):
            cursor.execute(f'VACUUM (ANALYZE) "{table}"')
        cursor.execute("ANALYZE")
        # Write out what the build left dirty now, not while the scenarios are measured (a checkpoint after ~10 GB
        # of writes otherwise competes with them for the disk for minutes).
        cursor.execute("CHECKPOINT")
    timings["vacuum, analyze, checkpoint"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    log(f"fixture built in {timings['total']:.0f} s")
    return {
        "api_key": api_key,
        "visible": [str(c) for c in client_ids[: sc.visible]],
        "hidden": [str(c) for c in client_ids[sc.visible : sc.visible + 200]],
        "timings_s": timings,
        **audit_info,
    }


def _audit_events(connection, sc: Scale, rng: random.Random, client_ids, owner_of, share_of, now) -> dict:
    """The events (COPY), their exposures (one INSERT … SELECT) and the seals of all but the backlog."""
    from django.conf import settings
    from django.db import transaction

    from audit import partitions
    from audit.anchors import publish_anchors
    from audit.canonical import GENESIS_HASH, canonical_line, encode_seqs
    from audit.daily import count_uncounted_seals
    from audit.models import AuditEvent, AuditSeal
    from audit.signing import event_mac

    key_id, secret = settings.AUDIT_SIGNING_KEYS[0]
    key = secret.encode("utf-8")
    n = sc.events
    sealed_n = n - sc.backlog
    # The setup's own events (agencies, staff, the key: written by the services, committed) open the first seal;
    # the bulk events then take transaction ids above theirs, used up here one empty transaction each (a
    # pipeline): several events a transaction, at most ~200,000 ids.
    setup_events = list(AuditEvent.objects.order_by("seq"))
    group = max(2, -(-n // 200_000))  # events per transaction
    wanted = n // group + 10
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(max(seq), 0) FROM audit_auditevent")
        seq0 = int(cursor.fetchone()[0]) + 1000
        cursor.execute("SELECT tsunagu_cluster_id()")
        cluster = cursor.fetchone()[0]
    raw = _raw(connection)
    autocommit = raw.autocommit
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        lowest = int(cursor.fetchone()[0]) + 1
        with raw.pipeline() as pipeline:
            for i in range(wanted):
                cursor.execute("SELECT pg_current_xact_id()")
                pipeline.sync()  # each its own transaction
                if i % 1000 == 999:
                    cursor.fetchall()
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        highest = int(cursor.fetchone()[0])
    raw.autocommit = autocommit
    assert highest > lowest + n // group + 2, (lowest, highest)

    actions = (
        ["client.view"] * 40
        + ["timeline.view"] * 35
        + ["timeline.append"] * 15
        + ["client.update"] * 5
        + ["share.list"] * 5
    )
    end = now - timedelta(seconds=30)
    columns = (
        "seq, uuid, occurred_at, actor_user_id, actor_username, actor_agency_code, channel, action, outcome, reason, "
        "client_ids, target_type, target_id, request_id, ip, user_agent, api_key_id, authorised_by, details, mac, "
        "txid, cluster"
    )
    seals: list[AuditSeal] = []
    prev_hash = GENESIS_HASH
    seal_lines = hashlib.sha256(prev_hash.encode("ascii"))
    seal_seqs: list[int] = []
    seal_digests: list[bytes] = []
    for event in setup_events:
        line = canonical_line(event)
        if seal_seqs:
            seal_lines.update(b"\n")
        seal_lines.update(line)
        seal_seqs.append(event.seq)
        seal_digests.append(hashlib.sha256(line).digest()[:8])
    prev_txid = None
    last_time = ""
    checked = 0
    counts_by_day: dict[str, int] = {}
    t0 = time.perf_counter()
    buffer = io.StringIO()
    sha256 = hashlib.sha256
    hmac_new = hmac.new

    def close_seal(horizon: int) -> None:
        nonlocal prev_hash, seal_lines, seal_seqs, seal_digests
        digest = seal_lines.hexdigest()
        created = datetime.fromisoformat(last_time + "+00:00") + timedelta(seconds=5)
        seals.append(
            AuditSeal(
                first_seq=seal_seqs[0],
                last_seq=seal_seqs[-1],
                count=len(seal_seqs),
                seqs=encode_seqs(seal_seqs),
                digests=b"".join(seal_digests),
                prev_hash=prev_hash,
                seal_hash=digest,
                txid_horizon=horizon,
                sealer_txid=horizon,
                cluster=cluster,
                created_at=created,
            )
        )
        prev_hash = digest
        seal_lines = sha256(prev_hash.encode("ascii"))
        seal_seqs, seal_digests = [], []

    # PostgreSQL partitions the events by month (audit.partitions): make the months the log spans first, so that
    # the COPY fills them as a real log would rather than the default partition.
    partitions.add_months(end - timedelta(days=sc.audit_days + 1), end)
    with transaction.atomic():
        rebuild = drop_secondary(connection, "audit_auditevent") + drop_secondary(connection, "audit_auditexposure")
        with _raw(connection).cursor() as cursor, cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
            for i, (stamp, _hour) in enumerate(event_times(n, sc.audit_days, end, rng)):
                seq = seq0 + i
                txid = lowest + i // group + (1 if i >= sealed_n else 0)
                index = rng.randrange(len(client_ids))
                owner = owner_of[index]
                k = rng.randrange(USERS_PER_AGENCY)
                user_id = 100000 + owner * 100 + k
                uname = username(owner, k)
                agency = agency_code(owner)
                cid = str(client_ids[index])
                ev_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                request_id = f"{rng.getrandbits(128):032x}"
                if rng.random() < 0.01:  # a denied attempt: nothing shown, the target recorded
                    action, outcome, reason, cids, authorised = "client.view", "denied", "not_found", "[]", ""
                else:
                    action, outcome, reason = actions[rng.randrange(len(actions))], "allowed", ""
                    cids, authorised = f'["{cid}"]', f"share:{share_of[index]}"
                head = (
                    f'{{"action":"{action}","actor_agency_code":"{agency}","actor_user_id":{user_id},'
                    f'"actor_username":"{uname}","api_key_id":"","authorised_by":"{authorised}","channel":"web",'
                    f'"client_ids":{cids},"details":{{}},"ip":null,"occurred_at":"{stamp}Z",'
                    f'"outcome":"{outcome}","reason":"{reason}","request_id":"{request_id}",'
                )
                tail = f'"target_id":"{cid}","target_type":"client","user_agent":"","uuid":"{ev_uuid}"}}'
                unnumbered = (head + tail).encode("utf-8")
                tag = hmac_new(key, ev_uuid.encode("ascii"), sha256).hexdigest()[:16]
                mac = f"{key_id}:{tag}.{hmac_new(key, unnumbered, sha256).hexdigest()}"
                if checked < 3:  # the hand-built lines are audit.canonical's and audit.signing's
                    event = AuditEvent(
                        seq=seq,
                        uuid=uuid.UUID(ev_uuid),
                        occurred_at=datetime.fromisoformat(stamp + "+00:00"),
                        actor_user_id=user_id,
                        actor_username=uname,
                        actor_agency_code=agency,
                        channel="web",
                        action=action,
                        outcome=outcome,
                        reason=reason,
                        client_ids=json.loads(cids),
                        target_type="client",
                        target_id=cid,
                        request_id=request_id,
                        authorised_by=authorised,
                        details={},
                    )
                    line = (head + f'"seq":{seq},' + tail).encode("utf-8")
                    assert canonical_line(event) == line, (canonical_line(event), line)
                    assert event_mac(event) == mac
                    checked += 1
                if i < sealed_n:
                    if seal_seqs and len(seal_seqs) >= sc.seal_batch and txid != prev_txid:
                        close_seal(horizon=txid)
                    line = (head + f'"seq":{seq},' + tail).encode("utf-8")
                    if seal_seqs:
                        seal_lines.update(b"\n")
                    seal_lines.update(line)
                    seal_seqs.append(seq)
                    seal_digests.append(sha256(line).digest()[:8])
                elif i == sealed_n and seal_seqs:
                    close_seal(horizon=txid)
                prev_txid = txid
                last_time = stamp
                day = stamp[:10]
                counts_by_day[day] = counts_by_day.get(day, 0) + 1
                buffer.write(
                    f"{seq}\t{ev_uuid}\t{stamp}+00\t{user_id}\t{uname}\t{agency}\tweb\t{action}\t{outcome}\t"
                    f"{reason}\t{cids}\tclient\t{cid}\t{request_id}\t\\N\t\t\t{authorised}\t{{}}\t{mac}\t"
                    f"{txid}\t{cluster}\n"
                )
                if buffer.tell() > 1 << 20:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                if i and i % 1_000_000 == 0:
                    log(f"  {i:,} events ({i / (time.perf_counter() - t0):,.0f}/s)")
            copy.write(buffer.getvalue())
        if seal_seqs:  # everything sealed (no backlog)
            close_seal(horizon=lowest + (n - 1) // group + 1)
        log(f"{n:,} events copied in {time.perf_counter() - t0:.0f} s; exposures")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditexposure (event_seq, client_id, exposed) "
                "SELECT seq, target_id::uuid, outcome = 'allowed' FROM audit_auditevent WHERE target_type = 'client' "
                "AND seq >= %s ORDER BY seq",
                [seq0],
            )
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        log(f"exposures in {time.perf_counter() - t0:.0f} s; re-creating {len(rebuild)} indexes")
        recreate(connection, rebuild)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval('audit_auditevent_seq_seq', GREATEST((SELECT max(seq) FROM audit_auditevent), 1))"
            )
        for start in range(0, len(seals), 50):
            AuditSeal.objects.bulk_create(seals[start : start + 50])
        count_uncounted_seals()  # the dashboard's daily counts, which audit.sealing writes with each seal
    publish_anchors()
    log(f"{n:,} events, {len(seals):,} seals in {time.perf_counter() - t0:.0f} s (events per transaction: {group})")
    busiest = max(counts_by_day, key=counts_by_day.get) if counts_by_day else ""
    return {
        "events_per_txid": group,
        "seals_built": len(seals),
        "busiest_day": busiest,
        "busiest_day_events": counts_by_day.get(busiest, 0),
        "first_seq": seq0,
        "highest_txid": highest,
    }
