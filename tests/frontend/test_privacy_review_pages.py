"""The privacy officer's review pages as the officer reads them: a break-glass flag with the grant's reason,
expiry and what was opened under it; the per-client history that shows other agencies' access by default; the
dashboard's tamper check after ``verify_audit`` run by hand; and labels (Japanese and English) where the log
holds codes, agency codes and client ids."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from agencies.actors import Actor
from agencies.selectors import apikey_list
from audit import review
from audit.models import AnomalyFlag, AuditEvent, AuditVerification
from cases import selectors, services
from cases.models import BreakGlassGrant
from tests.frontend.conftest import text
from tsunagu.errors import Forbidden, NotFound

REASON = "救急搬送の連絡があり、服薬状況を確認するため"


def _english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def broke_glass(cast):
    """charlie (an agency with no share) opens the client by break-glass, reads it and its timeline, tries to
    write on it (refused: break-glass is read-only); the anomaly rules have run."""
    charlie = cast.actor("charlie")
    services.break_glass_open(actor=charlie, name_kana="ヤマダ タロウ", birth_date=date(1948, 4, 1), reason=REASON)
    selectors.client_get(actor=charlie, client_id=cast.client.id)
    selectors.timeline_list(actor=charlie, client_id=cast.client.id)
    with pytest.raises((Forbidden, NotFound)):
        services.timeline_append(actor=charlie, client_id=cast.client.id, kind="note", body="追記の試み")
    review.detect_anomalies(actor=Actor.system(channel="task"))
    return cast


def _bg_flag():
    return AnomalyFlag.objects.get(rule="break_glass")


def _flag_url(flag):
    return reverse("frontend:privacy_flag", args=[flag.id])


# --- item 4: the break-glass flag -------------------------------------------------------------------------------


def test_break_glass_flag_shows_the_reason_the_expiry_and_what_was_opened(broke_glass, as_user):
    grant = BreakGlassGrant.objects.get()
    response = as_user("penny").get(_flag_url(_bg_flag()))
    body = text(response)
    assert response.status_code == 200
    assert "緊急アクセスの申請" in body and REASON in body
    expires = date_format(timezone.localtime(grant.expires_at), "DATETIME_FORMAT")
    assert expires in body and "緊急アクセス中" in body  # not over yet
    (section,) = response.context["grants"]
    opened = [(r.event.action, r.event.outcome) for r in section.rows]
    assert opened == [
        ("client.view", "allowed"),
        ("timeline.view", "allowed"),
        ("timeline.append", "denied"),
    ]
    # Each with the client's name and case number (a refused append names it as its target).
    assert {(r.clients[0] if r.clients else r.target).case_number for r in section.rows} == {
        broke_glass.client.case_number
    }
    for label in ("基本情報の閲覧", "支援記録の閲覧", "支援記録の追加", "緊急アクセスは閲覧のみ"):
        assert label in body
    assert broke_glass.client.case_number in body and "障がい者支援施設 さくら園" in body
    # The reason is read as an audited look-up of the grant, about the client.
    lookup = AuditEvent.objects.filter(actor_username="penny", target_type="break_glass").get()
    assert lookup.action == "audit.view" and lookup.client_ids == [str(broke_glass.client.id)]


def test_break_glass_flag_in_english(broke_glass, as_user):
    body = text(_english(as_user("penny")).get(_flag_url(_bg_flag())))
    assert '<html lang="en">' in body
    assert "Emergency access request" in body and REASON in body  # the reason is what the caseworker typed
    assert "Opened during the emergency access (3)" in body
    assert "Emergency access is read-only" in body
    assert f"used emergency access (client 山田 太郎 ({broke_glass.client.case_number}))" in body


def test_a_renewed_grant_shows_when_it_ended_and_only_its_own_events(broke_glass, as_user):
    charlie = broke_glass.actor("charlie")
    services.break_glass_open(
        actor=charlie, name_kana="ヤマダ タロウ", birth_date=date(1948, 4, 1), reason="別件で再度確認が必要になったため"
    )
    selectors.client_get(actor=charlie, client_id=broke_glass.client.id)
    review.detect_anomalies(actor=Actor.system(channel="task"))
    first = BreakGlassGrant.objects.get(renews__isnull=True)
    flags = AnomalyFlag.objects.filter(rule="break_glass").order_by("window_start")
    assert flags.count() == 2
    old_page = as_user("penny").get(_flag_url(flags[0]))
    (section,) = old_page.context["grants"]
    assert section.grant.id == first.id and len(section.rows) == 3  # the renewal's view is not this grant's
    body = text(old_page)
    assert "新しい理由での再申請により終了" in body
    assert date_format(timezone.localtime(first.ended_at), "DATETIME_FORMAT") in body
    renewal = text(as_user("penny").get(_flag_url(flags[1])))
    assert "別件で再度確認が必要になったため" in renewal and "延長（再申請）" in renewal


def test_the_flag_page_costs_the_same_with_more_opened(broke_glass, as_user, django_assert_max_num_queries):
    penny = as_user("penny")
    flag = _bg_flag()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        penny.get(_flag_url(flag))
    charlie = broke_glass.actor("charlie")
    for _ in range(5):
        selectors.client_get(actor=charlie, client_id=broke_glass.client.id)
        selectors.timeline_list(actor=charlie, client_id=broke_glass.client.id)
    with django_assert_max_num_queries(len(few)):
        response = penny.get(_flag_url(flag))
    assert len(response.context["grants"][0].rows) == 13


# --- item 9: the per-client history ------------------------------------------------------------------------------


@pytest.fixture
def looked_at(broke_glass, as_user):
    """On top of the break-glass story: alice lists her clients, the officer (penny, 総務課) looks the client up."""
    selectors.client_list(actor=broke_glass.actor("alice"), limit=20)
    as_user("penny").get(reverse("frontend:privacy_events") + f"?client={broke_glass.client.id}")
    return broke_glass


def test_client_history_defaults_to_other_agencies_access_with_the_hidden_counted(looked_at, as_user):
    url = reverse("frontend:privacy_client", args=[looked_at.client.id])
    response = as_user("penny").get(url)
    rows = response.context["rows"]
    actions = {r.event.action for r in rows}
    assert {"client.view", "timeline.view", "timeline.append", "break_glass", "share.grant"} <= actions
    assert not any(a.startswith("audit.") or a in ("client.list", "client.search") for a in actions)
    assert not any(r.event.actor_agency_code == "soumu" for r in rows)  # the officer's own agency
    history = response.context["history"]
    assert history.hidden["review"] >= 2 and history.hidden["listing"] >= 1
    body = text(response)
    assert "他機関による閲覧・追記・共有の変更" in body
    assert f"監査担当の照会 {history.hidden['review']} 件" in body
    assert f"一覧・検索での表示 {history.hidden['listing']} 件" in body
    assert f'href="{url}?show=all"' in body
    everything = as_user("penny").get(url + "?show=all")
    all_actions = {r.event.action for r in everything.context["rows"]}
    assert "client.list" in all_actions and "audit.client_lookup" in all_actions
    assert everything.context["history"].everything and 'aria-current="page">すべての記録' in text(everything)
    assert {r.event.seq for r in rows} < {r.event.seq for r in everything.context["rows"]}  # only hidden, not lost


def test_client_history_toggle_in_english(looked_at, as_user):
    url = reverse("frontend:privacy_client", args=[looked_at.client.id])
    body = text(_english(as_user("penny")).get(url))
    assert "Other agencies' access" in body and "Everything" in body
    assert "Privacy office look-ups" in body and "Shown on lists and searches" in body


def test_client_history_costs_the_same_with_more_events(looked_at, as_user, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("frontend:privacy_client", args=[looked_at.client.id])
    penny = as_user("penny")
    with CaptureQueriesContext(connection) as few:
        penny.get(url)
    for _ in range(5):
        selectors.client_get(actor=looked_at.actor("bob"), client_id=looked_at.client.id)
        selectors.client_list(actor=looked_at.actor("alice"), limit=20)
    with django_assert_max_num_queries(len(few)):
        penny.get(url)
    with django_assert_max_num_queries(len(few)):
        penny.get(url + "?show=all")


# --- the dashboard's tamper check -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
def test_verify_audit_by_hand_shows_on_the_dashboard(cast, as_user, language):
    penny = as_user("penny")
    if language == "en":
        _english(penny)
    before = text(penny.get(reverse("frontend:privacy_dashboard")))
    assert ("未実施" if language == "ja" else "Not run yet") in before
    call_command("verify_audit")
    row = AuditVerification.objects.get()
    assert row.ok and row.channel == "cli"
    body = text(penny.get(reverse("frontend:privacy_dashboard")))
    with translation.override(language):
        when = date_format(timezone.localtime(row.ran_at), "DATETIME_FORMAT")
    # The audit log's card no longer says "not run" (the attachments' card, checked by its own task, still does).
    label = "未実施" if language == "ja" else "Not run yet"
    assert body.count(label) == before.count(label) - 1
    if language == "ja":
        assert "正常" in body and f"最終検証 {when}（手動で実行）" in body
    else:
        assert f"Last verified {when} (run by hand)" in body


def test_verify_audit_can_check_without_recording(cast):
    call_command("verify_audit", "--no-record")
    assert not AuditVerification.objects.exists()


# --- item 8: labels, not codes -----------------------------------------------------------------------------------


def test_audit_search_shows_labels_not_codes(broke_glass, as_user):
    apikey_list(actor=broke_glass.actor("ada"))
    with pytest.raises(NotFound):
        selectors.client_get(actor=broke_glass.actor("rick"), client_id=broke_glass.client.id)
    penny = as_user("penny")
    body = text(penny.get(reverse("frontend:privacy_events")))
    assert "APIキー一覧の閲覧" in body and "apikey.list" not in body
    assert "共有は解除済み" in body and "share_revoked" not in body
    assert "障がい者支援施設 さくら園" in body and ">shisetsu<" not in body
    english = text(_english(penny).get(reverse("frontend:privacy_events")))
    assert "API key list viewed" in english and "Share revoked" in english and "apikey.list" not in english


def test_after_share_end_flag_names_the_agency_and_the_client_in_either_language(cast, as_user):
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("rick"), client_id=cast.client.id)
    review.detect_anomalies(
        actor=Actor.system(channel="task"), since=timezone.now() - timedelta(hours=2), until=timezone.now()
    )
    flag = AnomalyFlag.objects.get(rule="after_share_end")
    assert flag.summary_code == "share_revoked" and flag.summary_params["agency"] == "soudan"
    penny = as_user("penny")
    listing = text(penny.get(reverse("frontend:privacy_flags")))
    case_number = cast.client.case_number
    assert "相談支援事業所 ひまわりの共有が取り消されてから" in listing and f"山田 太郎（{case_number}）" in listing
    assert str(cast.client.id) not in listing and "機関 soudan" not in listing
    english = text(_english(penny).get(_flag_url(flag)))
    assert "after the share of 相談支援事業所 ひまわり was revoked" in english
    assert f"山田 太郎 ({case_number})" in english


def test_a_flag_stored_before_summary_codes_reads_as_stored(broke_glass, as_user):
    old = AnomalyFlag.objects.create(
        rule="after_hours",
        subject_key="user:alice",
        subject_username="alice",
        subject_agency_code="fukushi",
        window_start=timezone.now() - timedelta(days=3),
        window_end=timezone.now() - timedelta(days=2),
        event_seqs=[],
        summary="alice（fukushi）が2026年11月24日の勤務時間外に2件の操作を行いました。",
        created_at=timezone.now(),
    )
    body = text(as_user("penny").get(_flag_url(old)))
    assert old.summary in body
