"""``python manage.py seed_demo``: the demo 三条市, built through the services, exactly once."""

import io
import re
import tempfile
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from agencies.actors import Actor
from agencies.models import Agency, AgencyKind, Role, Staff
from audit.models import AuditEvent
from cases import selectors
from cases.attachment_selectors import attachment_download, attachment_thumbnail
from cases.demo.data import DEMO_LOGINS, DEMO_PASSWORD, FILES_VISIT
from cases.demo.files import has_gps, home_photo_jpeg
from cases.models import (
    USER_ENTRY_KINDS,
    Attachment,
    Client,
    ClientStatus,
    EntryKind,
    Meeting,
    Share,
    ShareBasis,
    ShareLevel,
    TimelineEntry,
)
from cases.text import is_kana
from tests.conftest import FAST_HASHERS
from tsunagu.errors import NotFound

pytestmark = pytest.mark.empty_db  # the demo data goes into an empty database

TAGS = {"高齢", "障がい", "生活困窮", "子ども", "ひきこもり", "8050", "認知症", "虐待疑い"}


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _storages(location: str) -> dict:
    """The settings' storages with the demo's attachments in ``location`` (rolled back with the demo's rows)."""
    attachments = {**settings.STORAGES["attachments"], "OPTIONS": {"location": location, "base_url": None}}
    attachments["BACKEND"] = "django.core.files.storage.FileSystemStorage"
    return {**settings.STORAGES, "attachments": attachments}


