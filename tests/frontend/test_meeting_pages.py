"""The support meeting (支援会議) pages, 役割分担 and the privacy officer's meeting register, through the test client.

The standing meeting (``tests.meetings.convene``): 福祉課 (sam, alice) convenes it about the cast's client and 佐藤 花子
with さくら園 (sue the supervisor, charlie the caseworker; no share yet) and 社協 (bea, bob; it already reads the
cast's client). 地域包括 (carol) shares the client but does not attend: the meeting is not there for it.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from cases import selectors, services
from cases.models import ActionItem, Meeting, MeetingAttendee, MeetingMinutes, Share
from tests.frontend.conftest import text
from tests.meetings import convene

HIDDEN = "共有されていない支援対象者"


def _url(name, *args):
    return reverse(f"frontend:{name}", args=args)


def _last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _form(cast, **overrides) -> dict:
    data = {
        "title": "佐藤さん世帯の支援会議",
        "held_on": timezone.localdate().isoformat(),
        "clients": [str(cast.client.id)],
        "attendees": ["shisetsu"],
        "share_level": "read",
        "share_days": "90",
    }
    data.update(overrides)
    return data


def _minutes(meeting, *rows, summary="本人の生活状況を共有した。", decisions="週1回の見守りを行う。") -> dict:
    data = {
        "summary": summary,
        "decisions": decisions,
        "items-TOTAL_FORMS": str(max(3, len(rows))),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"items-{i}-{key}"] = value
    return data


@pytest.fixture
def meeting(cast):
    return convene(cast)


def _confirm(meeting, who="sue"):
    return services.meeting_confirm(actor=meeting.actor(who), meeting_id=meeting.id)


def _record(meeting, *items, summary="見守りの分担を決めた。"):
    return services.meeting_minutes_record(
        actor=meeting.actor("sam"), meeting_id=meeting.id, summary=summary, decisions="", action_items=list(items)
    )


# --- convening ---------------------------------------------------------------------------------------------


def test_a_supervisor_convenes_from_the_client_page(cast, as_user):
    sam = as_user("sam")
    page = text(sam.get(_url("client_detail", cast.client.id)))
    link = f'href="{_url("meeting_create")}?client={cast.client.id}"'
    assert link in page and "支援会議を開催" in page
    form = sam.get(_url("meeting_create"), {"client": str(cast.client.id)})
    body = text(form)
    assert form.status_code == 200
    assert "社会福祉法第106条の6" in body and "守秘義務を確認するまで有効になりません" in body
    assert f'value="{cast.client.id}"' in body and "checked" in body.split(f'value="{cast.client.id}"')[1][:40]
    assert 'value="shisetsu"' in body and 'value="fukushi"' not in body  # never one's own agency
    assert '<label for="meeting-title">会議名' in body and '<label for="meeting-share_days">共有期間（日）' in body
    assert 'value="90"' in body


@pytest.mark.parametrize("who", ["alice", "carol", "bob"])
def test_a_caseworker_has_no_convene_link_nor_form(cast, as_user, who):
    user = as_user(who)
    page = text(user.get(_url("client_detail", cast.client.id)))
    assert _url("meeting_create") not in page
    assert "支援会議を開催" not in text(user.get(_url("meeting_list")))
    refused = user.get(_url("meeting_create"))
    assert refused.status_code == 403 and "管理職・主任または機関管理者のみ" in text(refused)
    before = Meeting.objects.count()
    assert user.post(_url("meeting_create"), _form(cast)).status_code == 403
    assert Meeting.objects.count() == before


def test_convening_creates_the_meeting_with_inactive_shares(cast, as_user):
    sam = as_user("sam")
    response = sam.post(_url("meeting_create"), _form(cast))
    assert response.status_code == 303
    created = Meeting.objects.get()
    assert response["Location"] == _url("meeting_detail", created.id)
    share = Share.objects.get(meeting=created)
    assert share.agency.code == "shisetsu" and share.pending and share.level == "read"
    page = text(sam.get(response["Location"]))
    assert "佐藤さん世帯の支援会議" in page and "未確認" in page and "さくら園" in page


def test_convene_errors_are_shown_by_field_and_nothing_is_saved(cast, as_user):
    sam = as_user("sam")
    before = (Meeting.objects.count(), Share.objects.count(), _last_seq())
    response = sam.post(
        _url("meeting_create"), _form(cast, title="", share_days="0", attendees=[], clients=[], held_on="2026/13/40")
    )
    body = text(response)
    assert response.status_code == 400
    assert 'id="meeting-title_error"' in body and "会議名を入力してください。" in body
    assert "共有期間は1日以上にしてください。" in body
    assert "出席する機関を1つ以上選んでください。" in body and 'id="meeting-attendees_error"' in body
    assert "支援対象者を1人以上選んでください。" in body and 'id="meeting-clients_error"' in body
    assert "日付は YYYY-MM-DD の形式で入力してください。" in body
    too_long = sam.post(_url("meeting_create"), _form(cast, share_days="366"))
    assert too_long.status_code == 400 and "共有期間は365日以内にしてください。" in text(too_long)
    assert (Meeting.objects.count(), Share.objects.count()) == before[:2]


def test_the_service_errors_land_on_their_fields(cast, as_user):
    """The service's own rules (a date more than a year away) come back onto the form, nothing saved."""
    far = (timezone.localdate() + timedelta(days=800)).isoformat()
    response = as_user("sam").post(_url("meeting_create"), _form(cast, held_on=far))
    assert response.status_code == 400 and 'id="meeting-held_on_error"' in text(response)
    assert not Meeting.objects.exists()


