"""The faster paths of the audit log (issue 17) give exactly the answers of the plain ones: the canonical line built
field by field is byte for byte the ``json.dumps`` of the definition; a period search through ``seq`` bounds misses
no event of the period even when numbers and clocks disagree a little; the dashboard's daily counts (sealed counts
plus a live count of the rest) equal a count of the events themselves."""

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone as dj_timezone

from audit import review
from audit.canonical import (
    ROW_COLUMNS,
    EventRow,
    canonical_line,
    canonical_parts,
    event_record,
    reference_canonical_line,
)
from audit.daily import count_uncounted_seals
from audit.models import AuditDailyCount, AuditEvent
from audit.selectors import CLOCK_SKEW_MARGIN, audit_event_list, seq_bounds
from audit.services import SystemActor, audit_record
from audit.signing import check_event_mac, event_mac, unnumbered_line
from audit.verification import verify_log
from tsunagu.timezones import JST

from .conftest import ProbeAction, seal_all, sealing_db

_TEXT = ['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "日本語", "ｶﾅ", "😀", "é", "a", " ", "/", "<>&'"]


def _text(rng: random.Random, *, nul: bool = True) -> str:
    pieces = [p for p in _TEXT if nul or p != "\x00"]
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 6)))


def _json_value(rng: random.Random, depth: int = 0, *, nul: bool = True) -> object:
    kinds = ["int", "float", "bool", "none", "str"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 7, 2**53 + 1, -(2**63)])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e100, 3.141592653589793, 1e-7])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "str":
        return _text(rng, nul=nul)
    if kind == "list":
        return [_json_value(rng, depth + 1, nul=nul) for _ in range(rng.randrange(0, 4))]
    return {_text(rng, nul=nul): _json_value(rng, depth + 1, nul=nul) for _ in range(rng.randrange(0, 4))}


def random_event(rng: random.Random, *, nul: bool = True) -> AuditEvent:
    zone = rng.choice([UTC, JST, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=45))])
    moment = datetime(rng.choice([2, 999, 1000, 2026, 9998]), rng.randrange(1, 13), rng.randrange(1, 29), tzinfo=zone)
    moment += timedelta(seconds=rng.randrange(86400), microseconds=rng.choice([0, 1, 999999, rng.randrange(10**6)]))
    details = _json_value(rng, nul=nul) if rng.random() < 0.7 else {}
    return AuditEvent(
        seq=rng.randrange(1, 2**40),
        uuid=uuid.UUID(int=rng.getrandbits(128)),
        occurred_at=moment,
        actor_user_id=rng.choice([None, 1, 2**40]),
        actor_username=_text(rng, nul=nul),
        actor_agency_code=_text(rng, nul=nul),
        channel=rng.choice(["web", "api", "task"]),
        action=_text(rng, nul=nul),
        outcome=rng.choice(["allowed", "denied"]),
        reason=_text(rng, nul=nul),
        client_ids=rng.choice(
            [[], None, [str(uuid.uuid4()) for _ in range(rng.randrange(1, 4))], [_text(rng, nul=nul)]]
        ),
        target_type=_text(rng, nul=nul),
        target_id=_text(rng, nul=nul),
        request_id=_text(rng, nul=nul),
        ip=rng.choice([None, "", "192.0.2.1", "2001:db8::1"]),
        user_agent=_text(rng, nul=nul),
        api_key_id=_text(rng, nul=nul),
        authorised_by=_text(rng, nul=nul),
        details=details if isinstance(details, dict) else {"v": details},
    )


def reference_unnumbered_line(event: AuditEvent) -> bytes:
    """What the MAC covered before the line was built field by field."""
    record = event_record(event, seq=0)
    del record["seq"]
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def test_the_canonical_line_is_the_definition_byte_for_byte_on_random_events():
    rng = random.Random(17)
    for _ in range(5000):
        event = random_event(rng)
        assert canonical_line(event) == reference_canonical_line(event)
        other = rng.randrange(1, 2**40)
        assert canonical_line(event, seq=other) == reference_canonical_line(event, seq=other)
        assert unnumbered_line(canonical_parts(event)) == reference_unnumbered_line(event)
    event = random_event(rng)
    event.details = {"x": float("nan")}
    with pytest.raises(ValueError):
        reference_canonical_line(event)
    with pytest.raises(ValueError):
        canonical_line(event)