@pytest.fixture(scope="module")
def _demo(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module in a transaction rolled back after its last test; each test runs in a
    savepoint of it (its ``db`` transaction), so what one test changes is gone before the next. Loading it takes
    seconds: once per module (per worker) rather than once per test."""
    with (
        tempfile.TemporaryDirectory(prefix="tsunagu-demo-files-") as files,
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHERS, STORAGES=_storages(files)),
        transaction.atomic(),
    ):
        yield _seed()
        transaction.set_rollback(True)


@pytest.fixture
def seeded(_demo, db):
    return _demo


def _actor(username: str) -> Actor:
    return Actor.for_user(get_user_model().objects.get(username=username), channel="cli")


def _person_at(agency: Agency) -> str:
    staff = Staff.objects.filter(agency=agency).exclude(role=Role.INTEGRATION).select_related("user").first()
    return staff.user.username


def _counts() -> dict:
    models = (Agency, Staff, get_user_model(), Client, TimelineEntry, Share, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_creates_an_agency_of_every_kind(seeded):
    assert set(Agency.objects.values_list("kind", flat=True)) == set(AgencyKind.values)
    assert Agency.objects.filter(name="三条市 福祉課", kind=AgencyKind.CITY_DIVISION).exists()
    assert Agency.objects.filter(kind=AgencyKind.SUPPORT_CENTER).count() >= 2


def test_clients_look_like_sanjo_residents(seeded):
    clients = list(Client.objects.all())
    assert len(clients) >= 25
    today = timezone.localdate()
    ages = [(today - c.birth_date).days // 365 for c in clients]
    assert sum(age >= 65 for age in ages) >= len(clients) // 2  # mostly elderly
    assert any(age < 18 for age in ages)
    assert any(40 <= age < 65 for age in ages)  # the "50" of 8050
    for client in clients:
        assert is_kana(client.name_kana), client.name_kana
        assert client.address.startswith("新潟県三条市")
        assert re.fullmatch(r"0256-0\d-\d{4}", client.phone)
        assert client.tags and set(client.tags) <= TAGS
    assert set().union(*(c.tags for c in clients)) == TAGS
    statuses = Counter(c.status for c in clients)
    assert statuses[ClientStatus.CLOSED] >= 2
    assert statuses[ClientStatus.ACTIVE] > statuses[ClientStatus.CLOSED]
    closed = Client.objects.filter(status=ClientStatus.CLOSED)
    assert all(c.entries.filter(kind=EntryKind.STATUS_CHANGE).exists() for c in closed)


def test_staff_match_the_demo_logins(seeded):
    for username, agency_name, role_label, note in DEMO_LOGINS:
        staff = Staff.objects.select_related("agency", "user").get(user__username=username)
        assert staff.agency.name == agency_name
        assert staff.get_role_display() in role_label
        assert note
        validate_password(DEMO_PASSWORD, staff.user)
    roles = Counter(Staff.objects.values_list("role", flat=True))
    assert set(roles) == set(Role.values)
    officer = Staff.objects.get(is_privacy_officer=True)
    assert officer.agency.kind == AgencyKind.OTHER


def test_demo_staff_log_in_with_the_demo_password(seeded):
    for username, *_rest in DEMO_LOGINS:
        user = authenticate(username=username, password=DEMO_PASSWORD)
        if Staff.objects.get(user__username=username).role == Role.INTEGRATION:
            assert user is None  # API only
            assert not get_user_model().objects.get(username=username).has_usable_password()
        else:
            assert user is not None and user.get_username() == username
    assert authenticate(username="tanaka", password=DEMO_PASSWORD + "x") is None


def test_timelines_are_written_by_agencies_that_may_append(seeded):
    now = timezone.now()
    entries = TimelineEntry.objects.filter(kind__in=USER_ENTRY_KINDS).select_related("client", "corrects")
    assert {e.kind for e in entries} == set(USER_ENTRY_KINDS)
    per_client = Counter(e.client_id for e in entries)
    assert set(per_client) == set(Client.objects.values_list("id", flat=True))
    assert all(2 <= n <= 8 for n in per_client.values()), per_client
    writers = {
        (s.client_id, s.agency_id) for s in Share.objects.filter(level__in=[ShareLevel.APPEND, ShareLevel.MANAGE])
    }
    for entry in entries:
        assert now - timedelta(days=200) < entry.occurred_at <= now
        assert entry.author is not None and entry.author.staff.agency_id == entry.agency_id
        assert (entry.client_id, entry.agency_id) in writers
    corrections = [e for e in entries if e.corrects_id]
    assert len(corrections) >= 2
    for correction in corrections:
        assert correction.corrects.client_id == correction.client_id
        assert correction.corrects.agency_id == correction.agency_id
        assert correction.occurred_at >= correction.corrects.occurred_at


def test_shares_cover_every_level_and_basis(seeded):
    now = timezone.now()
    shares = Share.objects.select_related("client")
    partner = [s for s in shares if s.agency_id != s.client.owner_agency_id]
    assert {s.level for s in partner} == set(ShareLevel.values)
    assert {s.basis for s in partner} == set(ShareBasis.values)
    assert all(s.basis_note for s in partner)
    assert any(s.is_active(now) and s.expires_at for s in partner)  # a dated share still running
    expired = [s for s in partner if s.revoked_at is None and s.expires_at and s.expires_at <= now]
    revoked = [s for s in partner if s.revoke_reason == "revoked"]
    assert len(expired) >= 1 and len(revoked) >= 1
    assert all(s.granted_at < s.expires_at for s in expired)


def test_an_expired_share_hides_its_client(seeded):
    share = Share.objects.select_related("agency").get(revoked_at=None, expires_at__lte=timezone.now())
    actor = _actor(_person_at(share.agency))
    with pytest.raises(NotFound):
        selectors.client_get(actor=actor, client_id=share.client_id)
    assert share.client_id not in {c.id for c in selectors.client_list(actor=actor, limit=200).items}


def test_a_revoked_share_hides_its_client(seeded):
    share = Share.objects.select_related("agency").get(revoke_reason="revoked")
    with pytest.raises(NotFound):
        selectors.client_get(actor=_actor(_person_at(share.agency)), client_id=share.client_id)


def test_the_privacy_officer_sees_no_clients(seeded):
    officer = Staff.objects.select_related("user", "agency").get(is_privacy_officer=True)
    assert not Share.objects.filter(agency=officer.agency).exists()
    page = selectors.client_list(actor=_actor(officer.user.username))
    assert page.items == []


def test_a_confidential_address_is_masked_for_partners(seeded):
    client = Client.objects.filter(address_confidential=True).first()
    assert client is not None
    owner_view = selectors.client_get(actor=_actor(_person_at(client.owner_agency)), client_id=client.id)
    assert owner_view.address == client.address and not owner_view.address_masked
    partners = [s.agency for s in Share.objects.filter(client=client).select_related("agency") if s.is_active()]
    partners = [agency for agency in partners if agency.pk != client.owner_agency_id]
    assert partners
    for agency in partners:
        view = selectors.client_get(actor=_actor(_person_at(agency)), client_id=client.id)
        assert view.address is None and view.address_masked


def test_prints_a_summary_and_the_logins(seeded):
    assert "支援対象者" in seeded and "支援記録" in seeded
    assert DEMO_PASSWORD in seeded
    for username, agency_name, _role, _note in DEMO_LOGINS:
        assert username in seeded and agency_name in seeded


def test_running_twice_changes_nothing(seeded):
    before = _counts()
    out = _seed()
    assert _counts() == before
    assert "既に作成されています" in out


def test_last_week_gives_the_privacy_officer_something_to_review(seeded):
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import AnomalyFlag

    assert {f.rule for f in AnomalyFlag.objects.filter(status="open")} >= {
        "after_hours",
        "repeated_denials",
        "break_glass",
    }
    dv = Client.objects.get(name="関 恵")
    week_ago = timezone.now() - timedelta(days=8)
    viewers = set(
        AuditEvent.objects.filter(
            action="client.view", target_id=str(dv.pk), outcome="allowed", occurred_at__gte=week_ago
        ).values_list("actor_agency_code", flat=True)
    )
    assert len(viewers) >= 2
    assert not AnomalyFlag.objects.filter(subject_username__in=["tanaka", "suzuki"], rule="after_hours").exists()
    # The replayed break-glass happened two working days ago: its grant, its audit event and the system entry on
    # the client's timeline carry that moment.
    from cases.models import BreakGlassGrant

    grant = BreakGlassGrant.objects.get(user__username="matsumoto")
    opened = AuditEvent.objects.get(action="break_glass", outcome="allowed", actor_username="matsumoto")
    assert grant.granted_at == opened.occurred_at < timezone.now() - timedelta(days=1)
    entry = TimelineEntry.objects.get(client=grant.client, kind=EntryKind.BREAK_GLASS)
    assert entry.occurred_at == entry.recorded_at == grant.granted_at


def test_demo_users_who_need_a_second_factor_are_enrolled_with_the_published_secrets(seeded):
    import base64

    from django.test import Client as HttpClient
    from django.urls import reverse
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from agencies.mfa import mfa_required
    from cases.demo.data import DEMO_MFA_SECRETS
    from tests.mfa import current_code

    needing = {u.username for u in get_user_model().objects.filter(staff__isnull=False) if mfa_required(u)}
    assert needing == set(DEMO_MFA_SECRETS) == {"kojima", "watanabe"}
    for username, secret in DEMO_MFA_SECRETS.items():
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        assert base64.b32encode(device.bin_key).decode() == secret
        assert secret in seeded
    # A code computed from the published secret signs kojima in.
    client = HttpClient()
    client.post(reverse("frontend:login"), {"username": "kojima", "password": DEMO_PASSWORD})
    response = client.post(reverse("frontend:mfa_verify"), {"code": current_code(DEMO_MFA_SECRETS["kojima"])})
    assert response.status_code == 302
    assert client.get(reverse("frontend:privacy_dashboard")).status_code == 200
    # Running again leaves the devices alone (a device enrolled since is kept too).
    keys = list(TOTPDevice.objects.order_by("pk").values_list("pk", "key", "last_t"))
    _seed()
    assert list(TOTPDevice.objects.order_by("pk").values_list("pk", "key", "last_t")) == keys


def test_the_demo_login_table_is_japanese_whatever_language_is_active():
    """The table is built once, at import: an English request or test active then must not turn it English."""
    from django.utils import translation

    from cases.demo.data import role_label

    with translation.override("en"):
        assert role_label("caseworker", True) == "担当者・個人情報保護管理者"
        assert role_label("agency_admin", False) == "機関管理者"


# --- a history told in order ---------------------------------------------------------------------------------


def _delivered():
    """The notices, once a worker has done what the load left in the outbox (if anything)."""
    from cases.models import Notification
    from cases.outbox import outbox_relay

    outbox_relay()
    return Notification.objects.select_related("recipient__staff__agency", "source_agency", "entry")


def test_each_demo_person_starts_with_a_handful_of_meaningful_unread_notices(seeded):
    """Not a flood of notices made by the load: a few about last week's entries by other agencies, the rest read."""
    from agencies.models import CASEWORK_ROLES

    notices = list(_delivered())
    now = timezone.now()
    people = Staff.objects.filter(role__in=CASEWORK_ROLES, is_privacy_officer=False).select_related("user")
    unread = Counter(n.recipient.get_username() for n in notices if n.read_at is None)
    assert {s.user.get_username(): unread[s.user.get_username()] for s in people} == {
        s.user.get_username(): min(max(unread[s.user.get_username()], 3), 8) for s in people
    }
    invited = Meeting.objects.get().created_at
    for notice in notices:
        assert notice.source_agency_id != notice.recipient.staff.agency_id
        if notice.topic == "meeting.create":  # an invitation to the 支援会議: no entry, sent when it was convened
            assert notice.entry is None and notice.created_at == invited
            continue
        assert notice.entry is not None and notice.created_at == notice.entry.recorded_at < now
        if notice.read_at is None:
            assert notice.created_at > now - timedelta(days=11), notice.created_at  # last week's (working days)
            assert notice.entry.agency_id == notice.source_agency_id
        else:
            assert notice.created_at < notice.read_at < now


def test_nothing_is_seen_before_it_is_registered(seeded):
    """Every audit event about a client (opened, listed, written) comes after its registration, which is the
    client's creation date; its shares come after it too."""
    registered = {
        e.target_id: e.occurred_at for e in AuditEvent.objects.filter(action="client.create", outcome="allowed")
    }
    clients = list(Client.objects.all())
    assert {str(c.pk) for c in clients} == set(registered)
    for client in clients:
        assert client.created_at == registered[str(client.pk)], client.name
        assert client.updated_at >= client.created_at
        assert all(s.granted_at >= client.created_at for s in client.shares.all()), client.name
    for event in AuditEvent.objects.exclude(action="client.create"):
        about = {*(event.client_ids or []), *([event.target_id] if event.target_type == "client" else [])}
        for client_id in about & set(registered):
            assert event.occurred_at >= registered[client_id], (event.action, event.actor_username, client_id)


def test_a_timeline_in_the_order_things_happened_is_in_the_order_they_were_recorded(seeded):
    """新しい順 never jumps back: per client, entries sorted by when they happened are strictly sorted by when they
    were recorded too, the first is the owner's intake consultation, and nothing is recorded before registration."""
    for client in Client.objects.select_related("owner_agency"):
        entries = list(client.entries.order_by("occurred_at", "recorded_at"))
        occurred = [e.occurred_at for e in entries]
        recorded = [e.recorded_at for e in entries]
        assert occurred == sorted(set(occurred)), client.name  # strictly increasing
        assert recorded == sorted(set(recorded)), client.name
        assert all(e.occurred_at <= e.recorded_at for e in entries), client.name
        assert recorded[0] > client.created_at
        intake = entries[0]
        assert intake.kind == EntryKind.CONSULTATION and intake.agency_id == client.owner_agency_id, client.name


def test_the_last_entries_are_spread_over_the_past_days(seeded):
    """Each client's 最終記録 tells its own story: none is the day of the load, they fall on many different days,
    and last week saw entries on most working days."""
    today = timezone.localdate()
    latest = {c.name: max(e.occurred_at for e in c.entries.all()) for c in Client.objects.prefetch_related("entries")}
    days = {timezone.localtime(moment).date() for moment in latest.values()}
    assert today not in days
    assert len(days) >= len(latest) // 3, sorted(days)
    assert len(set(latest.values())) == len(latest)
    week = {
        timezone.localtime(e.occurred_at).date()
        for e in TimelineEntry.objects.filter(
            kind__in=USER_ENTRY_KINDS, occurred_at__gte=timezone.now() - timedelta(days=8)
        )
    }
    assert len(week) >= 4


def test_each_demo_caseworker_starts_with_a_caseload(seeded):
    """The case list opens on 自分の担当: every person who writes on the demo's timelines carries some of the
    clients their agency sees, and every one of those is a client the agency may see."""
    from cases.demo.data import ASSIGNEES
    from cases.models import ListScope

    for agency_code, username in ASSIGNEES.items():
        mine = selectors.client_list(actor=_actor(username), scope=ListScope.MINE, limit=100).items
        everything = {c.id for c in selectors.client_list(actor=_actor(username), limit=100).items}
        assert mine, (agency_code, username)
        assert {c.id for c in mine} <= everything


def test_one_inquiry_awaits_an_answer_and_one_was_answered(seeded):
    """The demo's inquiries (照会): 福祉課 asked 社協 (answered) and 地域包括支援センター栄 (awaiting an answer), each
    shown on its client's timeline and in both agencies' boxes, with the open one counted in 栄's header."""
    from cases import inquiry_selectors
    from cases.models import InquiryStatus

    assert "照会 2" in seeded
    sent = inquiry_selectors.inquiry_list(actor=_actor("tanaka"), box="sent").items
    assert sorted((i.to_codes[0], i.status) for i in sent) == [
        ("houkatsu-sakae", InquiryStatus.OPEN),
        ("shakyo", InquiryStatus.ANSWERED),
    ]
    answered = next(i for i in sent if i.status == InquiryStatus.ANSWERED)
    assert [r.agency_code for r in answered.replies] == ["shakyo"]
    assert answered.created_at < answered.replies[0].created_at < timezone.now()
    assert [i.id for i in inquiry_selectors.inquiry_list(actor=_actor("sato"), box="received").items] == [answered.id]
    assert inquiry_selectors.open_received_inquiry_count(_actor("kato")) == 1
    assert inquiry_selectors.open_received_inquiry_count(_actor("sato")) == 0
    for inquiry in sent:
        assert inquiry.due_on is not None and inquiry.due_on >= inquiry.created_at.date()
        timeline = selectors.timeline_list(actor=_actor("tanaka"), client_id=inquiry.client_id, kind="inquiry")
        assert str(inquiry.id) in {e.inquiry_id for e in timeline.items}


def test_the_demo_has_a_support_meeting_with_a_confirmed_and_an_unconfirmed_attendee(seeded):
    """支援会議 about the 長谷川 household: 社協 confirmed (its share of 大輔 started), 高齢介護課 has not (nothing
    of the household shows but the meeting, waiting for 山本's confirmation); the action items are open, 社協's
    overdue."""
    from cases import meeting_selectors

    (meeting,) = meeting_selectors.meeting_list(actor=_actor("suzuki")).items
    # The summary states it, on one line like the others.
    (line,) = [line for line in seeded.splitlines() if "支援会議" in line]
    items = len(meeting.action_items)
    assert line.strip() == f"支援会議 1（参加機関 2: 守秘義務の確認済み 1・未確認 1、役割分担 {items}）"
    assert meeting.title == "長谷川さん世帯 支援会議（8050）" and meeting.minutes.version == 1
    assert {a.agency_code: a.confirmed for a in meeting.attendees} == {"shakyo": True, "kourei": False}
    assert all(c.visible for c in meeting.clients)
    assert {t.agency_code for t in meeting.action_items} == {"shakyo", "kourei", "fukushi"}
    assert all(t.status == "open" for t in meeting.action_items)
    # 高齢介護課: the meeting awaits its confirmation; the clients and minutes stay hidden until then.
    yamamoto = _actor("yamamoto")
    (pending,) = meeting_selectors.pending_confirmations(actor=yamamoto)
    assert pending.id == meeting.id and pending.can_confirm and pending.minutes is None
    assert not any(c.visible for c in pending.clients)
    for name in ("長谷川 勝", "長谷川 大輔"):
        with pytest.raises(NotFound):
            selectors.client_get(actor=yamamoto, client_id=Client.objects.get(name=name).pk)
    assert meeting_selectors.task_list(actor=yamamoto).items == []
    # 社協: confirmed; sees 大輔 through the meeting share, and its item is overdue — which 福祉課 sees too.
    daisuke = Client.objects.get(name="長谷川 大輔")
    assert selectors.client_get(actor=_actor("sato"), client_id=daisuke.pk).my_level == "append"
    (task,) = meeting_selectors.task_list(actor=_actor("kobayashi")).items
    assert task.overdue and task.client_name == "長谷川 勝"
    assert [t.id for t in meeting_selectors.overdue_tasks_for_convener(actor=_actor("suzuki"))] == [task.id]
    assert len(meeting_selectors.task_list(actor=_actor("tanaka")).items) == 2
    # The minutes are on both timelines (kind 会議), each with its own client's items only.
    minutes = [e for e in selectors.timeline_list(actor=_actor("tanaka"), client_id=daisuke.pk).items]
    (entry,) = [e for e in minutes if e.kind == EntryKind.MEETING and e.body.startswith("支援会議の記録")]
    assert "大輔さんと面談" in entry.body and "家計相談の予約" not in entry.body
    assert Share.objects.filter(meeting__isnull=False, pending=True, agency__code="kourei").count() == 2


def test_the_demo_has_a_consent_form_and_a_photo_on_a_home_visit(seeded):
    client = Client.objects.get(name=FILES_VISIT.client)
    files = list(Attachment.objects.filter(client=client).select_related("entry__author", "blob").order_by("position"))
    assert [(a.filename, a.content_type, a.has_thumbnail) for a in files] == [
        ("情報共有に関する同意書.pdf", "application/pdf", False),
        ("自宅の様子.jpg", "image/jpeg", True),
    ]
    entry = files[0].entry
    assert entry.kind == EntryKind.VISIT and entry.author.username == FILES_VISIT.writer and files[1].entry == entry
    assert Attachment.objects.count() == 2
    uploads = AuditEvent.objects.filter(action="attachment.upload", client_ids=[str(client.pk)])
    assert uploads.count() == 2 and all(e.actor_username == FILES_VISIT.writer for e in uploads)
    assert "添付ファイル 2" in seeded
    check = AuditEvent.objects.get(action="attachment.verify")  # the dashboard has a file check to show
    assert check.details["checked"] == 2 and check.details["failed"] == 0


def test_the_demo_files_are_served_and_the_photo_has_no_exif(seeded):
    tanaka = _actor(FILES_VISIT.writer)
    files = {a.filename: a for a in Attachment.objects.filter(client__name=FILES_VISIT.client)}
    pdf = b"".join(attachment_download(actor=tanaka, attachment_id=files["情報共有に関する同意書.pdf"].pk).chunks)
    assert pdf.startswith(b"%PDF-") and "情報共有に関する同意書".encode("utf-16-be").hex().upper().encode() in pdf
    assert has_gps(home_photo_jpeg())  # what the seed uploaded carried GPS coordinates
    photo = b"".join(attachment_download(actor=tanaka, attachment_id=files["自宅の様子.jpg"].pk).chunks)
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG" and image.size == (800, 600)
        assert not image.getexif() and "exif" not in image.info
    thumbnail = b"".join(attachment_thumbnail(actor=tanaka, attachment_id=files["自宅の様子.jpg"].pk).chunks)
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert max(image.size) <= 320 and not image.getexif()
