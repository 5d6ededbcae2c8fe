"""Builds the demo 三条市 through the services (``agencies.services``, ``cases.services``), so the demo data carries
the same permissions, system entries and audit events as real use. Deterministic (a fixed random seed; dates are
relative to today); the caller runs it in one transaction.
"""

import contextlib
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from agencies.actors import Actor
from agencies.mfa import mfa_device, mfa_enrol_known_secret
from agencies.models import Agency, Role, Staff
from agencies.services import agency_create, staff_create
from audit.review import detect_anomalies
from cases import selectors, services
from cases.models import ClientStatus, Share
from tsunagu.errors import NotFound

from .data import (
    AGENCIES,
    CLIENTS,
    CORRECTED,
    CORRECTIONS,
    CREATORS,
    DEFAULT_NOTES,
    DEMO_MFA_SECRETS,
    DEMO_PASSWORD,
    SEED,
    SHARE_MANAGERS,
    STAFF,
    STATUTORY,
    STATUTORY_NOTES,
    TEMPLATES,
    WRITERS,
    A,
    ClientSpec,
    K,
    M,
)


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
    shares: Counter = field(default_factory=Counter)


def enrol_demo_second_factors() -> None:
    """Enrol the demo users who need a second factor with the published secrets, unless already enrolled."""
    users = get_user_model().objects.filter(username__in=DEMO_MFA_SECRETS)
    for user in users:
        if mfa_device(user) is None:
            mfa_enrol_known_secret(
                actor=Actor.system(channel="cli"), user=user, secret=DEMO_MFA_SECRETS[user.get_username()]
            )