@pytest.mark.django_db
def test_events_read_as_tuples_serialise_and_verify_like_model_instances():
    rng = random.Random(18)
    for _ in range(60):
        event = random_event(rng, nul=False)  # PostgreSQL text holds no NUL
        event.seq = None
        event.client_ids = event.client_ids or []  # as the columns take them
        event.ip = event.ip or None
        event.mac = event_mac(event)
        event.save()
    rows = AuditEvent.objects.order_by("seq").values_list(*ROW_COLUMNS)
    checks = []
    for row, event in zip(rows, AuditEvent.objects.order_by("seq"), strict=True):
        as_row = EventRow(row)
        assert canonical_line(as_row) == reference_canonical_line(event)
        checks.append(check_event_mac(as_row, parts=canonical_parts(as_row)))
        assert checks[-1] == check_event_mac(event)
    # Some random values do not survive a jsonb column as they were (-0.0 becomes 0): those events read as altered.
    assert checks.count("ok") > len(checks) / 2


# --- period searches through seq bounds ----------------------------------------------------------------------


def _write(moment: datetime, agency: str = "a1", client: uuid.UUID | None = None) -> AuditEvent:
    return audit_record(
        actor=SystemActor(at=moment, agency_code=agency),
        action=ProbeAction.WRITE,
        client_ids=[client] if client else [],
        target_type="client" if client else "",
        target_id=client or "",
    )


def _pages(**kwargs) -> list[int]:
    out, cursor = [], None
    while True:
        page = audit_event_list(cursor=cursor, limit=7, **kwargs)
        out += [e.seq for e in page.items]
        if not page.next_cursor:
            return out
        cursor = page.next_cursor


@pytest.mark.django_db
def test_a_period_search_finds_every_event_of_the_period_when_clocks_disagree_within_the_margin():
    """Events are written in number order with clocks up to just under the margin off either way (so an event
    numbered before another may have happened up to the margin after it): at both edges of the period, the search
    returns exactly the events whose ``occurred_at`` is inside, by agency and by client too."""
    rng = random.Random(19)
    # After every event already there (the standing cast's, written now): numbers and clocks rise together.
    since = dj_timezone.now().replace(microsecond=0) + timedelta(days=3)
    until = since + timedelta(days=1)
    client = uuid.uuid4()
    jitter = CLOCK_SKEW_MARGIN.total_seconds() / 2 - 1
    moments = [since - timedelta(days=2) + timedelta(hours=h) for h in range(0, 120, 3)]  # background, in order
    for edge in (since, until):  # dense and skewed around each edge
        moments += [edge + timedelta(seconds=s + rng.uniform(-jitter, jitter)) for s in range(-1200, 1200, 15)]
    moments.sort(key=lambda m: m.timestamp() + rng.uniform(-jitter, jitter))  # numbering order ≠ clock order
    for moment in moments:
        _write(moment, agency=rng.choice(["a1", "a2"]), client=client if rng.random() < 0.5 else None)
    low, high = seq_bounds(since, until)
    assert low is not None and high is not None  # the bounds are in play
    inside = AuditEvent.objects.filter(occurred_at__gte=since, occurred_at__lt=until).order_by("-seq")
    # Numbering and clocks do disagree across both edges.
    last_before = AuditEvent.objects.filter(occurred_at__lt=since).order_by("-seq").first()
    first_after = AuditEvent.objects.filter(occurred_at__gte=until).order_by("seq").first()
    assert inside.filter(seq__lt=last_before.seq).exists() and inside.filter(seq__gt=first_after.seq).exists()
    expected = list(inside.values_list("seq", flat=True))
    assert len(expected) > 100
    assert _pages(since=since, until=until) == expected
    assert _pages(since=since, until=until, agency="a2") == list(
        inside.filter(actor_agency_code="a2").values_list("seq", flat=True)
    )
    assert _pages(since=since, until=until, client_id=client) == list(
        inside.filter(target_id=str(client)).values_list("seq", flat=True)
    )
    assert _pages(since=since) == list(
        AuditEvent.objects.filter(occurred_at__gte=since).order_by("-seq").values_list("seq", flat=True)
    )
    assert _pages(until=until) == list(
        AuditEvent.objects.filter(occurred_at__lt=until).order_by("-seq").values_list("seq", flat=True)
    )
    # No event numbered outside the bounds is in the period: the bounds cut only what cannot match.
    assert not AuditEvent.objects.filter(Q(seq__lte=low) | Q(seq__gte=high)).filter(
        occurred_at__gte=since, occurred_at__lt=until
    )


