"""Builds the demo 三条市 through the services (``agencies.services``, ``cases.services``), so the demo data carries
the same permissions, system entries, audit events and notices as real use. Deterministic (a fixed random seed;
dates are relative to today); the caller runs it in one transaction.

The history is told in order. Everything is planned first (who does what, when); then every step runs at its own
moment (``Actor.at``), oldest first across all clients: each client is registered on the day of its first
consultation, shared right after, written on over the following months, and then comes the week of use before
today (the entries of ``WEEK``, everyday reading, a break-glass). So audit events, timeline entries and notices
follow one clock: nothing is seen before it is registered, a timeline sorted by when things happened is also
sorted by when they were recorded, and each person starts with a few unread notices about last week's entries.
"""

import contextlib
import io
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from agencies.actors import Actor
from agencies.mfa import mfa_device, mfa_enrol_known_secret
from agencies.models import Agency, Role, Staff
from agencies.services import agency_create, staff_create
from audit.review import detect_anomalies
from cases import selectors, services
from cases.actions import Topic
from cases.attachments import Incoming
from cases.models import Client, ClientStatus, Meeting, Notification, OutboxMessage, Share, TimelineEntry
from cases.outbox import outbox_consume
from cases.services.attachments import attachments_verify
from tsunagu.errors import NotFound

from .data import (
    AGENCIES,
    ASSIGNEES,
    CLIENTS,
    CORRECTED,
    CORRECTIONS,
    CREATORS,
    DEFAULT_NOTES,
    DEMO_MEETING,
    DEMO_MFA_SECRETS,
    DEMO_PASSWORD,
    FILES_VISIT,
    INQUIRIES,
    SEED,
    SHARE_MANAGERS,
    STAFF,
    STATUTORY,
    STATUTORY_NOTES,
    TEMPLATES,
    UNREAD_AT_MOST,
    WEEK,
    WRITERS,
    A,
    ClientSpec,
    InquirySpec,
    K,
    M,
)
from .files import consent_form_pdf, home_photo_jpeg


class DemoConflict(Exception):
    """Some of the demo agencies or logins exist, but not all of them as seeded."""


def demo_already_seeded() -> bool:
    """True when every demo agency and login exists as seeded; ``DemoConflict`` when only some do."""
    codes = {code for code, _name, _kind in AGENCIES.values()}
    agencies = set(Agency.objects.filter(code__in=codes).values_list("code", flat=True))
    staff = dict(Staff.objects.filter(user__username__in=STAFF).values_list("user__username", "agency__code"))
    users = set(get_user_model().objects.filter(username__in=STAFF).values_list("username", flat=True))
    if not agencies and not users:
        return False
    expected = {username: AGENCIES[spec[0]][0] for username, spec in STAFF.items()}
    if agencies == codes and staff == expected:
        return True
    if agencies:
        found = ", ".join(sorted(agencies))
        raise DemoConflict(
            f"デモデータを作成できません: 機関コード {found} は既に存在しますが、デモ用の職員がそろっていません。"
            "空のデータベースで実行してください。"
        )
    raise DemoConflict(
        f"デモデータを作成できません: ユーザー名 {', '.join(sorted(users))} は既に使われています。"
        "空のデータベースで実行してください。"
    )


@dataclass
class Tally:
    clients: int = 0
    closed: int = 0
    confidential: int = 0
    entries: int = 0
    corrections: int = 0
    flags: int = 0
    inquiries: int = 0
    meetings: int = 0
    attendees: int = 0  # of the meetings, with their confirmations of 守秘義務
    attachments: int = 0
    confirmed: int = 0
    action_items: int = 0
    shares: Counter = field(default_factory=Counter)


def enrol_demo_second_factors() -> None:
    """Enrol the demo users who need a second factor with the published secrets, unless already enrolled."""
    users = get_user_model().objects.filter(username__in=DEMO_MFA_SECRETS)
    for user in users:
        if mfa_device(user) is None:
            mfa_enrol_known_secret(
                actor=Actor.system(channel="cli"), user=user, secret=DEMO_MFA_SECRETS[user.get_username()]
            )


MINUTE = timedelta(minutes=1)


@dataclass
class Planned:
    """One planned event on a client's timeline. ``system``: written by a service at its own moment (a share, a
    revocation, a status change: happened = recorded); otherwise an entry a person writes a little after it
    happened."""

    occurred_at: datetime
    system: bool = False
    delay: timedelta = timedelta(0)  # how long after it happened a person recorded it
    recorded_at: datetime | None = None
    run: Callable[["Planned"], None] | None = None