def test_a_client_the_agency_does_not_manage_is_refused_on_the_field(cast, as_user):
    other = services.client_create(
        actor=cast.actor("carol"), name="高橋 次郎", name_kana="たかはし じろう", birth_date="1960-01-01"
    )
    response = as_user("sam").post(_url("meeting_create"), _form(cast, clients=[str(other.id)]))
    assert response.status_code == 400 and "選んだ支援対象者が見つかりません。" in text(response)
    assert not Meeting.objects.exists()


def test_the_client_search_is_posted_and_keeps_what_was_typed(cast, as_user):
    sam = as_user("sam")
    second = services.client_create(
        actor=cast.actor("alice"), name="佐藤 花子", name_kana="さとう はなこ", birth_date="1975-06-02"
    )
    data = _form(cast, clients=[str(cast.client.id)], client_q="さとう", find="1", title="見守り会議")
    response = sam.post(_url("meeting_create"), data)
    body = text(response)
    assert response.status_code == 200 and not Meeting.objects.exists()
    assert f'value="{second.id}"' in body and "佐藤 花子" in body
    assert f'value="{cast.client.id}"' in body  # the ticked one stays, ticked
    assert 'value="見守り会議"' in body and "errorlist" not in body
    search = AuditEvent.objects.filter(action="client.search", details__purpose="meeting_clients").get()
    assert "q_hash" in search.details and str(second.id) in search.client_ids


# --- the list and one meeting --------------------------------------------------------------------------------


def test_the_meeting_list_shows_convened_and_attended_meetings(meeting, as_user):
    sam = text(as_user("sam").get(_url("meeting_list")))
    assert "山田さん世帯の支援会議" in sam and "自機関" in sam and "確認待ち" not in sam
    sue = text(as_user("sue").get(_url("meeting_list")))
    assert "山田さん世帯の支援会議" in sue and "確認待ち" in sue
    carol = text(as_user("carol").get(_url("meeting_list")))
    assert "山田さん世帯の支援会議" not in carol and "支援会議はまだありません。" in carol


