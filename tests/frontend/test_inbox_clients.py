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