@pytest.mark.django_db
def test_a_period_with_nothing_before_or_after_it_has_no_bound():
    _write(dj_timezone.now())
    now = dj_timezone.now()
    assert seq_bounds(now - timedelta(days=1), now + timedelta(days=1)) == (None, None)
    everything = list(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True))
    assert _pages(since=now - timedelta(days=1), until=now + timedelta(days=1)) == everything


# --- the dashboard's daily counts ----------------------------------------------------------------------------


def _direct_counts(first_day) -> tuple[dict, dict]:
    """The dashboard's figures counted from the events themselves (how it was done before the daily counts)."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=JST)
    recent = AuditEvent.objects.filter(occurred_at__gte=start).annotate(day=TruncDate("occurred_at", tzinfo=JST))
    per_agency: dict = {}
    for row in recent.order_by().values("day", "actor_agency_code").annotate(n=Count("seq")):
        per_agency.setdefault(row["day"], {})[row["actor_agency_code"]] = row["n"]
    denied = {
        row["day"]: row["n"]
        for row in recent.filter(outcome="denied").order_by().values("day").annotate(n=Count("seq"))
    }
    return dict(sorted(per_agency.items())), dict(sorted(denied.items()))


def _stats_match(officer) -> None:
    today = dj_timezone.now().astimezone(JST).date()
    per_agency, denied = _direct_counts(today - timedelta(days=6))
    stats = review.review_stats(actor=officer, days=7)  # its own audit.view comes after the counting
    assert stats.events_per_day_by_agency == per_agency
    assert stats.denied_per_day == denied


@sealing_db
def test_the_daily_counts_equal_a_count_of_the_events_sealed_or_not(sealed_cast, settings):
    settings.AUDIT_SEAL_BATCH_SIZE = 7  # several seals, cut wherever
    officer = sealed_cast.actor("penny")
    rng = random.Random(20)
    now = dj_timezone.now()
    jst_midnight = now.astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    moments = [jst_midnight - timedelta(days=d, microseconds=m) for d in range(0, 9) for m in (1, 0, -1)]
    moments += [now - timedelta(minutes=rng.randrange(0, 60 * 24 * 8)) for _ in range(40)]
    for moment in moments:
        actor = SystemActor(at=moment, agency_code=rng.choice(["a1", "a2", ""]))
        if rng.random() < 0.3:
            audit_record(actor=actor, action=ProbeAction.WRITE, outcome="denied", reason="test")
        else:
            audit_record(actor=actor, action=ProbeAction.WRITE)
    _stats_match(officer)  # nothing sealed yet: all counted live
    seal_all()
    assert AuditDailyCount.objects.exists()
    _stats_match(officer)  # everything sealed: all from the daily counts
    for moment in moments[:10]:
        audit_record(actor=SystemActor(at=moment, agency_code="a2"), action=ProbeAction.WRITE)
    _stats_match(officer)  # both
    assert verify_log().ok

    # The migration counts the seals made before the daily counts existed.
    AuditDailyCount.objects.all().delete()
    migration = import_module("audit.migrations.0011_sealing_index_daily_counts")
    migration.count_sealed_events(django_apps, None)
    _stats_match(officer)
    assert count_uncounted_seals() == 0  # each seal is counted once
    _stats_match(officer)