@pytest.mark.parametrize("who", ["carol", "erin", "penny"])
def test_an_outsider_gets_the_not_found_page(meeting, as_user, who):
    user = as_user(who)
    for url in (
        _url("meeting_detail", meeting.id),
        _url("meeting_confirm", meeting.id),
    ):
        assert user.get(url).status_code == 404
    missing = user.get(_url("meeting_detail", uuid.uuid4()))
    hidden = user.get(_url("meeting_detail", meeting.id))
    assert missing.status_code == hidden.status_code == 404
    assert user.get(_url("meeting_detail", "not-a-meeting")).status_code == 404
    assert user.post(_url("minutes_record", meeting.id), _minutes(meeting)).status_code == 404
    assert not MeetingMinutes.objects.exists()


def test_an_attendee_before_confirming_sees_no_names_and_may_confirm(meeting, as_user):
    sue = as_user("sue")
    page = text(sue.get(_url("meeting_detail", meeting.id)))
    assert "貴機関はまだ守秘義務を確認していません。" in page
    assert page.count(HIDDEN) == 2 and "山田 太郎" not in page and "佐藤 花子" not in page
    assert f'href="{_url("meeting_confirm", meeting.id)}"' in page
    assert "会議の記録を入力" not in page
    confirm = sue.get(_url("meeting_confirm", meeting.id))
    body = text(confirm)
    assert confirm.status_code == 200 and "守秘義務" in body and "社会福祉法第106条の6" in body
    assert '<label class="check" for="agree">' in body


def test_a_caseworker_of_the_attendee_may_not_confirm(meeting, as_user):
    charlie = as_user("charlie")
    page = text(charlie.get(_url("meeting_detail", meeting.id)))
    assert _url("meeting_confirm", meeting.id) not in page and "管理職・主任または機関管理者が行います" in page
    assert charlie.get(_url("meeting_confirm", meeting.id)).status_code == 403
    assert charlie.post(_url("meeting_confirm", meeting.id), {"agree": "1"}).status_code == 403
    assert MeetingAttendee.objects.get(meeting_id=meeting.id, agency__code="shisetsu").confirmed_at is None


def test_confirming_needs_the_tick_and_then_activates_the_shares(meeting, as_user):
    sue = as_user("sue")
    unticked = sue.post(_url("meeting_confirm", meeting.id), {})
    assert unticked.status_code == 400 and "チェックを入れてください" in text(unticked)
    assert Share.objects.filter(meeting_id=meeting.id, agency__code="shisetsu", pending=True).count() == 2
    done = sue.post(_url("meeting_confirm", meeting.id), {"agree": "1"})
    assert done.status_code == 303 and done["Location"] == _url("meeting_detail", meeting.id)
    assert not Share.objects.filter(meeting_id=meeting.id, agency__code="shisetsu", pending=True).exists()
    page = text(sue.get(done["Location"]))
    assert "守秘義務を確認しました" in page and "山田 太郎" in page and "確認済み" in page
    assert "貴機関はまだ守秘義務を確認していません。" not in page
    assert sue.get(_url("meeting_confirm", meeting.id)).status_code == 403  # once per meeting


# --- minutes -------------------------------------------------------------------------------------------------


def test_the_convener_gets_the_minutes_form_with_blank_rows_without_javascript(meeting, as_user):
    page = text(as_user("alice").get(_url("meeting_detail", meeting.id)))
    assert "会議の記録を入力" in page
    assert 'name="items-TOTAL_FORMS" value="3"' in page
    for i in range(3):
        assert f'name="items-{i}-task"' in page and f'<label for="id_items-{i}-agency">担当機関' in page
    assert "<template data-row-template" in page and 'name="items-__prefix__-task"' in page
    assert 'data-add-row="items" hidden' in page and "frontend/rows.js" in page
    assert '<label for="minutes-summary">概要' in page


@pytest.mark.parametrize("who", ["sue", "charlie", "bea"])
def test_attendees_get_no_minutes_form_and_a_post_is_refused(meeting, as_user, who):
    _confirm(meeting)
    user = as_user(who)
    assert "会議の記録を入力" not in text(user.get(_url("meeting_detail", meeting.id)))
    assert user.post(_url("minutes_record", meeting.id), _minutes(meeting)).status_code == 403
    assert not MeetingMinutes.objects.exists()


