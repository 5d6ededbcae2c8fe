"""Anomaly rules over the audit log. Each rule reads events in [since, until) and raises flags for the privacy
officer, with the events behind each flag.

Rules: access outside working hours (JST, weekdays), one user touching many distinct clients in an hour, repeated
denied attempts by one user or from one IP, every break-glass use, and access by an agency to a client shortly
after its share of that client was revoked or expired. Thresholds are settings (``AUDIT_*``).

Detection is idempotent: a flag is unique per (rule, subject, window), and a run that finds events for a flag
whose window overlaps an existing one adds them to it (while it is open) instead of raising another. So the
periodic task can look back over a generous window every time. Summaries name users, agencies, counts and ids,
never case content.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tsunagu.timezones import JST

from .actions import Trait, with_trait
from .flag_summaries import SummaryCode, render_ja
from .models import AnomalyFlag, AnomalyRule, AuditEvent, AuditExposure, FlagStatus, Outcome

NOT_PEOPLE = ("", "system", "anonymous")


def case_data_q(prefix: str = "") -> Q:
    """Actions that access case data (auth.* and audit.* are not access to a client): those their apps registered
    with ``Trait.CASE_DATA``."""
    return Q(**{f"{prefix}action__in": sorted(with_trait(Trait.CASE_DATA))})


def people_q(prefix: str = "") -> Q:
    """Events by a person using Tsunagu (not the system's own jobs, not unauthenticated callers, not commands run
    on the server, such as provisioning or loading demo data)."""
    return ~Q(**{f"{prefix}actor_username__in": NOT_PEOPLE}) & ~Q(**{f"{prefix}channel": "cli"})


def _jst(moment: datetime) -> datetime:
    return timezone.localtime(moment, JST)


def raise_flag(
    *,
    rule: str,
    subject_key: str,
    username: str = "",
    agency: str = "",
    window_start: datetime,
    window_end: datetime,
    seqs: list[int],
    summary: str,
    params: dict[str, object],
) -> bool:
    """Create the flag, or add ``seqs`` to an open flag of the same rule and subject whose window is the same or
    overlaps. Returns True when a new flag was created. The flag says ``summary`` (a ``SummaryCode``) with
    ``params`` and ``n``, the number of its events, worded when it is read (``audit.flag_summaries``)."""
    overlapping = AnomalyFlag.objects.filter(rule=rule, subject_key=subject_key).filter(
        Q(window_start=window_start) | Q(window_start__lt=window_end, window_end__gt=window_start)
    )
    existing = overlapping.order_by("window_start").first()
    if existing is not None:
        merged = sorted(set(existing.event_seqs) | set(seqs))
        if existing.status == FlagStatus.OPEN and merged != sorted(existing.event_seqs):
            existing.event_seqs = merged
            if existing.summary_code:
                existing.summary_params = {**existing.summary_params, "n": len(merged)}
                existing.summary = render_ja(existing.summary_code, existing.summary_params)
            existing.save(update_fields=["event_seqs", "summary", "summary_params"])
        return False
    try:
        with transaction.atomic():
            AnomalyFlag.objects.create(
                rule=rule,
                subject_key=subject_key,
                subject_username=username,
                subject_agency_code=agency,
                window_start=window_start,
                window_end=window_end,
                event_seqs=sorted(set(seqs)),
                summary=render_ja(summary, {**params, "n": len(set(seqs))}),
                summary_code=summary,
                summary_params={**params, "n": len(set(seqs))},
                created_at=timezone.now(),
            )
    except IntegrityError:  # a concurrent run raised it first
        return False
    return True


# --- the rules --------------------------------------------------------------------------------------------


def is_off_hours(moment: datetime) -> bool:
    local = _jst(moment)
    start, end = settings.AUDIT_WORK_START_HOUR, settings.AUDIT_WORK_END_HOUR
    return local.weekday() >= 5 or not start <= local.hour < end


def rule_after_hours(since: datetime, until: datetime) -> int:
    """Case-data access outside working hours: one flag per user per JST day, with that day's off-hours events."""
    events = (
        AuditEvent.objects.filter(occurred_at__gte=since, occurred_at__lt=until, outcome=Outcome.ALLOWED)
        .filter(case_data_q(), people_q())
        .order_by("seq")
        .values_list("seq", "occurred_at", "actor_username", "actor_agency_code")
    )
    days: dict[tuple[str, date], list[int]] = defaultdict(list)
    agencies: dict[str, str] = {}
    for seq, occurred_at, username, agency in events.iterator(chunk_size=2000):
        if is_off_hours(occurred_at):
            days[(username, _jst(occurred_at).date())].append(seq)
            agencies[username] = agency
    created = 0
    for (username, day), seqs in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        start = datetime(day.year, day.month, day.day, tzinfo=JST)
        created += raise_flag(
            rule=AnomalyRule.AFTER_HOURS,
            subject_key=f"user:{username}",
            username=username,
            agency=agencies[username],
            window_start=start,
            window_end=start + timedelta(days=1),
            seqs=seqs,
            summary=SummaryCode.AFTER_HOURS,
            params={
                "user": username,
                "agency": agencies[username],
                "day": day.isoformat(),
                "start": settings.AUDIT_WORK_START_HOUR,
                "end": settings.AUDIT_WORK_END_HOUR,
            },
        )
    return created