class Seeder:
    """Builds the demo through the services, inside the caller's transaction."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = timezone.now()
        # One request id for the whole run, so the audit log shows the seed as one operation.
        self.request_id = uuid.uuid4().hex
        self.system = Actor.system(channel="cli", request_id=self.request_id)
        self.actors: dict[str, Actor] = {}
        self.clients: dict[str, object] = {}  # name → client id
        self.tally = Tally()

    def run(self) -> Tally:
        for code, name, kind in AGENCIES.values():
            agency_create(actor=self.system, code=code, name=name, kind=kind)
        self._create_staff()
        enrol_demo_second_factors()
        for spec in CLIENTS:
            self._create_client(spec)
        self._replay_last_week()
        self.tally.flags = detect_anomalies(actor=self.system, since=self.now - timedelta(days=10))
        return self.tally

    # --- a week of use, for the privacy officer's console -------------------------------------------------------

    def _replay_last_week(self) -> None:
        """Everyday reading last week, so the audit log has a history to review: lists and views by several agencies
        (the DV-masked 関 恵 among them), one late-evening view, a burst of refused attempts and a break-glass. Each
        replayed action's actor carries its moment (``Actor.at``): the audit events and the grant are stamped with
        it. Demo only: no adapter ever passes a time."""
        dv = self.clients["関 恵"]
        # Six clients the facility さくら園 cannot see, and an elderly resident unknown to 緑風苑 (its break-glass).
        outside = [self.clients[c.name] for c in CLIENTS if all(s.agency != "sakura" for s in c.shares)][:6]
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
            day = timezone.localtime(self.now) - timedelta(days=days_ago)
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            return day.replace(hour=hour, minute=minute, second=0, microsecond=0)

        def read(actor: Actor, client_id) -> None:
            selectors.client_get(actor=actor, client_id=client_id)
            selectors.timeline_list(actor=actor, client_id=client_id)

        selectors.client_list(actor=web("sato", 21, at(6, 9, 10)))
        read(web("sato", 21, at(6, 9, 12)), dv)
        nakamura = web("nakamura", 31, at(6, 10, 30))
        read(nakamura, dv)
        read(nakamura, self.clients["関 陽菜"])
        tanaka = web("tanaka", 11, at(4, 14, 5))
        selectors.client_list(actor=tanaka, q="セキ")
        read(tanaka, dv)
        for days_ago, username, tail in ((5, "takahashi", 41), (4, "yoshida", 51), (3, "yamamoto", 61)):
            actor = web(username, tail, at(days_ago, 11, 0))
            for client in selectors.client_list(actor=actor, limit=3).items:
                read(actor, client.id)
        read(web("sato", 21, at(3, 21, 40)), dv)  # after working hours
        for i, client_id in enumerate(outside):  # clients a facility cannot see: every attempt refused
            with contextlib.suppress(NotFound):
                selectors.client_get(actor=web("ito", 71, at(2, 10, i)), client_id=client_id)
        services.break_glass_open(
            actor=web("matsumoto", 81, at(2, 16, 20)),
            name_kana=glass.kana,
            birth_date=glass.birth,
            reason="ショートステイ利用中に意識レベルが低下し救急搬送。搬送先から既往歴と服薬の照会があったため。",
        )

    def _create_staff(self) -> None:
        hashed, same_password = None, []
        for username, (agency, role, display_name, officer, _note) in STAFF.items():
            can_log_in = role != Role.INTEGRATION
            staff = staff_create(
                actor=self.system,
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

    def _create_client(self, spec: ClientSpec) -> None:
        rng = self.rng
        child = spec.birth > date(self.now.year - 18, 1, 1)
        themes = {*spec.tags, *spec.themes, "子ども" if child else "大人"}
        ref = "本児" if child else f"{spec.name.split()[0]}さん"
        client = services.client_create(
            actor=self.actors[CREATORS[spec.owner]],
            name=spec.name,
            name_kana=spec.kana,
            birth_date=spec.birth,
            address=spec.address,
            phone=self._phone(),
            tags=spec.tags,
            address_confidential=spec.confidential,
        )
        self.tally.clients += 1
        self.clients[spec.name] = client.id
        self.tally.confidential += spec.confidential
        manager = self.actors[SHARE_MANAGERS[spec.owner]]
        shares = {}
        for share in spec.shares:
            expires_at = self.now + timedelta(days=share.expires_in_days) if share.expires_in_days else None
            shares[share.agency] = services.share_grant(
                actor=manager,
                client_id=client.id,
                agency_code=AGENCIES[share.agency][0],
                level=share.level,
                basis=share.basis,
                basis_note=share.note or self._basis_note(share.basis, spec, themes),
                expires_at=expires_at,
            )
            self.tally.shares.update(["total", str(share.level)] + (["dated"] if expires_at else []))

        # Entry times: weekdays in office hours over the past ~6 months, oldest first (the first is the owner's
        # intake). An agency whose share will lapse writes only before it does.
        span = rng.randint(45, 180)
        corrected = spec.name in CORRECTED
        # 2–8 entries per client, counting the correction and the closing note below.
        count = rng.randint(2, 8 - corrected - bool(spec.closing))
        days = rng.sample(range(2 if spec.closing else 1, span + 1), count)
        times = sorted(self._office_time(day) for day in days)
        lapse = self.now - timedelta(days=21)
        writers = {spec.owner: 2} | {s.agency: 1 for s in spec.shares if s.level in (A, M)}
        used: set[tuple[str, str]] = set()
        written = []
        for position, occurred_at in enumerate(times):
            if position == 0:
                candidates = [spec.owner]
            else:
                candidates = [
                    agency
                    for agency, weight in writers.items()
                    for _ in range(weight)
                    if not self._lapses(spec, agency) or occurred_at < lapse
                ]
            entry = self._append(client.id, candidates, themes, ref, occurred_at, used, intake=position == 0, spec=spec)
            if entry is not None:
                written.append(entry)

        if corrected and written:
            target, writer = rng.choice(written)
            occurred_at = min(target.occurred_at + timedelta(hours=rng.randint(20, 50)), self.now - timedelta(hours=1))
            self._write(
                writer,
                client.id,
                kind=target.kind,
                body=CORRECTIONS[self.tally.corrections % len(CORRECTIONS)],
                occurred_at=occurred_at,
                corrects=target.id,
            )
            self.tally.corrections += 1

        for share in spec.shares:
            if share.fate == "revoked":
                services.share_revoke(actor=manager, client_id=client.id, share_id=shares[share.agency].id)
                self.tally.shares["revoked"] += 1
            elif share.fate == "expired":
                # Demo only: the services refuse a past expiry, so the share was granted with a future one and is
                # backdated here, to show an agency that lost access when its share expired (enforced at check time).
                Share.objects.filter(pk=shares[share.agency].id).update(
                    granted_at=self.now - timedelta(days=span), expires_at=lapse
                )
                self.tally.shares["expired"] += 1

        if spec.closing:
            owner = self._writer_for(spec.owner)
            occurred_at = max(self._office_time(1), times[-1] + timedelta(minutes=30))
            self._write(owner, client.id, kind=K.NOTE, body=spec.closing, occurred_at=occurred_at)
            services.client_update(actor=owner, client_id=client.id, changes={"status": ClientStatus.CLOSED})
            self.tally.closed += 1

    def _append(self, client_id, candidates, themes, ref, occurred_at, used, *, intake, spec):
        """One entry by one of ``candidates`` (an agency key per weight), from a template not yet used here.

        The intake (the owner's first entry) is a consultation about the client's main concern: the first of its
        extra themes and tags that has one."""
        rng = self.rng
        candidates = list(candidates)
        rng.shuffle(candidates)
        for agency in dict.fromkeys(candidates):
            options = [(k, n, b) for k, n, b in TEMPLATES[agency] if n <= themes and (agency, b) not in used]
            if intake:
                options = [t for t in options if t[0] == K.CONSULTATION] or options
                for theme in (*spec.themes, *spec.tags):
                    if main := [t for t in options if theme in t[1]]:
                        options = main
                        break
            if not options:
                continue
            kind, _needs, body = rng.choice(options)
            used.add((agency, body))
            writer = self._writer_for(agency)
            view = self._write(writer, client_id, kind=kind, body=body.format(ref=ref), occurred_at=occurred_at)
            return view, writer
        return None

    def _write(self, actor: Actor, client_id, **fields):
        view = services.timeline_append(actor=actor, client_id=client_id, **fields)
        self.tally.entries += 1
        return view

    # --- small helpers ---------------------------------------------------------------------------------------

    def _writer_for(self, agency: str) -> Actor:
        return self.actors[self.rng.choice(WRITERS[agency])]

    @staticmethod
    def _lapses(spec: ClientSpec, agency: str) -> bool:
        return any(s.agency == agency and s.fate for s in spec.shares)

    def _office_time(self, days_ago: int) -> datetime:
        """A weekday time between 8:30 and 17:15 (JST), ``days_ago`` (≥ 1) days back, moved back off weekends."""
        day = timezone.localtime(self.now) - timedelta(days=days_ago)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        minute = self.rng.randrange(8 * 60 + 30, 17 * 60 + 15, 5)
        return day.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)

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