def test_recording_minutes_with_an_action_item(meeting, as_user):
    _confirm(meeting)
    alice = as_user("alice")
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    row = {"agency": "shisetsu", "client": str(meeting.cast.client.id), "task": "週1回の訪問", "due_on": due}
    response = alice.post(_url("minutes_record", meeting.id), _minutes(meeting, row))
    assert response.status_code == 303 and response["Location"].endswith("#minutes")
    item = ActionItem.objects.get()
    assert (item.agency.code, item.task, item.due_on.isoformat()) == ("shisetsu", "週1回の訪問", due)
    page = text(alice.get(_url("meeting_detail", meeting.id)))
    assert "第1版（最新）" in page and "本人の生活状況を共有した。" in page and "週1回の訪問" in page
    assert "記録を訂正する（新しい版として保存）" in page
    # A correction is a new version; the first stays in the history.
    alice.post(_url("minutes_record", meeting.id), _minutes(meeting, row, summary="訂正後の概要。"))
    page = text(alice.get(_url("meeting_detail", meeting.id)))
    assert "第2版（最新）" in page and "訂正後の概要。" in page
    assert "記録の履歴（2 版）" in page and "第1版" in page and "本人の生活状況を共有した。" in page


def test_minutes_errors_are_by_field_and_row_and_nothing_is_saved(meeting, as_user):
    alice = as_user("alice")
    half = {"agency": "", "client": str(meeting.cast.client.id), "task": "", "due_on": "あした"}
    response = alice.post(_url("minutes_record", meeting.id), _minutes(meeting, half, summary=""))
    body = text(response)
    assert response.status_code == 400
    assert "概要を入力してください。" in body and 'id="minutes-summary_error"' in body
    assert "担当機関を選んでください。" in body and "役割・内容を入力してください。" in body
    assert "日付は YYYY-MM-DD の形式で入力してください。" in body
    assert 'value="あした"' in body  # what was typed stays
    assert not MeetingMinutes.objects.exists() and not ActionItem.objects.exists()


def test_more_rows_than_the_blank_ones_are_taken(meeting, as_user):
    """What the row-adding script sends: TOTAL_FORMS counted up, rows numbered on."""
    client = str(meeting.cast.client.id)
    rows = [{"agency": "shisetsu", "client": client, "task": f"役割{i}", "due_on": ""} for i in range(5)]
    assert as_user("alice").post(_url("minutes_record", meeting.id), _minutes(meeting, *rows)).status_code == 303
    assert ActionItem.objects.count() == 5


# --- tasks -----------------------------------------------------------------------------------------------------


@pytest.fixture
def with_items(meeting):
    _confirm(meeting)
    cid = str(meeting.cast.client.id)
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    soon = (timezone.localdate() + timedelta(days=5)).isoformat()
    _record(
        meeting,
        {"agency": "shisetsu", "client": cid, "task": "服薬の確認", "due_on": past},
        {"agency": "shisetsu", "client": cid, "task": "通所の調整", "due_on": soon},
        {"agency": "fukushi", "client": cid, "task": "家族への連絡", "due_on": soon},
    )
    return meeting


def test_my_agency_s_open_tasks_oldest_due_first(with_items, as_user):
    body = text(as_user("charlie").get(_url("task_list")))
    assert body.index("服薬の確認") < body.index("通所の調整") and "家族への連絡" not in body
    assert "期限超過" in body and "row-overdue" in body and "完了にする" in body
    assert "山田 太郎" in body
    done_tab = text(as_user("charlie").get(_url("task_list"), {"status": "done"}))
    assert "完了した役割分担はまだありません。" in done_tab
    assert "服薬の確認" not in text(as_user("bob").get(_url("task_list")))