def rule_many_clients(since: datetime, until: datetime) -> int:
    """One user opening more distinct clients in a clock hour than ``AUDIT_MANY_CLIENTS_PER_HOUR``. Clients merely
    shown on a list or search page do not count (one page holds up to 50, so paging through a caseload would
    look like misuse); views, timelines, appends, shares and break-glass do."""
    threshold = settings.AUDIT_MANY_CLIENTS_PER_HOUR
    rows = (
        AuditExposure.objects.filter(
            event__occurred_at__gte=since, event__occurred_at__lt=until, event__outcome=Outcome.ALLOWED
        )
        .filter(case_data_q("event__"), people_q("event__"))
        .exclude(event__action__in=sorted(with_trait(Trait.LISTING)))
        .order_by("event_id")
        .values_list("event__actor_username", "event__actor_agency_code", "event__occurred_at", "event_id", "client_id")
    )
    clients: dict[tuple[str, datetime], set[UUID]] = defaultdict(set)
    seqs: dict[tuple[str, datetime], set[int]] = defaultdict(set)
    agencies: dict[str, str] = {}
    for username, agency, occurred_at, seq, client_id in rows.iterator(chunk_size=5000):
        hour = occurred_at.replace(minute=0, second=0, microsecond=0)  # JST hours start with UTC hours (+9:00)
        clients[(username, hour)].add(client_id)
        seqs[(username, hour)].add(seq)
        agencies[username] = agency
    created = 0
    for (username, hour), touched in sorted(clients.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if len(touched) <= threshold:
            continue
        created += raise_flag(
            rule=AnomalyRule.MANY_CLIENTS,
            subject_key=f"user:{username}",
            username=username,
            agency=agencies[username],
            window_start=hour,
            window_end=hour + timedelta(hours=1),
            seqs=list(seqs[(username, hour)]),
            summary=SummaryCode.MANY_CLIENTS,
            params={
                "user": username,
                "agency": agencies[username],
                "hour": hour.isoformat(),
                "count": len(touched),
                "threshold": threshold,
            },
        )
    return created


def _bursts(
    events: list[tuple[int, datetime]], window: timedelta, threshold: int
) -> Iterator[tuple[datetime, list[int]]]:
    """Greedy bursts: from each event, the events within ``window``; a burst of at least ``threshold`` events is
    reported and scanning resumes after it. ``events`` sorted by time."""
    i, n = 0, len(events)
    while i < n:
        start = events[i][1]
        j = i
        while j + 1 < n and events[j + 1][1] < start + window:
            j += 1
        if j - i + 1 >= threshold:
            yield start, [seq for seq, _ in events[i : j + 1]]
            i = j + 1
        else:
            i += 1


def rule_repeated_denials(since: datetime, until: datetime) -> int:
    """At least ``AUDIT_DENIED_THRESHOLD`` denied attempts by one user, or from one IP, within
    ``AUDIT_DENIED_WINDOW_MINUTES``."""
    threshold = settings.AUDIT_DENIED_THRESHOLD
    minutes = settings.AUDIT_DENIED_WINDOW_MINUTES
    window = timedelta(minutes=minutes)
    rows = list(
        AuditEvent.objects.filter(occurred_at__gte=since, occurred_at__lt=until, outcome=Outcome.DENIED)
        .order_by("occurred_at", "seq")
        .values_list("seq", "occurred_at", "actor_username", "actor_agency_code", "ip")
    )
    by_user: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    by_ip: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    users_of: dict[int, str] = {}
    agencies: dict[str, str] = {}
    for seq, occurred_at, username, agency, ip in rows:
        if username not in NOT_PEOPLE:
            by_user[username].append((seq, occurred_at))
            agencies[username] = agency
        if ip:
            by_ip[ip].append((seq, occurred_at))
        users_of[seq] = username
    created = 0
    for username, events in sorted(by_user.items()):
        for start, seqs in _bursts(events, window, threshold):
            created += raise_flag(
                rule=AnomalyRule.REPEATED_DENIALS,
                subject_key=f"user:{username}",
                username=username,
                agency=agencies[username],
                window_start=start,
                window_end=start + window,
                seqs=seqs,
                summary=SummaryCode.DENIALS_USER,
                params={"user": username, "agency": agencies[username], "minutes": minutes},
            )
    for ip, events in sorted(by_ip.items()):
        for start, seqs in _bursts(events, window, threshold):
            names = {users_of[seq] for seq in seqs}
            if len(names) == 1 and not names & set(NOT_PEOPLE):
                continue  # one signed-in user from one address: the user's flag covers it
            created += raise_flag(
                rule=AnomalyRule.REPEATED_DENIALS,
                subject_key=f"ip:{ip}",
                window_start=start,
                window_end=start + window,
                seqs=seqs,
                summary=SummaryCode.DENIALS_IP,
                params={"ip": ip, "minutes": minutes},
            )
    return created


def rule_break_glass(since: datetime, until: datetime) -> int:
    """Every break-glass use, each its own flag; a renewal (a repeat while the grant was active, with a new
    reason) says so."""
    events = AuditEvent.objects.filter(
        occurred_at__gte=since,
        occurred_at__lt=until,
        action__in=sorted(with_trait(Trait.BREAK_GLASS)),
        outcome=Outcome.ALLOWED,
    ).order_by("seq")
    created = 0
    for event in events:
        clients = [event.target_id] if event.target_type == "client" else list(event.client_ids or [])
        renewal = isinstance(event.details, dict) and bool(event.details.get("renewal_of"))
        created += raise_flag(
            rule=AnomalyRule.BREAK_GLASS,
            subject_key=f"user:{event.actor_username}",
            username=event.actor_username,
            agency=event.actor_agency_code,
            window_start=event.occurred_at,
            window_end=event.occurred_at,
            seqs=[event.seq],
            summary=SummaryCode.BREAK_GLASS_RENEWAL if renewal else SummaryCode.BREAK_GLASS,
            params={"user": event.actor_username, "agency": event.actor_agency_code, "clients": clients},
        )
    return created


def rule_after_share_end(since: datetime, until: datetime) -> int:
    """An agency touching a client (denied attempts included) within ``AUDIT_AFTER_SHARE_END_HOURS`` after its
    share of that client was revoked or expired, until the share is granted again. Read from the audit trail
    alone: ``share.revoke`` / ``share.expire`` carry ``details.agency`` and the client in ``client_ids``."""
    hours = settings.AUDIT_AFTER_SHARE_END_HOURS
    window = timedelta(hours=hours)
    ends = AuditEvent.objects.filter(
        occurred_at__gte=since - window,
        occurred_at__lt=until,
        action__in=sorted(with_trait(Trait.SHARE_REVOKE) | with_trait(Trait.SHARE_EXPIRE)),
        outcome=Outcome.ALLOWED,
    ).order_by("seq")
    created = 0
    for end in ends:
        agency = (end.details or {}).get("agency") if isinstance(end.details, dict) else None
        if not agency:
            continue
        client_ids = list(end.client_ids or [])
        if not client_ids and end.target_type == "client" and end.target_id:
            client_ids = [end.target_id]
        for client_id in client_ids:
            touching = AuditExposure.objects.filter(client_id=client_id).values("event_id")
            cut = min(end.occurred_at + window, until)
            regrant = (
                AuditEvent.objects.filter(
                    seq__in=touching,
                    action__in=sorted(with_trait(Trait.SHARE_GRANT)),
                    outcome=Outcome.ALLOWED,
                    details__agency=agency,
                    occurred_at__gt=end.occurred_at,
                    occurred_at__lt=cut,
                )
                .order_by("occurred_at")
                .values_list("occurred_at", flat=True)
                .first()
            )
            if regrant is not None:
                cut = regrant
            accesses = list(
                AuditEvent.objects.filter(
                    seq__in=touching,
                    actor_agency_code=agency,
                    occurred_at__gte=end.occurred_at,
                    occurred_at__lt=cut,
                    seq__gt=end.seq,
                )
                .filter(case_data_q(), people_q())
                .order_by("seq")
                .values_list("seq", "actor_username")
            )
            if not accesses:
                continue
            users = sorted({username for _, username in accesses})
            revoked = end.action in with_trait(Trait.SHARE_REVOKE)
            created += raise_flag(
                rule=AnomalyRule.AFTER_SHARE_END,
                subject_key=f"agency:{agency}|client:{client_id}",
                username=users[0],
                agency=agency,
                window_start=end.occurred_at,
                window_end=end.occurred_at + window,
                seqs=[end.seq, *(seq for seq, _ in accesses)],
                summary=SummaryCode.SHARE_REVOKED if revoked else SummaryCode.SHARE_EXPIRED,
                params={"agency": agency, "users": users, "clients": [str(client_id)], "hours": hours},
            )
    return created


RULES = (rule_after_hours, rule_many_clients, rule_repeated_denials, rule_break_glass, rule_after_share_end)


def run_rules(*, since: datetime | None = None, until: datetime | None = None) -> int:
    """Every rule over [since, until); default: ``AUDIT_ANOMALY_LOOKBACK_HOURS`` up to now. Returns new flags."""
    until = until or timezone.now()
    since = since or until - timedelta(hours=settings.AUDIT_ANOMALY_LOOKBACK_HOURS)
    return sum(rule(since, until) for rule in RULES)
