"""The inbox names the client of each notice (PRODUCT §4.7): grouped by client with its unread count, the kind of
entry or change in words, "mark all for this client read" with and without htmx, and no name once the reader's
agency can no longer see the client. Naming clients is audited as an exposure; e-mail stays a link."""

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import translation

from audit.models import AuditEvent
from cases import services
from cases.actions import CaseAction, Topic
from cases.models import EntryKind, Notification
from cases.notifications import topic_label
from cases.outbox import outbox_relay
from tests.frontend.conftest import text


@pytest.fixture
def two_clients(settled, django_capture_on_commit_callbacks):
    """Bob (reader) has three unread notices: two visits by carol on 山田 太郎, one call by alice on 佐藤 花子
    (shared with bob's agency, address withheld)."""
    other = services.client_create(
        actor=settled.actor("alice"),
        name="佐藤 花子",
        name_kana="サトウ ハナコ",
        birth_date=date(1990, 1, 2),
        address="新潟県三条市荻堀1-1",
        address_confidential=True,
    )
    services.share_grant(
        actor=settled.actor("sam"), client_id=other.id, agency_code="shakyo", level="read", basis="consent"
    )
    outbox_relay()  # the registration's and the share's notices, delivered and read
    Notification.objects.update(read_at="2026-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        for body in ("一回目の訪問", "二回目の訪問"):
            services.timeline_append(actor=settled.actor("carol"), client_id=settled.client.id, kind="visit", body=body)
        services.timeline_append(actor=settled.actor("alice"), client_id=other.id, kind="call", body="電話")
    settled.other = other
    return settled


def _group(body: str, client_id) -> str:
    start = body.index(f'id="notices-{client_id}"')
    end = body.find('class="card notice-group"', start + 1)
    return body[start : end if end != -1 else len(body)]


def test_notices_are_grouped_by_client_with_names_kinds_and_unread_counts(two_clients, as_user):
    body = text(as_user("bob").get(reverse("frontend:inbox")))
    yamada, sato = _group(body, two_clients.client.id), _group(body, two_clients.other.id)
    # The newest notice's client comes first.
    assert body.index(f'id="notices-{two_clients.other.id}"') < body.index(f'id="notices-{two_clients.client.id}"')
    assert "山田 太郎" in yamada and two_clients.client.case_number in yamada
    assert yamada.count('class="notice unread"') == 2 and "未読 2 件" in yamada
    assert yamada.count("支援記録（訪問）が追加されました") >= 2  # with the cast's own, read
    assert "佐藤 花子" in sato and two_clients.other.case_number in sato and "住所秘匿" in sato
    assert "支援記録（電話）が追加されました" in sato and "未読 1 件" in sato
    assert "荻堀" not in body  # a withheld address is never shown
    assert body.count("このケースをすべて既読にする") == 2


def test_naming_clients_is_audited_as_an_exposure(two_clients, as_user):
    before = AuditEvent.objects.filter(action=CaseAction.NOTICE_LIST).count()
    as_user("bob").get(reverse("frontend:inbox"))
    events = list(AuditEvent.objects.filter(action=CaseAction.NOTICE_LIST).order_by("seq"))[before:]
    assert len(events) == 1
    assert events[0].actor_username == "bob" and events[0].outcome == "allowed"
    assert set(events[0].client_ids) == {str(two_clients.client.id), str(two_clients.other.id)}


def test_mark_one_client_read_without_javascript(two_clients, as_user):
    bob = as_user("bob")
    response = bob.post(reverse("frontend:inbox_mark_read"), {"client": str(two_clients.client.id)})
    assert response.status_code == 302
    assert "2 件を既読にしました。" in text(bob.get(response["Location"]))
    unread = Notification.objects.filter(recipient__username="bob", read_at=None)
    assert list(unread.values_list("client_id", flat=True)) == [two_clients.other.id]


def test_mark_one_client_read_with_htmx(two_clients, as_user):
    bob = as_user("bob")
    response = bob.post(
        reverse("frontend:inbox_mark_read"),
        {"client": str(two_clients.other.id), "unread": "1"},
        HTTP_HX_REQUEST="true",
    )
    body = text(response)
    assert response.status_code == 200 and 'hx-swap-oob="true"' in body and 'id="inbox"' in body
    assert "佐藤 花子" not in body  # the unread view no longer lists it
    assert "未読 2 件" in _group(body, two_clients.client.id)
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 2


@pytest.mark.parametrize("value", ["garbage", "", "00000000-0000-0000-0000-000000000000"])
def test_mark_read_for_a_bad_or_foreign_client_marks_nothing(two_clients, as_user, value):
    as_user("bob").post(reverse("frontend:inbox_mark_read"), {"client": value})
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 3


def test_another_users_client_notices_are_never_marked(two_clients, as_user):
    as_user("bob").post(reverse("frontend:inbox_mark_read"), {"client": str(two_clients.other.id)})
    alice_unread = Notification.objects.filter(recipient__username="alice", read_at=None).count()
    assert alice_unread == 2  # carol's two visits; bob's action touched only bob's notices


def test_a_client_no_longer_shared_is_not_named(two_clients, as_user):
    """Rick's agency's share was revoked: a notice from before is about "a case no longer shared", with no name,
    no case number and no kind of entry; its link finds nothing, like any hidden client."""
    rick = two_clients.users["rick"]
    Notification.objects.create(
        recipient=rick,
        client_id=two_clients.client.id,
        entry_id=two_clients.entry.id,
        topic=Topic.TIMELINE_APPEND,
        source_agency=two_clients.agencies["owner"],
        event_key="test:before-revocation",
    )
    browser = as_user("rick")
    before = AuditEvent.objects.filter(action=CaseAction.NOTICE_LIST).count()
    body = text(browser.get(reverse("frontend:inbox")))
    assert "共有が終了したケース" in body and "支援記録が追加されました" in body
    assert "山田" not in body and two_clients.client.case_number not in body and "支援記録（" not in body
    assert f'href="/clients/{two_clients.client.id}/"' in body  # no entry anchor either
    assert AuditEvent.objects.filter(action=CaseAction.NOTICE_LIST).count() == before  # nothing was exposed
    assert browser.get(reverse("frontend:client_detail", args=[two_clients.client.id])).status_code == 404
    # "Mark all for this case read" still works for it.
    browser.post(reverse("frontend:inbox_mark_read"), {"client": str(two_clients.client.id)})
    assert not Notification.objects.filter(recipient=rick, read_at=None).exists()


def test_a_break_glass_notice_is_in_words(settled, as_user):
    Notification.objects.create(
        recipient=settled.users["bob"],
        client_id=settled.client.id,
        topic=Topic.BREAK_GLASS,
        source_agency=settled.agencies["outsider"],
        event_key="test:break-glass",
    )
    body = text(as_user("bob").get(reverse("frontend:inbox")))
    assert "緊急アクセスが行われました" in body and "break_glass" not in body


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_topic_and_entry_kind_reads_as_words(language):
    with translation.override(language):
        for topic in Topic:
            for kind in ["", *EntryKind.values]:
                label = topic_label(topic.value, kind)
                assert label and topic.value not in label, (topic, kind, label)
                if language == "ja":  # no code at all: Japanese labels carry no Latin letters
                    assert not re.search(r"[a-z]", label), (topic, kind, label)
                elif kind and not kind.isalpha():  # a code such as break_glass, never a word such as "inquiry"
                    assert kind not in label, (topic, kind, label)
        if language == "en":
            assert topic_label(Topic.TIMELINE_APPEND, EntryKind.VISIT) != "支援記録（訪問）が追加されました"


# --- support meetings (支援会議): notices grouped by meeting ------------------------------------------------------


@pytest.fixture
def invited(settled, django_capture_on_commit_callbacks):
    """福祉課 convened the standing meeting (``tests.meetings.convene``): さくら園 (charlie, sue) and 社協 (bob, bea)
    are invited; neither has confirmed 守秘義務. Then sam recorded its minutes: one notice per client discussed, to the
    agencies that see that client (社協 and 地域包括 see 山田 太郎; nobody else sees 佐藤 花子 yet)."""
    from tests.meetings import convene

    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
        services.meeting_minutes_record(
            actor=settled.actor("sam"), meeting_id=convened.id, summary="見守りの分担を決めた。", action_items=[]
        )
    return convened


def _held_on(convened) -> str:
    day = convened.meeting.held_on
    return f"{day.year}年{day.month}月{day.day}日"


def _notice_events() -> int:
    return AuditEvent.objects.filter(action=CaseAction.NOTICE_LIST).count()


def test_an_invitation_to_an_attendee_that_sees_no_client_is_under_its_meeting(invited, as_user):
    """さくら園 cannot see the clients before it confirms 守秘義務: the invitation is not about "a case no longer
    shared" (nothing ended) but about the meeting, headed by its date and convener — never its title, free text that may
    name a person — and it links to the meeting page, where the agency confirms."""
    charlie = as_user("charlie")
    before = _notice_events()
    body = text(charlie.get(reverse("frontend:inbox")))
    group = _group(body, f"meeting-{invited.id}")
    assert f"支援会議（開催日 {_held_on(invited)}、三条市 福祉課）" in group
    assert "支援会議への参加依頼が届きました" in group and "未読 1 件" in group
    assert f'href="{reverse("frontend:meeting_detail", args=[invited.id])}"' in group and "支援会議を開く" in group
    assert "この支援会議をすべて既読にする" in group
    assert "共有が終了したケース" not in body and "共有が終了したため" not in body
    assert "山田さん世帯の支援会議" not in body  # the title
    assert "山田" not in body and "佐藤" not in body and "/clients/" not in group
    assert _notice_events() == before  # no client named, nothing exposed
    assert charlie.get(reverse("frontend:meeting_detail", args=[invited.id])).status_code == 200


def test_a_meeting_group_names_only_the_clients_the_reader_sees(invited, as_user):
    """社協 reads 山田 太郎 already (not 佐藤 花子 until it confirms): the minutes' notice about 山田 太郎 names him;
    the invitation names nobody; the exposure recorded is 山田 太郎 only."""
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    body = text(as_user("bob").get(reverse("frontend:inbox")))
    group = _group(body, f"meeting-{invited.id}")
    assert f"支援会議（開催日 {_held_on(invited)}、三条市 福祉課）" in group
    assert "支援会議への参加依頼が届きました" in group and "支援会議の記録が追加されました" in group
    assert "山田 太郎" in group and "佐藤" not in body and "山田さん世帯の支援会議" not in body
    assert "未読 2 件" in group and "共有が終了した" not in body
    assert "支援会議" not in _group(body, invited.cast.client.id)  # the client's own (earlier) notices only
    [event] = AuditEvent.objects.filter(seq__gt=before, action=CaseAction.NOTICE_LIST)
    assert event.client_ids == [str(invited.cast.client.id)]


def test_an_agency_that_does_not_attend_hears_of_the_minutes_under_the_client(invited, as_user):
    """地域包括 shares 山田 太郎 but does not attend: the meeting page is not there for it, the minutes on the client's
    timeline are; its notice stays under the client, with no meeting link."""
    body = text(as_user("carol").get(reverse("frontend:inbox")))
    group = _group(body, invited.cast.client.id)
    assert "山田 太郎" in group and "支援会議の記録が追加されました" in group
    assert "/meetings/" not in group and 'id="notices-meeting-' not in body


def test_mark_a_meeting_read_without_javascript(invited, as_user):
    bob = as_user("bob")
    response = bob.post(reverse("frontend:inbox_mark_read"), {"meeting": str(invited.id)})
    assert response.status_code == 302
    assert "2 件を既読にしました。" in text(bob.get(response["Location"]))
    assert not Notification.objects.filter(recipient__username="bob", read_at=None).exists()
    assert Notification.objects.filter(recipient__username="charlie", read_at=None).exists()


def test_mark_a_meeting_read_with_htmx_and_a_client_group_leaves_the_meeting_unread(invited, as_user, settled):
    bob = as_user("bob")
    services.timeline_append(actor=settled.actor("alice"), client_id=settled.client.id, kind="call", body="電話")
    outbox_relay()
    # "Mark this case read" marks the client's own group, not the meeting's notice about the same client.
    bob.post(reverse("frontend:inbox_mark_read"), {"client": str(settled.client.id)})
    unread = Notification.objects.filter(recipient__username="bob", read_at=None)
    assert set(unread.values_list("topic", flat=True)) == {"meeting.create", "meeting.minutes"}
    response = bob.post(
        reverse("frontend:inbox_mark_read"), {"meeting": str(invited.id), "unread": "1"}, HTTP_HX_REQUEST="true"
    )
    body = text(response)
    assert response.status_code == 200 and 'id="inbox"' in body and "支援会議（" not in body
    assert not unread.exists()


@pytest.mark.parametrize("value", ["garbage", "", "00000000-0000-0000-0000-000000000000"])
def test_mark_read_for_a_bad_or_foreign_meeting_marks_nothing(invited, as_user, value):
    as_user("bob").post(reverse("frontend:inbox_mark_read"), {"meeting": value})
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 2


def test_the_meeting_heading_in_english(invited, as_user):
    charlie = as_user("charlie")
    charlie.post(reverse("set_language"), {"language": "en"})
    body = text(charlie.get(reverse("frontend:inbox")))
    group = _group(body, f"meeting-{invited.id}")
    assert "Support meeting (held on" in group and "支援会議（" not in group