def test_marking_a_task_done_without_javascript(with_items, as_user):
    charlie = as_user("charlie")
    item = ActionItem.objects.get(task="服薬の確認")
    response = charlie.post(_url("task_done", item.id), {"next": _url("task_list")})
    assert response.status_code == 303 and response["Location"] == _url("task_list")
    item.refresh_from_db()
    assert item.status == "done" and item.done_by.username == "charlie"
    after = text(charlie.get(_url("task_list")))
    assert "役割分担を完了にしました。" in after and "服薬の確認" not in after
    assert "服薬の確認" in text(charlie.get(_url("task_list"), {"status": "done"}))
    timeline = selectors.timeline_list(actor=with_items.actor("alice"), client_id=with_items.cast.client.id, limit=5)
    assert any("さくら園 が支援会議の役割分担を完了しました。" in e.body for e in timeline.items)


def test_marking_a_task_done_with_htmx_answers_the_row(with_items, as_user):
    item = ActionItem.objects.get(task="通所の調整")
    response = as_user("charlie").post(_url("task_done", item.id), HTTP_HX_REQUEST="true")
    body = text(response)
    assert response.status_code == 200 and body.lstrip().startswith(f'<tr id="task-{item.id}"')
    assert "完了" in body and "完了にする" not in body and "<html" not in body


def test_a_task_of_another_agency_cannot_be_marked_done(with_items, as_user):
    item = ActionItem.objects.get(task="家族への連絡")
    assert as_user("charlie").post(_url("task_done", item.id)).status_code == 403
    assert as_user("carol").post(_url("task_done", item.id)).status_code == 404
    assert as_user("charlie").post(_url("task_done", uuid.uuid4())).status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


def test_the_convener_sees_overdue_items_in_red_and_in_words(with_items, as_user):
    page = text(as_user("sam").get(_url("meeting_detail", with_items.id)))
    assert 'class="row-overdue"' in page and "期限超過" in page and "due-overdue" in page


def test_the_home_box(with_items, as_user):
    sam = as_user("sam")
    home = text(sam.get(_url("client_list")))
    assert f'hx-get="{_url("meeting_home_box")}"' in home and f'href="{_url("task_list")}"' in home
    box = text(sam.get(_url("meeting_home_box"), HTTP_HX_REQUEST="true"))
    assert "家族への連絡" in box and "開催した会議の期限超過の役割分担" in box and "服薬の確認" in box
    charlie = text(as_user("charlie").get(_url("meeting_home_box"), HTTP_HX_REQUEST="true"))
    assert "（2 件）" in charlie and "服薬の確認" in charlie and "開催した会議の期限超過" not in charlie
    ada = text(as_user("ada").get(_url("agency_admin")))
    assert _url("meeting_home_box") in ada


def test_the_home_box_names_meetings_awaiting_confirmation(meeting, as_user):
    box = text(as_user("bea").get(_url("meeting_home_box"), HTTP_HX_REQUEST="true"))
    assert "山田さん世帯の支援会議" in box and "確認待ち" in box


def test_the_header_links(cast, as_user):
    page = text(as_user("bob").get(_url("inbox")))
    assert f'href="{_url("meeting_list")}"' in page and f'href="{_url("task_list")}"' in page
    olga = text(as_user("olga").get(_url("privacy_dashboard")))
    assert f'href="{_url("task_list")}"' not in olga


# --- query counts ----------------------------------------------------------------------------------------------


