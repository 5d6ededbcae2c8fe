"""Anomaly rules on constructed event streams: each rule's true positives and true negatives, idempotent runs,
who may run detection."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from audit import tasks
from audit.anomalies import run_rules
from audit.models import AnomalyFlag, AuditEvent
from audit.review import detect_anomalies
from audit.services import SystemActor, audit_record
from tsunagu.errors import Forbidden

JST = ZoneInfo("Asia/Tokyo")
TUESDAY = datetime(2026, 11, 24, tzinfo=JST)  # a weekday
SATURDAY = datetime(2026, 11, 28, tzinfo=JST)
SINCE = datetime(2026, 11, 20, tzinfo=JST)
UNTIL = datetime(2026, 12, 5, tzinfo=JST)

pytestmark = [pytest.mark.django_db, pytest.mark.empty_db]  # the event streams are the whole log


@dataclass(frozen=True)
class Person:
    username: str
    agency_code: str
    channel: str = "web"
    user_id: int | None = 1
    ip: str | None = "192.0.2.10"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_agent: str = ""
    api_key_id: str = ""
    is_privacy_officer: bool = False
    at: datetime | None = None  # the clock (these tests travel with time_machine)


BOB = Person("bob", "shakyo")
CAROL = Person("carol", "houkatsu", ip="192.0.2.11")
RICK = Person("rick", "soudan", ip="192.0.2.12")
ERIN = Person("erin", "kaigo", ip="192.0.2.13")
SAM = Person("sam", "fukushi", ip="192.0.2.14")
STRANGER = Person("anonymous", "", channel="api", user_id=None, ip="203.0.113.9")


def at(moment: datetime, who: Person = BOB, **fields) -> AuditEvent:
    with time_machine.travel(moment, tick=False):
        return audit_record(actor=who, **fields)


def view(moment, who=BOB, client=None, outcome="allowed"):
    client = client or uuid.uuid4()
    ids = [client] if outcome == "allowed" else []
    return at(
        moment, who, action="client.view", outcome=outcome, client_ids=ids, target_type="client", target_id=client
    )


def flags(rule: str) -> list[AnomalyFlag]:
    return list(AnomalyFlag.objects.filter(rule=rule).order_by("window_start", "subject_key"))


def detect() -> int:
    return run_rules(since=SINCE, until=UNTIL)


def test_after_hours(settings):
    early = view(TUESDAY.replace(hour=7, minute=30))
    late = view(TUESDAY.replace(hour=22))
    view(TUESDAY.replace(hour=10))  # working hours
    view(TUESDAY.replace(hour=18, minute=59))  # still working hours
    weekend = view(SATURDAY.replace(hour=11), CAROL)
    at(TUESDAY.replace(hour=23), CAROL, action="auth.login")  # not case data
    at(TUESDAY.replace(hour=23), CAROL, action="audit.view")  # not case data
    view(TUESDAY.replace(hour=23), CAROL, outcome="denied")  # denied: not an access (the denial rule's business)
    at(TUESDAY.replace(hour=2), SystemActor(channel="task"), action="share.expire", client_ids=[uuid.uuid4()])
    assert detect() == 2
    tuesday, saturday = flags("after_hours")
    assert (tuesday.subject_username, tuesday.subject_agency_code) == ("bob", "shakyo")
    assert tuesday.event_seqs == [early.seq, late.seq]
    assert tuesday.window_start == TUESDAY and tuesday.window_end == TUESDAY + timedelta(days=1)
    assert "2026年11月24日" in tuesday.summary and "2件" in tuesday.summary
    assert saturday.subject_username == "carol" and saturday.event_seqs == [weekend.seq]
    assert tuesday.status == "open"


def test_after_hours_is_configurable(settings):
    settings.AUDIT_WORK_END_HOUR = 23
    view(TUESDAY.replace(hour=22))
    assert detect() == 0
    view(TUESDAY.replace(hour=23, minute=30))
    assert detect() == 1


def test_many_clients_in_an_hour(settings):
    """Clients opened count; clients merely shown in a list or search page do not (one page holds 50)."""
    settings.AUDIT_MANY_CLIENTS_PER_HOUR = 30
    hour = TUESDAY.replace(hour=10)
    first = uuid.uuid4()
    opened = [view(hour.replace(minute=5), client=first), view(hour.replace(minute=6), client=first)]  # same client
    opened += [view(hour.replace(minute=10 + i)) for i in range(30)]  # 31 distinct in the hour
    at(hour.replace(minute=2), action="client.list", client_ids=[uuid.uuid4() for _ in range(50)])
    # carol: a search page of 50 and exactly 30 opened clients (not more than the threshold)
    at(hour.replace(minute=1), CAROL, action="client.search", client_ids=[uuid.uuid4() for _ in range(50)])
    for i in range(30):
        view(hour.replace(minute=20 + i), CAROL)
    # erin: 40 clients opened, but split across two clock hours
    for i in range(20):
        view(hour.replace(minute=30 + i), ERIN)
        view(hour.replace(hour=11, minute=5 + i), ERIN)
    # rick: 40 denied attempts do not count
    for i in range(40):
        view(hour.replace(minute=i), RICK, outcome="denied")
    detect()  # rick's denials raise flags of their own rule; only bob opened too many clients
    (flag,) = flags("many_clients")
    assert flag.subject_username == "bob" and flag.window_start == hour
    assert flag.window_end == hour + timedelta(hours=1)
    assert set(flag.event_seqs) == {e.seq for e in opened}
    assert "31人" in flag.summary


def test_repeated_denials_by_user_and_by_ip(settings):
    settings.AUDIT_DENIED_THRESHOLD = 5
    settings.AUDIT_DENIED_WINDOW_MINUTES = 10
    start = TUESDAY.replace(hour=10)
    burst = [view(start + timedelta(minutes=2 * i), RICK, outcome="denied") for i in range(5)]  # 8 minutes
    # carol: 5 denials spread over 12 minutes, never 5 within 10
    for i in range(5):
        view(start + timedelta(minutes=3 * i), CAROL, outcome="denied")
    # bob: 4 denials only
    for i in range(4):
        view(start + timedelta(minutes=i), BOB, outcome="denied")
    # unknown API keys from one address
    keys = [
        at(start + timedelta(seconds=10 * i), STRANGER, action="auth.api_key", outcome="denied", reason="unknown")
        for i in range(6)
    ]
    assert detect() == 2
    by_ip, by_user = flags("repeated_denials")
    assert by_user.subject_key == "user:rick" and by_user.event_seqs == [e.seq for e in burst]
    assert by_user.window_start == start and by_user.window_end == start + timedelta(minutes=10)
    assert by_ip.subject_key == "ip:203.0.113.9" and by_ip.event_seqs == [e.seq for e in keys]
    assert "203.0.113.9" in by_ip.summary and "6回" in by_ip.summary


def test_every_break_glass_use():
    client = uuid.uuid4()
    used = at(TUESDAY.replace(hour=11), CAROL, action="break_glass", target_type="client", target_id=client)
    again = at(TUESDAY.replace(hour=15), CAROL, action="break_glass", target_type="client", target_id=client)
    at(TUESDAY.replace(hour=12), BOB, action="break_glass", outcome="denied", reason="no_match")
    assert detect() == 2
    first, second = flags("break_glass")
    assert first.event_seqs == [used.seq] and second.event_seqs == [again.seq]
    assert first.subject_username == "carol" and str(client) in first.summary


def test_access_after_share_end(settings):
    settings.AUDIT_AFTER_SHARE_END_HOURS = 24
    client, other, regranted = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    revoked_at = TUESDAY.replace(hour=10)

    def share_end(moment, client_id, agency, action="share.revoke"):
        return at(
            moment,
            SAM,
            action=action,
            client_ids=[client_id],
            target_type="share",
            target_id=uuid.uuid4(),
            details={"agency": agency},
        )

    end = share_end(revoked_at, client, "soudan")
    attempt = view(revoked_at + timedelta(hours=2), RICK, client=client, outcome="denied")
    view(revoked_at + timedelta(hours=30), RICK, client=client, outcome="denied")  # after the window
    view(revoked_at + timedelta(hours=3), RICK, client=other)  # another client
    view(revoked_at + timedelta(hours=1), ERIN, client=client, outcome="denied")  # another agency
    view(revoked_at - timedelta(hours=1), RICK, client=client)  # before the revocation
    # an expiry followed by a new grant: access after the new grant is legitimate
    share_end(revoked_at, regranted, "kaigo", action="share.expire")
    at(
        revoked_at + timedelta(hours=1),
        SAM,
        action="share.grant",
        client_ids=[regranted],
        target_type="share",
        target_id=uuid.uuid4(),
        details={"agency": "kaigo"},
    )
    view(revoked_at + timedelta(hours=2), ERIN, client=regranted)
    settings.AUDIT_MANY_CLIENTS_PER_HOUR = 1000
    run_rules(since=SINCE, until=UNTIL)
    (flag,) = flags("after_share_end")
    assert flag.subject_key == f"agency:soudan|client:{client}"
    assert flag.subject_username == "rick" and flag.subject_agency_code == "soudan"
    assert flag.event_seqs == [end.seq, attempt.seq]
    assert flag.window_start == revoked_at and flag.window_end == revoked_at + timedelta(hours=24)
    assert "取り消され" in flag.summary and "1回" in flag.summary


def test_detection_is_idempotent():
    view(TUESDAY.replace(hour=22))
    at(TUESDAY.replace(hour=11), CAROL, action="break_glass", target_type="client", target_id=uuid.uuid4())
    for i in range(5):
        view(TUESDAY.replace(hour=12, minute=i), RICK, outcome="denied")
    assert detect() == 3
    before = list(AnomalyFlag.objects.values_list("id", "event_seqs"))
    assert detect() == 0
    # a later window that starts inside the day and the burst: still no duplicate
    assert run_rules(since=TUESDAY.replace(hour=12, minute=2), until=UNTIL) == 0
    assert list(AnomalyFlag.objects.values_list("id", "event_seqs")) == before
    # a new off-hours event the same day joins the open flag instead of raising another
    later = view(TUESDAY.replace(hour=23))
    assert detect() == 0
    flag = AnomalyFlag.objects.get(rule="after_hours")
    assert later.seq in flag.event_seqs and len(flag.event_seqs) == 2


def test_summaries_carry_no_case_content(cast):
    from cases import selectors

    selectors.client_list(actor=cast.actor("bob"))
    run_rules(since=SINCE - timedelta(days=3650), until=UNTIL + timedelta(days=3650))
    for flag in AnomalyFlag.objects.all():
        for text in ("山田", "太郎", "ヤマダ", "三条市旭町", "0256", "訪問"):
            assert text not in flag.summary


def test_who_may_run_detection(cast):
    penny, alice = cast.actor("penny"), cast.actor("alice")
    with pytest.raises(Forbidden):
        detect_anomalies(actor=alice)
    denied = AuditEvent.objects.filter(actor_username="alice", action="audit.detect_anomalies").get()
    assert (denied.outcome, denied.reason) == ("denied", "not_privacy_officer")
    assert detect_anomalies(actor=penny) >= 0
    ran = AuditEvent.objects.filter(actor_username="penny", action="audit.detect_anomalies").get()
    assert ran.outcome == "allowed" and "new_flags" in ran.details
    # the system's periodic runs are not themselves audit events
    count = AuditEvent.objects.count()
    tasks.detect_anomalies()
    call_command("detect_anomalies", "--hours", "2")
    assert AuditEvent.objects.count() == count


def test_command_rejects_bad_input():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("detect_anomalies", "--since", "2026-11-01T00:00:00")  # naive
    with pytest.raises(CommandError):
        call_command("detect_anomalies", "--since", "2026-11-02T00:00:00+09:00", "--until", "2026-11-01T00:00:00+09:00")
    with pytest.raises(CommandError):
        call_command("detect_anomalies", "--hours", "0")
    view(TUESDAY.replace(hour=22))
    call_command("detect_anomalies", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
    assert AnomalyFlag.objects.filter(rule="after_hours").count() == 1
