"""照会 in the browser, through the Django test client: asking from the client page, the boxes (open first, oldest
due first, 期限超過 in words), the header's count, the inquiry page with its thread, replying and closing, the
inbox naming an inquiry's subject only while the client is seen, and timeline entries linking to the inquiry."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from cases import services
from cases.models import Inquiry, Share
from cases.outbox import outbox_relay
from tests.frontend.conftest import text


def _ask(cast, who="alice", to=("houkatsu",), subject="通所の状況", due_on=None):
    return services.inquiry_create(
        actor=cast.actor(who),
        client_id=cast.client.id,
        to=list(to),
        subject=subject,
        body="最近の通所状況を教えてください。",
        due_on=due_on,
    )


def test_the_client_page_offers_inquiring_to_appenders_only(cast, as_user):
    url = reverse("frontend:client_detail", args=[cast.client.id])
    create = reverse("frontend:inquiry_create", args=[cast.client.id])
    assert create in text(as_user("alice").get(url))
    assert create not in text(as_user("bob").get(url))  # read only
    assert as_user("bob").get(create).status_code == 403
    assert as_user("charlie").get(create).status_code == 404


def test_ask_from_the_form(cast, as_user):
    alice = as_user("alice")
    create = reverse("frontend:inquiry_create", args=[cast.client.id])
    form = text(alice.get(create))
    # The other agencies sharing the client now are offered: not the caller's own, not lapsed or revoked ones.
    assert 'value="houkatsu"' in form and 'value="shakyo"' in form
    assert 'value="fukushi"' not in form and 'value="kaigo"' not in form and 'value="soudan"' not in form
    bad = alice.post(create, {"subject": "", "body": "", "due_on": "2000-01-01"})
    assert bad.status_code == 400
    assert "宛先の機関を1つ以上選んでください。" in text(bad)
    due = (timezone.localdate() + timedelta(days=3)).isoformat()
    sent = alice.post(create, {"to": ["houkatsu"], "subject": "通所の状況", "body": "教えてください。", "due_on": due})
    assert sent.status_code == 302
    inquiry = Inquiry.objects.get()
    assert sent["Location"] == reverse("frontend:inquiry_detail", args=[inquiry.id])
    page = text(alice.get(sent["Location"]))
    assert "通所の状況" in page and "終了する" in page


def test_boxes_order_open_first_then_oldest_due_and_mark_overdue(cast, as_user):
    today = timezone.localdate()
    later = _ask(cast, subject="期限あと", due_on=today + timedelta(days=10))
    sooner = _ask(cast, subject="期限さき", due_on=today + timedelta(days=1))
    none = _ask(cast, subject="期限なし")
    answered = _ask(cast, subject="回答ずみ", due_on=today)
    services.inquiry_reply(actor=cast.actor("carol"), inquiry_id=answered.id, body="回答です。")
    overdue = _ask(cast, subject="期限超過のもの", due_on=today + timedelta(days=2))
    Inquiry.objects.filter(pk=overdue.id).update(due_on=today - timedelta(days=1))
    carol = as_user("carol")
    page = text(carol.get(reverse("frontend:inquiries")))
    order = [page.index(str(i.id)) for i in (overdue, sooner, later, none, answered)]
    assert order == sorted(order)
    assert page.count("期限超過") == 1 + page.count("期限超過のもの")
    assert "due-overdue" in page
    # The header counts the open received inquiries.
    assert '<span class="count" aria-hidden="true">4</span>' in page
    sent = text(as_user("alice").get(reverse("frontend:inquiries") + "?box=sent"))
    assert str(later.id) in sent
    assert as_user("alice").get(reverse("frontend:inquiries") + "?box=nope").status_code == 400
    # The list read is audited with the exposed client.
    event = AuditEvent.objects.filter(action="inquiry.list", channel="web").order_by("-seq").first()
    assert event.client_ids == [str(cast.client.id)]


def test_reply_answers_and_the_sender_closes(cast, as_user):
    inquiry = _ask(cast)
    url = reverse("frontend:inquiry_detail", args=[inquiry.id])
    carol = as_user("carol")
    page = text(carol.get(url))
    assert "回答する" in page and "終了する" not in page
    assert carol.post(reverse("frontend:inquiry_reply", args=[inquiry.id]), {"body": ""}).status_code == 400
    assert carol.post(reverse("frontend:inquiry_reply", args=[inquiry.id]), {"body": "週3回です。"}).status_code == 302
    alice = as_user("alice")
    page = text(alice.get(url))
    assert "週3回です。" in page and "回答済み" in page
    assert carol.post(reverse("frontend:inquiry_close", args=[inquiry.id])).status_code == 403
    assert alice.post(reverse("frontend:inquiry_close", args=[inquiry.id])).status_code == 302
    page = text(carol.get(url))
    assert "この照会は終了しています。" in page and "回答する" not in page


def test_non_parties_and_ended_shares_find_nothing(cast, as_user):
    inquiry = _ask(cast, to=("houkatsu", "shakyo"))
    url = reverse("frontend:inquiry_detail", args=[inquiry.id])
    for who in ("charlie", "erin", "rick", "penny"):
        assert as_user(who).get(url).status_code == 404
    assert as_user("bob").get(url).status_code == 200
    services.share_revoke(actor=cast.actor("sam"), client_id=cast.client.id, share_id=cast.shares["reader"].id)
    bob = as_user("bob")
    assert bob.get(url).status_code == 404
    assert str(inquiry.id) not in text(bob.get(reverse("frontend:inquiries")))


def test_the_timeline_links_to_the_inquiry(cast, as_user):
    inquiry = _ask(cast)
    page = text(as_user("carol").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert reverse("frontend:inquiry_detail", args=[inquiry.id]) in page
    assert "地域包括支援センター嵐南 に照会しました。" in page


def test_the_inbox_names_the_subject_only_while_the_client_is_seen(cast, as_user):
    inquiry = _ask(cast, subject="ひみつの件名")
    outbox_relay()
    inbox = text(as_user("carol").get(reverse("frontend:inbox")))
    assert "照会が届きました" in inbox and "ひみつの件名" in inbox
    assert reverse("frontend:inquiry_detail", args=[inquiry.id]) in inbox
    Share.objects.filter(pk=cast.shares["appender"].id).update(expires_at=timezone.now() - timedelta(minutes=1))
    inbox = text(as_user("carol").get(reverse("frontend:inbox")))
    assert "ひみつの件名" not in inbox


def test_opening_the_inquiry_marks_its_notices_read_and_no_others(cast, as_user):
    from cases.models import Notification

    first, other = _ask(cast, subject="一件目"), _ask(cast, subject="二件目")
    outbox_relay()
    carol = cast.users["carol"]
    asked = Notification.objects.filter(recipient=carol, topic="inquiry.create", read_at=None)
    assert asked.count() == 2
    as_user("carol").get(reverse("frontend:inquiry_detail", args=[first.id]))
    assert [n.entry.event_params["inquiry"] for n in asked.all()] == [str(other.id)]
    assert Notification.objects.filter(recipient=carol, read_at=None).exclude(topic="inquiry.create").exists()