@dataclass(order=True)
class Step:
    moment: datetime
    order: int
    run: Callable[[], None] = field(compare=False)


class Seeder:
    """Builds the demo through the services, inside the caller's transaction."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = timezone.now()
        # One request id for the whole run, so the audit log shows the seed as one operation.
        self.request_id = uuid.uuid4().hex
        self.system = Actor.system(channel="cli", request_id=self.request_id)
        self.actors: dict[str, Actor] = {}
        self.clients: dict[str, UUID] = {}  # name → client id
        self.registered: dict[str, datetime] = {}  # name → when it was registered
        self.last_change: dict[str, datetime] = {}  # name → its profile's last change
        self.entries: dict[int, UUID] = {}  # id(Planned) → the entry written for it
        self.steps: list[Step] = []
        self.taken: set[datetime] = set()  # moments already given to a timeline event
        self.lapse = self.now - timedelta(days=21)  # when the demo's expired share ended
        self.tally = Tally()

    def run(self) -> Tally:
        for spec in CLIENTS:
            self._plan_client(spec)
        self._plan_last_week()
        self._plan_meeting()
        start = min(self.registered.values()) - timedelta(days=1)
        setup = replace(self.system, at=start.astimezone(UTC))
        for code, name, kind in AGENCIES.values():
            agency_create(actor=setup, code=code, name=name, kind=kind)
        self._create_staff(setup)
        enrol_demo_second_factors()
        for step in sorted(self.steps):
            step.run()
            self._deliver_notices()
        self._settle(start)
        self.tally.flags = detect_anomalies(actor=self.system, since=self.now - timedelta(days=10))
        # The nightly check of the stored files, once: the officer's dashboard shows its result.
        attachments_verify(actor=self.system)
        return self.tally

    # --- running the plan ----------------------------------------------------------------------------------

    def _at(self, username: str, moment: datetime) -> Actor:
        """The person acting at ``moment`` (demo only: no adapter ever passes a time)."""
        return replace(self.actors[username], at=moment.astimezone(UTC))

    def _step(self, moment: datetime, run: Callable[[], None]) -> None:
        self.steps.append(Step(moment, len(self.steps), run))

    def _deliver_notices(self) -> None:
        """What a worker does after each change: its notices, to the agencies that share the client then."""
        for message_id in OutboxMessage.objects.filter(finished_at=None).order_by("id").values_list("id", flat=True):
            outbox_consume(message_id=message_id)

    def _settle(self, start: datetime) -> None:
        """Demo only, after the run: the columns the services stamp with the server's clock (``auto_now``, a
        default) take the moment of the history they belong to; the share that was to expire has expired (the
        services refuse a past expiry: it was granted with a future one), and its agency heard nothing after that;
        and each person has read all but their newest few notices of the past week."""
        for name, client_id in self.clients.items():
            Client.objects.filter(pk=client_id).update(
                created_at=self.registered[name], updated_at=self.last_change[name]
            )
        get_user_model().objects.filter(username__in=STAFF).update(date_joined=start)
        notices = Notification.objects.filter(client_id__in=list(self.clients.values()))
        recorded = TimelineEntry.objects.filter(pk=OuterRef("entry_id")).values("recorded_at")[:1]
        notices.exclude(entry_id=None).update(created_at=Subquery(recorded))
        # An invitation to the 支援会議 names no entry: it came when the meeting was convened.
        invited = Meeting.objects.values_list("created_at", flat=True).first()
        notices.filter(entry_id=None, topic=Topic.MEETING_CREATE).update(created_at=invited)
        for spec in CLIENTS:
            for share in spec.shares:
                if share.fate == "expired":
                    client_id, code = self.clients[spec.name], AGENCIES[share.agency][0]
                    Share.objects.filter(client_id=client_id, agency__code=code, revoked_at=None).update(
                        expires_at=self.lapse
                    )
                    notices.filter(
                        client_id=client_id, recipient__staff__agency__code=code, created_at__gt=self.lapse
                    ).delete()
        week = self._working_day(max(days for _name, _agency, days in WEEK) + 1)  # since the week began
        unread: list = []
        for user_id in notices.values_list("recipient_id", flat=True).distinct().order_by("recipient_id"):
            newest = notices.filter(recipient_id=user_id, created_at__gte=week).order_by("-created_at", "-id")
            unread += list(newest.values_list("pk", flat=True)[:UNREAD_AT_MOST])
        notices.exclude(pk__in=unread).update(read_at=F("created_at") + timedelta(minutes=30))

    # --- a week of use, for the inbox and the privacy officer's console -------------------------------------

    def _plan_last_week(self) -> None:
        """Everyday reading last week, so the audit log has a history to review: lists and views by several agencies
        (the DV-masked 関 恵 among them), one late-evening view, a burst of refused attempts and a break-glass. Each
        replayed action's actor carries its moment (``Actor.at``): the audit events and the grant are stamped with
        it."""
        # Six clients the facility さくら園 cannot see, and an elderly resident unknown to 緑風苑 (its break-glass).
        outside = [c.name for c in CLIENTS if all(s.agency != "sakura" for s in c.shares)][:6]
        glass = next(c for c in CLIENTS if "高齢" in c.tags and all(s.agency != "ryokufu" for s in c.shares))

        def web(username: str, ip_tail: int, moment: datetime) -> Actor:
            return replace(
                self.actors[username],
                channel="web",
                ip=f"192.0.2.{ip_tail}",
                user_agent="Mozilla/5.0 (demo)",
                at=moment.astimezone(UTC),
                request_id=uuid.uuid4().hex,
            )

        def at(days_ago: int, hour: int, minute: int) -> datetime:
            return self._working_day(days_ago).replace(hour=hour, minute=minute, second=0, microsecond=0)

        def read(username: str, tail: int, moment: datetime, *names: str) -> Callable[[], None]:
            def run() -> None:
                actor = web(username, tail, moment)
                for name in names:
                    selectors.client_get(actor=actor, client_id=self.clients[name])
                    selectors.timeline_list(actor=actor, client_id=self.clients[name])

            return run

        def listing(username: str, tail: int, moment: datetime, **kwargs) -> Callable[[], None]:
            def run() -> None:
                actor = web(username, tail, moment)
                for client in selectors.client_list(actor=actor, **kwargs).items:
                    if kwargs.get("limit"):  # the first few on the list, opened one after the other
                        selectors.client_get(actor=actor, client_id=client.id)
                        selectors.timeline_list(actor=actor, client_id=client.id)

            return run

        def refused(moment: datetime, name: str) -> Callable[[], None]:
            def run() -> None:
                with contextlib.suppress(NotFound):  # clients a facility cannot see: every attempt refused
                    selectors.client_get(actor=web("ito", 71, moment), client_id=self.clients[name])

            return run

        def break_glass() -> None:
            services.break_glass_open(
                actor=web("matsumoto", 81, glass_at),
                name_kana=glass.kana,
                birth_date=glass.birth,
                reason="ショートステイ利用中に意識レベルが低下し救急搬送。搬送先から既往歴と服薬の照会があったため。",
            )

        self._step(at(6, 9, 10), listing("sato", 21, at(6, 9, 10)))
        self._step(at(6, 9, 12), read("sato", 21, at(6, 9, 12), "関 恵"))
        self._step(at(6, 10, 30), read("nakamura", 31, at(6, 10, 30), "関 恵", "関 陽菜"))
        self._step(at(4, 14, 5), listing("tanaka", 11, at(4, 14, 5), q="セキ"))
        self._step(at(4, 14, 6), read("tanaka", 11, at(4, 14, 6), "関 恵"))
        for days_ago, username, tail in ((5, "takahashi", 41), (4, "yoshida", 51), (3, "yamamoto", 61)):
            self._step(at(days_ago, 11, 0), listing(username, tail, at(days_ago, 11, 0), limit=3))
        self._step(at(3, 21, 40), read("sato", 21, at(3, 21, 40), "関 恵"))  # after working hours
        for i, name in enumerate(outside):
            self._step(at(2, 10, i), refused(at(2, 10, i), name))
        glass_at = self._reserve(at(2, 16, 20))
        self._step(glass_at, break_glass)
        for spec in INQUIRIES:
            self._plan_inquiry(spec, web, at)

    def _plan_inquiry(self, spec: InquirySpec, web, at) -> None:
        """An inquiry (照会) between two demo agencies; answered the next working day when it has an answer."""
        asked_at = self._reserve(at(spec.days_ago, 9, 40))
        answered_at = self._reserve(at(spec.days_ago - 1, 13, 15)) if spec.answerer else None
        asked: list = []

        def ask() -> None:
            inquiry = services.inquiry_create(
                actor=web(spec.asker, 11, asked_at),
                client_id=self.clients[spec.client],
                to=[AGENCIES[spec.to][0]],
                subject=spec.subject,
                body=spec.body,
                due_on=timezone.localdate(asked_at) + timedelta(days=spec.due_in_days),
            )
            asked.append(inquiry.id)
            self.tally.inquiries += 1

        def answer() -> None:
            assert answered_at is not None
            services.inquiry_reply(actor=web(spec.answerer, 21, answered_at), inquiry_id=asked[0], body=spec.answer)

        self._step(asked_at, ask)
        if answered_at is not None:
            self._step(answered_at, answer)

    # --- a support meeting (支援会議) with its minutes and action items -------------------------------------------

    def _plan_meeting(self) -> None:
        """``DEMO_MEETING``: convened last week by the owner of a household's clients, about them; one attendee
        confirms 守秘義務 the same day (its meeting shares start), the other has not yet (its shares wait: the demo's
        pending confirmation); the minutes give each agency its action items, one of them overdue by now."""
        spec = DEMO_MEETING
        day = self._working_day(spec.days_ago)
        convened = self._reserve(day.replace(hour=13, minute=30, second=0, microsecond=0))
        confirmed = self._reserve(convened + 40 * MINUTE)
        recorded = self._reserve(day.replace(hour=16, minute=10, second=0, microsecond=0))
        meeting: dict[str, UUID] = {}

        def convene() -> None:
            view = services.meeting_create(
                actor=self._at(spec.convener, convened),
                title=spec.title,
                held_on=timezone.localtime(convened).date(),
                clients=[self.clients[name] for name in spec.clients],
                attendees=[AGENCIES[key][0] for key in spec.attendees],
                share_level=spec.share_level,
                share_days=spec.share_days,
            )
            meeting["id"] = view.id
            self.tally.meetings += 1
            self.tally.attendees += len(view.attendees)

        def confirm() -> None:
            services.meeting_confirm(actor=self._at(spec.confirms, confirmed), meeting_id=meeting["id"])
            self.tally.confirmed += 1

        def minutes() -> None:
            today = timezone.localdate(self.now)
            view = services.meeting_minutes_record(
                actor=self._at(spec.recorder, recorded),
                meeting_id=meeting["id"],
                summary=spec.summary,
                decisions=spec.decisions,
                action_items=[
                    {
                        "agency": AGENCIES[agency][0],
                        "client": self.clients[client],
                        "task": task,
                        "due_on": today + timedelta(days=due_in_days),
                    }
                    for agency, client, task, due_in_days in spec.action_items
                ],
            )
            self.tally.action_items += len(view.action_items)

        self._step(convened, convene)
        self._step(confirmed, confirm)
        self._step(recorded, minutes)

    def _create_staff(self, setup: Actor) -> None:
        hashed, same_password = None, []
        for username, (agency, role, display_name, officer, _note) in STAFF.items():
            can_log_in = role != Role.INTEGRATION
            staff = staff_create(
                actor=setup,
                username=username,
                agency_code=AGENCIES[agency][0],
                role=role,
                display_name=display_name,
                password=DEMO_PASSWORD if can_log_in and hashed is None else None,
                is_privacy_officer=officer,
            )
            if can_log_in:
                if hashed is None:
                    hashed = staff.user.password
                else:
                    same_password.append(staff.user.pk)
            self.actors[username] = Actor.for_user(staff.user, channel="cli", request_id=self.request_id)
        # Demo only: the first login went through staff_create (password validated and hashed); the others take
        # the same hash, which saves ~0.5 s of PBKDF2 per account. The password is published in the README anyway.
        get_user_model().objects.filter(pk__in=same_password).update(password=hashed)

    # --- one client ----------------------------------------------------------------------------------------

    def _plan_client(self, spec: ClientSpec) -> None:
        """Plan a client's life: registered on the day of its first consultation (the owner's intake), shared right
        after, written on over the following months, perhaps closed, and the entries of ``WEEK``."""
        rng = self.rng
        child = spec.birth > date(self.now.year - 18, 1, 1)
        themes = {*spec.tags, *spec.themes, "子ども" if child else "大人"}
        ref = "本児" if child else f"{spec.name.split()[0]}さん"
        phone = self._phone()
        week = [(agency, days_ago) for name, agency, days_ago in WEEK if name == spec.name]
        span = rng.randint(45, 180)
        corrected = spec.name in CORRECTED
        closing_day = rng.randint(14, 24) if spec.closing else 0
        # 2–8 entries per client, counting the correction, the closing note and the week's.
        count = rng.randint(max(1, 2 - len(week)), 8 - corrected - bool(spec.closing) - len(week))
        # The intake, then entries on other days (at least four days later, so never on the intake's day).
        intake = self._office_time(span)
        # The history ends before the week of use (six working days can reach ten days back).
        days = rng.sample(range(max(closing_day + 1, 12), span - 3), count - 1)
        history = [intake, *sorted(self._office_time(day) for day in days)]
        registered = self._reserve(intake + timedelta(minutes=20))
        self.registered[spec.name] = registered
        self.last_change[spec.name] = registered
        self._step(registered, lambda: self._register(spec, phone, registered))
        self.tally.clients += 1
        self.tally.confidential += spec.confidential

        events: list[Planned] = []
        manager = SHARE_MANAGERS[spec.owner]
        moment = registered
        for share in spec.shares:
            moment = self._reserve(moment + 5 * MINUTE)
            events.append(Planned(moment, system=True, run=self._grant(spec, manager, share)))
            dated = ["dated"] if share.expires_in_days else []
            self.tally.shares.update(["total", str(share.level), *dated])
            self.tally.shares.update(["expired"] if share.fate == "expired" else [])

        writers = {spec.owner: 2} | {s.agency: 1 for s in spec.shares if s.level in (A, M)}
        used: set[tuple[str, str]] = set()
        written: list[tuple[Planned, str, str]] = []  # (entry, kind, writer)
        for position, occurred_at in enumerate(history):
            if position == 0:
                candidates = [spec.owner]
            else:
                candidates = [
                    agency
                    for agency, weight in writers.items()
                    for _ in range(weight)
                    if not self._lapses(spec, agency) or occurred_at < self.lapse
                ]
            planned = self._plan_entry(spec, candidates, themes, ref, occurred_at, used, intake=position == 0)
            if planned is not None:
                events.append(planned[0])
                written.append(planned)
        for agency, days_ago in week:
            moment = self._office_time_on(self._working_day(days_ago))
            planned = self._plan_entry(spec, [agency], themes, ref, moment, used, intake=False)
            assert planned is not None, (spec.name, agency)  # a template for every agency in WEEK
            events.append(planned[0])

        if corrected and written:
            target, kind, writer = rng.choice(written[1:] or written)
            occurred_at = self._reserve(self._office_time_after(target.occurred_at))
            body = CORRECTIONS[self.tally.corrections % len(CORRECTIONS)]
            events.append(self._entry(spec, writer, occurred_at, kind=kind, body=body, corrects=target))
            self.tally.corrections += 1

        for share in spec.shares:
            if share.fate == "revoked":
                moment = self._reserve(self._office_time(rng.randint(12, 18)))
                events.append(Planned(moment, system=True, run=self._revoke(spec, manager, share)))
                self.tally.shares["revoked"] += 1

        if spec.name == FILES_VISIT.client:
            events.append(self._files_visit(spec))

        if spec.closing:
            owner = self._writer(spec.owner)
            closed_at = self._reserve(self._office_time(closing_day))
            note = self._entry(spec, owner, closed_at, kind=K.NOTE, body=spec.closing)
            events.append(note)
            events.append(Planned(note.occurred_at + 10 * MINUTE, system=True, run=self._close(spec, owner)))
            self.tally.closed += 1

        self._schedule(spec, events)

    def _schedule(self, spec: ClientSpec, events: list[Planned]) -> None:
        """Give each event the moment it is recorded and make it a step. A timeline sorted by when things happened
        is then also sorted by when they were recorded: each is recorded after the one before it, and a system
        event (happened = recorded) comes after the previous event was recorded."""
        events.sort(key=lambda e: e.occurred_at)
        # The intake happened before the registration (the consultation came first) and is recorded after it.
        last_occurred, last_recorded = events[0].occurred_at - MINUTE, self.registered[spec.name]
        for event in events:
            event.occurred_at = max(event.occurred_at, last_occurred + MINUTE)
            if event.system:
                event.occurred_at = event.recorded_at = max(event.occurred_at, last_recorded + MINUTE)
            else:
                event.recorded_at = max(event.occurred_at + event.delay, last_recorded + MINUTE)
            last_occurred, last_recorded = event.occurred_at, event.recorded_at
            self._step(event.recorded_at, partial(self._run_planned, event))

    @staticmethod
    def _run_planned(event: Planned) -> None:
        assert event.run is not None
        event.run(event)

    def _plan_entry(self, spec, candidates, themes, ref, occurred_at, used, *, intake):
        """One entry by one of ``candidates`` (an agency key per weight), from a template not yet used here (or,
        failing that, any template of that agency that fits).

        The intake (the owner's first entry) is a consultation about the client's main concern: the first of its
        extra themes and tags that has one."""
        rng = self.rng
        candidates = list(candidates)
        rng.shuffle(candidates)
        for agency in dict.fromkeys(candidates):
            fitting = [(k, n, b) for k, n, b in TEMPLATES[agency] if n <= themes]
            options = [t for t in fitting if (agency, t[2]) not in used]
            if intake:
                options = [t for t in options if t[0] == K.CONSULTATION] or options
                for theme in (*spec.themes, *spec.tags):
                    if main := [t for t in options if theme in t[1]]:
                        options = main
                        break
            options = options or fitting
            if not options:
                continue
            kind, _needs, body = rng.choice(options)
            used.add((agency, body))
            writer = self._writer(agency)
            occurred_at = self._reserve(occurred_at)
            return self._entry(spec, writer, occurred_at, kind=kind, body=body.format(ref=ref)), kind, writer
        return None

    def _entry(self, spec: ClientSpec, writer: str, occurred_at: datetime, **fields) -> Planned:
        """A person's entry, recorded 5–40 minutes after it happened (an intake: just after the registration)."""
        delay = timedelta(minutes=self.rng.randint(5, 40))

        def run(event: Planned) -> None:
            assert event.recorded_at is not None
            corrects = fields.get("corrects")
            view = services.timeline_append(
                actor=self._at(writer, event.recorded_at),
                client_id=self.clients[spec.name],
                kind=fields["kind"],
                body=fields["body"],
                occurred_at=event.occurred_at,
                corrects=self.entries[id(corrects)] if corrects is not None else None,
            )
            self.entries[id(event)] = view.id
            self.tally.entries += 1

        return Planned(occurred_at, delay=delay, run=run)

    def _files_visit(self, spec: ClientSpec) -> Planned:
        """The visit that carries the demo's attachments (``FILES_VISIT``): the signed consent form and a photo of
        the home, uploaded with the entry like any other file. At a fixed moment, drawing nothing from the random
        generator, so the rest of the demo is as it was."""
        visit = FILES_VISIT
        day = self._working_day(visit.working_days_ago)
        occurred_at = self._reserve(day.replace(hour=visit.hour, minute=visit.minute, second=0, microsecond=0))
        shared_with = [AGENCIES[spec.owner][1], *(AGENCIES[s.agency][1] for s in spec.shares)]

        def run(event: Planned) -> None:
            assert event.recorded_at is not None
            signed_on = timezone.localtime(event.occurred_at).date()
            pdf = consent_form_pdf(client_name=spec.name, agency_names=shared_with, signed_on=signed_on)
            photo = home_photo_jpeg()
            view = services.timeline_append(
                actor=self._at(visit.writer, event.recorded_at),
                client_id=self.clients[spec.name],
                kind=K.VISIT,
                body=visit.body,
                occurred_at=event.occurred_at,
                files=[
                    Incoming(visit.consent_name, io.BytesIO(pdf), len(pdf)),
                    Incoming(visit.photo_name, io.BytesIO(photo), len(photo)),
                ],
            )
            self.entries[id(event)] = view.id
            self.tally.entries += 1
            self.tally.attachments += 2

        return Planned(occurred_at, delay=timedelta(minutes=35), run=run)

    def _register(self, spec: ClientSpec, phone: str, moment: datetime) -> None:
        client = services.client_create(
            actor=self._at(CREATORS[spec.owner], moment),
            name=spec.name,
            name_kana=spec.kana,
            birth_date=spec.birth,
            address=spec.address,
            phone=phone,
            tags=spec.tags,
            address_confidential=spec.confidential,
        )
        self.clients[spec.name] = client.id
        self._assign(spec, spec.owner, moment)

    def _grant(self, spec: ClientSpec, manager: str, share) -> Callable[[Planned], None]:
        child = spec.birth > date(self.now.year - 18, 1, 1)
        themes = {*spec.tags, *spec.themes, "子ども" if child else "大人"}
        note = share.note or self._basis_note(share.basis, spec, themes)
        expires_at = self.now + timedelta(days=share.expires_in_days) if share.expires_in_days else None

        def run(event: Planned) -> None:
            assert event.recorded_at is not None
            services.share_grant(
                actor=self._at(manager, event.recorded_at),
                client_id=self.clients[spec.name],
                agency_code=AGENCIES[share.agency][0],
                level=share.level,
                basis=share.basis,
                basis_note=note,
                expires_at=expires_at,
            )
            self._assign(spec, share.agency, event.recorded_at)

        return run

    def _assign(self, spec: ClientSpec, agency: str, moment: datetime) -> None:
        """The agency's caseworker takes the client on (担当者) as soon as the agency sees it."""
        actor = self._at(ASSIGNEES[agency], moment)
        assert actor.account is not None  # a member of staff
        services.assignment_add(actor=actor, client_id=self.clients[spec.name], user_id=actor.account.pk)

    def _revoke(self, spec: ClientSpec, manager: str, share) -> Callable[[Planned], None]:
        def run(event: Planned) -> None:
            assert event.recorded_at is not None
            client_id = self.clients[spec.name]
            code = AGENCIES[share.agency][0]
            share_id = Share.objects.get(client_id=client_id, agency__code=code, revoked_at=None).pk
            services.share_revoke(actor=self._at(manager, event.recorded_at), client_id=client_id, share_id=share_id)

        return run

    def _close(self, spec: ClientSpec, owner: str) -> Callable[[Planned], None]:
        def run(event: Planned) -> None:
            assert event.recorded_at is not None
            services.client_update(
                actor=self._at(owner, event.recorded_at),
                client_id=self.clients[spec.name],
                changes={"status": ClientStatus.CLOSED},
            )
            self.last_change[spec.name] = event.recorded_at

        return run

    # --- small helpers ---------------------------------------------------------------------------------------

    def _writer(self, agency: str) -> str:
        return self.rng.choice(WRITERS[agency])

    @staticmethod
    def _lapses(spec: ClientSpec, agency: str) -> bool:
        return any(s.agency == agency and s.fate for s in spec.shares)

    def _reserve(self, moment: datetime) -> datetime:
        """``moment``, or the next free minute: no two timeline events of the demo happen at the same minute."""
        while moment in self.taken:
            moment += MINUTE
        self.taken.add(moment)
        return moment

    def _office_time(self, days_ago: int) -> datetime:
        """A weekday time between 8:30 and 17:15 (JST), ``days_ago`` (≥ 1) days back, moved back off weekends."""
        day = timezone.localtime(self.now) - timedelta(days=days_ago)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return self._office_time_on(day)

    def _office_time_on(self, day: datetime) -> datetime:
        minute = self.rng.randrange(8 * 60 + 30, 17 * 60 + 15, 5)
        return day.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)

    def _working_day(self, n: int) -> datetime:
        """The ``n``-th weekday before today (JST): last week is spread over working days, whatever today is."""
        day = timezone.localtime(self.now)
        while n:
            day -= timedelta(days=1)
            n -= day.weekday() < 5
        return day

    def _office_time_after(self, moment: datetime) -> datetime:
        """An office-hours time on the next weekday after ``moment`` (a correction, noticed the next day)."""
        day = timezone.localtime(moment) + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self._office_time_on(day)

    def _phone(self) -> str:
        return f"0256-0{self.rng.randint(0, 9)}-{self.rng.randint(0, 9999):04d}"

    @staticmethod
    def _basis_note(basis: str, spec: ClientSpec, themes: set[str]) -> str:
        if basis == STATUTORY:
            key = "子ども" if "子ども" in themes else "虐待疑い"
            return STATUTORY_NOTES[key]
        return DEFAULT_NOTES[basis].format(owner=AGENCIES[spec.owner][1])


def build_demo() -> Tally:
    """Build the demo with the fixed random seed (the caller holds the transaction)."""
    return Seeder(random.Random(SEED)).run()