def _count(user, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = user.get(url, **headers)
    assert response.status_code == 200, url
    return len(queries.captured_queries)


def test_the_pages_cost_the_same_with_more_meetings_and_items(with_items, as_user):
    sam, charlie = as_user("sam"), as_user("charlie")
    sam.get(_url("meeting_list"))  # warm-up
    sam.get(_url("meeting_home_box"), HTTP_HX_REQUEST="true")
    charlie.get(_url("task_list"))
    pages = [
        (sam, _url("meeting_list"), {}),
        (sam, _url("meeting_detail", with_items.id), {}),
        (charlie, _url("task_list"), {}),
        (sam, _url("meeting_home_box"), {"HTTP_HX_REQUEST": "true"}),
    ]
    before = [_count(u, url, **h) for u, url, h in pages]
    cid = str(with_items.cast.client.id)
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    for n in range(3):
        services.meeting_create(
            actor=with_items.actor("sam"),
            title=f"追加の会議{n}",
            held_on=timezone.localdate(),
            clients=[cid, str(with_items.client2.id)],
            attendees=["shisetsu", "houkatsu"],
            share_level="read",
            share_days=30,
        )
    items = [
        {"agency": agency, "client": cid, "task": f"役割{n}", "due_on": past}
        for n in range(3)
        for agency in ("shisetsu", "fukushi")
    ]
    _record(with_items, *items)
    after = [_count(u, url, **h) for u, url, h in pages]
    assert after == before
    assert max(after) <= 40


# --- the privacy officer -----------------------------------------------------------------------------------------


def test_the_officer_lists_meetings_without_their_titles(with_items, as_user):
    penny = as_user("penny")
    page = text(penny.get(_url("privacy_meetings")))
    assert "山田さん世帯の支援会議" not in page
    assert "三条市 福祉課" in page and "障がい者支援施設 さくら園" in page and "確認済み" in page and "未確認" in page
    assert "2 名" in page and "3 件" in page  # two clients; three shares (さくら園 ×2, 社協 ×1)
    assert f'href="{_url("privacy_meeting", with_items.id)}"' in page
    assert AuditEvent.objects.filter(actor_username="penny", details__purpose="meeting_register").exists()


def test_the_officer_sees_every_access_under_the_meeting_s_shares(with_items, as_user):
    selectors.client_get(actor=with_items.actor("charlie"), client_id=with_items.cast.client.id)
    share = Share.objects.get(meeting_id=with_items.id, agency__code="shisetsu", client_id=with_items.cast.client.id)
    penny = as_user("penny")
    page = text(penny.get(_url("privacy_meeting", with_items.id)))
    assert "山田さん世帯の支援会議" not in page and "週1回" not in page and "服薬の確認" not in page
    assert "charlie" in page and "基本情報の閲覧" in page and "共有（アクセス権）" in page
    assert "確認待ち（無効）" in page  # 社協's share of 佐藤 花子: bea has not confirmed
    event = AuditEvent.objects.filter(actor_username="penny", details__purpose="authorised_by").get()
    assert f"share:{share.id}" in event.details["authorised_by"]
    assert penny.get(_url("privacy_meeting", uuid.uuid4())).status_code == 404


@pytest.mark.parametrize("who", ["sam", "sue"])
def test_the_meeting_register_is_for_officers_only(with_items, as_user, who):
    user = as_user(who)
    assert user.get(_url("privacy_meetings")).status_code == 403
    assert user.get(_url("privacy_meeting", with_items.id)).status_code == 403
    assert AuditEvent.objects.filter(actor_username=who, outcome="denied", reason="not_privacy_officer").exists()


def test_the_sharing_page_says_a_meeting_share_awaits_confirmation_and_may_be_revoked(cast, as_user):
    c = convene(cast)
    body = text(as_user("sam").get(_url("share_page", c.client2.id)))
    row = next(line for line in body.splitlines() if "さくら園" in line)
    assert "守秘義務の確認待ち" in body and "期限切れ" not in row
    pending = Share.objects.get(meeting_id=c.id, client_id=c.client2.id, agency__code="shisetsu")
    assert (
        _url("share_revoke", c.client2.id, pending.id)
        in as_user("sam").get(_url("share_page", c.client2.id)).content.decode()
    )


def test_opening_the_meeting_marks_its_notices_read(cast, as_user):
    from cases.models import Notification
    from cases.outbox import outbox_relay

    c = convene(cast)
    outbox_relay()
    sue = cast.users["sue"]
    assert Notification.objects.filter(recipient=sue, meeting_id=c.id, read_at=None).exists()
    as_user("sue").get(_url("meeting_detail", c.id))
    assert not Notification.objects.filter(recipient=sue, meeting_id=c.id, read_at=None).exists()
