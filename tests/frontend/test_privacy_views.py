"""The privacy officer's console (監査) and the caseworker's break-glass request (緊急アクセス).

Console pages are for privacy officers only (penny); everyone else gets the 403 page and the attempt is in the
audit log as denied. Every page the officer opens is itself an ``audit.view`` event.
"""

import csv
import io
import re
import uuid
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agencies.actors import Actor
from audit import review
from audit.models import AnomalyFlag, AuditEvent, AuditExport, FlagNote
from cases import selectors, services
from frontend.privacy import csv as privacy_csv
from frontend.privacy import views as privacy_views
from frontend.privacy.forms import day_start
from tests.frontend.conftest import text
from tests.mfa import sign_in
from tsunagu.errors import NotFound

# --- break-glass (緊急アクセス) ------------------------------------------------------------------------------


def _break_glass(client, **changes):
    data = {
        "name_kana": "ヤマダ タロウ",
        "birth_date": "1948-04-01",
        "reason": "救急搬送の連絡があり、緊急連絡先を確認するため",
    }
    return client.post(reverse("frontend:break_glass"), {**data, **changes})


def test_client_list_links_to_break_glass_and_the_page_warns(cast, as_user):
    charlie = as_user("charlie")
    assert reverse("frontend:break_glass") in text(charlie.get(reverse("frontend:client_list")))
    body = text(charlie.get(reverse("frontend:break_glass")))
    assert "この操作は記録され、個人情報保護管理者が確認します。" in body
    assert 'for="bg-name_kana"' in body and 'for="bg-birth_date"' in body and 'for="bg-reason"' in body


def test_break_glass_opens_the_client_for_four_hours_and_the_timeline_shows_it(cast, as_user):
    charlie = as_user("charlie")
    client_url = reverse("frontend:client_detail", args=[cast.client.id])
    assert charlie.get(client_url).status_code == 404
    response = _break_glass(charlie, name_kana="やまだ たろう")  # hiragana finds the katakana フリガナ
    assert response.status_code == 302 and response["Location"] == client_url
    page = charlie.get(client_url)
    body = text(page)
    assert page.status_code == 200 and "山田 太郎" in body
    assert "緊急アクセスを記録しました。4 時間、閲覧できます。" in body
    assert "緊急アクセス（閲覧、" in body  # the system entry on the timeline
    event = AuditEvent.objects.get(action="break_glass", outcome="allowed")
    assert event.actor_username == "charlie" and event.channel == "web"
    assert event.client_ids == [str(cast.client.id)] and event.authorised_by.startswith("break_glass:")


def test_break_glass_with_a_wrong_birth_date_is_not_found(cast, as_user):
    charlie = as_user("charlie")
    response = _break_glass(charlie, birth_date="1948-04-02")
    assert response.status_code == 404
    assert "該当する支援対象者が見つかりません。" in text(response) and "山田" not in text(response)
    assert charlie.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 404
    assert AuditEvent.objects.filter(action="break_glass", outcome="denied", actor_username="charlie").count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "  "}, "reason", "緊急アクセスの理由を入力してください。"),
        ({"reason": "確認"}, "reason", "5文字以上"),
        ({"name_kana": ""}, "name_kana", "フリガナを入力してください。"),
        ({"birth_date": "昭和23年"}, "birth_date", "YYYY-MM-DD"),
    ],
)
def test_break_glass_field_errors_open_nothing(cast, as_user, changes, field, message):
    response = _break_glass(as_user("charlie"), **changes)
    assert response.status_code == 400
    body = text(response)
    assert f'id="bg-{field}_error"' in body and message in body
    assert not AuditEvent.objects.filter(action="break_glass", outcome="allowed").exists()


# --- the console (監査) ------------------------------------------------------------------------------------


@pytest.fixture
def reviewed(cast):
    """Some history to review: alice lists her clients, charlie is refused the client and then opens it by
    break-glass, and the anomaly rules have run (the break-glass use is a flag)."""
    selectors.client_list(actor=cast.actor("alice"), limit=20)
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)
    services.break_glass_open(
        actor=cast.actor("charlie"),
        name_kana="ヤマダ タロウ",
        birth_date=date(1948, 4, 1),
        reason="救急搬送の連絡のため",
    )
    review.detect_anomalies(actor=Actor.system(channel="task"))
    return cast


def _flag(rule="break_glass"):
    return AnomalyFlag.objects.filter(rule=rule).latest("created_at")


CONSOLE_PAGES = [
    ("frontend:privacy_dashboard", {}),
    ("frontend:privacy_events", {}),
    ("frontend:privacy_client", {"client": True}),
    ("frontend:privacy_user", {"username": "alice"}),
    ("frontend:privacy_disclosure", {}),
    ("frontend:privacy_flags", {}),
    ("frontend:privacy_flag", {"flag": True}),
]


def _url(cast, name, args):
    if args.get("client"):
        return reverse(name, args=[cast.client.id])
    if args.get("flag"):
        return reverse(name, args=[_flag().id])
    if "username" in args:
        return reverse(name, args=[args["username"]])
    return reverse(name)


@pytest.mark.parametrize(("name", "args"), CONSOLE_PAGES)
def test_console_pages_for_the_officer_each_audited(reviewed, as_user, name, args):
    url = _url(reviewed, name, args)
    before = AuditEvent.objects.filter(actor_username="penny", action="audit.view", outcome="allowed").count()
    response = as_user("penny").get(url)
    assert response.status_code == 200, text(response)[:2000]
    body = text(response)
    assert 'aria-current="page">監査</a>' in body  # the header link, current
    assert "自宅を訪問" not in body and "旭町" not in body  # never case content
    if name != "frontend:privacy_disclosure":  # the empty disclosure form reads nothing
        assert (
            AuditEvent.objects.filter(actor_username="penny", action="audit.view", outcome="allowed").count() > before
        )


@pytest.mark.parametrize("who", ["alice", "charlie"])
@pytest.mark.parametrize(("name", "args"), CONSOLE_PAGES)
def test_console_pages_are_forbidden_to_everyone_else_and_the_attempt_is_audited(reviewed, as_user, who, name, args):
    url = _url(reviewed, name, args)
    response = as_user(who).get(url)
    assert response.status_code == 403
    assert "この操作は許可されていません" in text(response) and "山田" not in text(response)
    assert AuditEvent.objects.filter(actor_username=who, outcome="denied", reason="not_privacy_officer").exists()


def test_the_header_link_is_for_officers_only(cast, as_user):
    assert reverse("frontend:privacy_dashboard") in text(as_user("penny").get(reverse("frontend:client_list")))
    assert reverse("frontend:privacy_dashboard") not in text(as_user("alice").get(reverse("frontend:client_list")))


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("frontend:privacy_flags_detect", {}),
        ("frontend:privacy_export_start", {"encoding": "utf-8-sig"}),
    ],
)
def test_console_posts_are_forbidden_to_everyone_else(reviewed, as_user, url, data):
    assert as_user("charlie").post(reverse(url), data).status_code == 403
    assert not AuditExport.objects.exists()


def test_flag_note_is_forbidden_to_everyone_else(reviewed, as_user):
    flag = _flag()
    response = as_user("alice").post(reverse("frontend:privacy_flag_note", args=[flag.id]), {"note": "見ました"})
    assert response.status_code == 403 and not FlagNote.objects.exists()


def _no_name_in(url: str, *names) -> bool:
    return not any(n in url or quote(n) in url for n in names)


def test_search_by_client_name_shows_who_accessed_it_with_the_basis(reviewed, as_user):
    penny = as_user("penny")
    posted = penny.post(reverse("frontend:privacy_events"), {"client_q": "山田"})
    assert posted.status_code == 303
    assert posted["Location"] == reverse("frontend:privacy_events") + f"?client={reviewed.client.id}"
    response = penny.get(posted["Location"])
    body = text(response)
    assert response.status_code == 200
    assert f'name="client" value="{reviewed.client.id}"' in body  # one match: picked
    assert reviewed.client.case_number in body
    assert "一覧の表示" in body and "alice" in body  # alice's list showed the client
    assert "緊急アクセス" in body and 'class="badge basis-break_glass"' in body
    assert 'class="badge basis-share"' in body
    assert "拒否" in body  # charlie's refused attempt
    assert "自宅を訪問" not in body


def test_search_by_case_number_and_several_matches_to_pick_from(reviewed, as_user):
    services.client_create(
        actor=reviewed.actor("alice"), name="山田 花子", name_kana="やまだ はなこ", birth_date=date(1950, 1, 1)
    )
    penny = as_user("penny")
    url = reverse("frontend:privacy_events")
    several = text(penny.post(url, {"client_q": "山田", "outcome": "denied"}))
    assert "支援対象者を選んでください" in several and "山田 花子" in several
    links = re.findall(r'href="([^"]*client=[^"]*)"', several)
    assert f"{url}?outcome=denied&amp;client={reviewed.client.id}" in links  # the other conditions are kept
    assert all(_no_name_in(link, "山田", "ヤマダ") for link in links)
    exact = penny.post(url, {"client_q": reviewed.client.case_number})
    assert exact.status_code == 303 and exact["Location"] == f"{url}?client={reviewed.client.id}"
    assert f'name="client" value="{reviewed.client.id}"' in text(penny.get(exact["Location"]))
    none = penny.post(url, {"client_q": "存在しない人"})
    assert none.status_code == 400 and "該当する支援対象者がいません。" in text(none)


def test_an_unknown_picked_client_is_a_field_error_on_search_and_disclosure(reviewed, as_user):
    penny = as_user("penny")
    unknown = str(uuid.uuid4())
    today = timezone.localdate().isoformat()
    for url, query in [
        (reverse("frontend:privacy_events"), {"client": unknown}),
        (reverse("frontend:privacy_disclosure"), {"client": unknown, "since": "2020-01-01", "until": today}),
    ]:
        response = penny.get(url, query)
        assert response.status_code == 400, url
        assert "該当する支援対象者がいません。ケース番号または氏名を確認してください。" in text(response)


def test_the_console_search_forms_post_names(reviewed, as_user):
    penny = as_user("penny")
    for name in ("frontend:privacy_events", "frontend:privacy_disclosure", "frontend:privacy_terms"):
        body = text(penny.get(reverse(name)))
        form = re.search(r'<form class="card search-card[^>]*>', body).group(0)
        assert 'method="post"' in form, name


def test_disclosure_by_name_redirects_to_the_id_only_url(reviewed, as_user):
    penny = as_user("penny")
    url = reverse("frontend:privacy_disclosure")
    posted = penny.post(url, {"client_q": "やまだ", "since": "2026-01-01", "until": "2026-12-31"})
    assert posted.status_code == 303
    assert posted["Location"] == f"{url}?client={reviewed.client.id}&since=2026-01-01&until=2026-12-31"
    report = penny.get(posted["Location"])
    assert report.status_code == 200 and "個人情報の利用状況（アクセス記録）報告書" in text(report)
    for link in re.findall(r'(?:href|action)="([^"]*)"', text(report)):
        assert _no_name_in(link, "山田", "やまだ", "ヤマダ")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-11-20", "until": "2026-11-01"}, "終了日時は開始日時より後にしてください。"),
        ({"since": "11月1日"}, "YYYY-MM-DD"),
        ({"action": "x" * 49}, "f-action_error"),
    ],
)
def test_bad_search_conditions_are_a_400_with_the_message(reviewed, as_user, params, message):
    response = as_user("penny").get(reverse("frontend:privacy_events"), params)
    assert response.status_code == 400 and message in text(response)


def test_search_filters_and_keyset_paging(reviewed, as_user, monkeypatch):
    monkeypatch.setattr(privacy_views, "PAGE_SIZE", 2)
    penny = as_user("penny")
    body = text(penny.get(reverse("frontend:privacy_events"), {"username": "charlie", "outcome": "denied"}))
    assert "charlie" in body and "alice</a>" not in body and "許可</span>" not in body
    first = penny.get(reverse("frontend:privacy_events"), {"action": "share."})
    assert "さらにあります" in text(first)
    cursor = first.context["result"].next_cursor
    second = penny.get(reverse("frontend:privacy_events"), {"action": "share.", "cursor": cursor})
    seqs = [r.event.seq for r in first.context["rows"]] + [r.event.seq for r in second.context["rows"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
    assert all(r.event.action.startswith("share.") for r in second.context["rows"])


def test_client_history_with_everything_includes_list_exposures_and_denied_attempts(reviewed, as_user):
    url = reverse("frontend:privacy_client", args=[reviewed.client.id])
    response = as_user("penny").get(url + "?show=all")
    rows = response.context["rows"]
    actions = {(r.event.actor_username, r.event.action, r.event.outcome) for r in rows}
    assert ("alice", "client.list", "allowed") in actions
    assert ("charlie", "client.view", "denied") in actions
    assert ("charlie", "break_glass", "allowed") in actions
    assert {r.basis for r in rows if r.event.action == "break_glass"} == {"緊急アクセス"}
    assert "開示請求の報告書を作成" in text(response)


def test_unknown_client_history_is_not_found(reviewed, as_user):
    penny = as_user("penny")
    assert penny.get(reverse("frontend:privacy_client", args=[uuid.uuid4()])).status_code == 404
    assert penny.get(reverse("frontend:privacy_client", args=["garbage"])).status_code == 404


def test_user_activity_lists_what_the_user_accessed(reviewed, as_user):
    response = as_user("penny").get(reverse("frontend:privacy_user", args=["charlie"]))
    rows = response.context["rows"]
    assert rows and {r.event.actor_username for r in rows} == {"charlie"}
    assert "山田 太郎" in text(response)  # the client identifier of the break-glass


def _disclosure_params(cast):
    today = timezone.localdate()
    return {"client": str(cast.client.id), "since": (today - timedelta(days=7)).isoformat(), "until": today.isoformat()}


def test_disclosure_report_lists_exactly_the_events_of_the_period(reviewed, as_user):
    penny = as_user("penny")
    response = penny.get(reverse("frontend:privacy_disclosure"), _disclosure_params(reviewed))
    body = text(response)
    assert response.status_code == 200
    assert "個人情報の利用状況（アクセス記録）報告書" in body and "山田 太郎" in body
    assert "障がい者支援施設 さくら園" in body and "三条市 福祉課" in body
    today = timezone.localdate()
    expected = review.review_disclosure(
        actor=reviewed.actor("penny"),
        client_id=reviewed.client.id,
        since=day_start(today - timedelta(days=7)),
        until=day_start(today + timedelta(days=1)),
    ).events
    shown = [r.event.seq for r in response.context["rows"]]
    assert shown == [e.seq for e in expected if e.seq in shown] and len(shown) >= len(expected) - 2
    assert shown == sorted(shown)  # oldest first
    assert "data-print" in body and "/static/frontend/print.js" in body
    assert "自宅を訪問" not in body and "旭町" not in body


def test_disclosure_csv_is_utf8_with_bom_and_the_same_rows(reviewed, as_user):
    penny = as_user("penny")
    params = _disclosure_params(reviewed)
    page = penny.get(reverse("frontend:privacy_disclosure"), params)
    response = penny.get(reverse("frontend:privacy_disclosure_csv"), params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == privacy_csv.DISCLOSURE_HEADER
    # The CSV's own read is one event later than the page's: the same rows plus the page view itself at most.
    page_rows = privacy_csv.disclosure_rows(page.context["rows"])
    assert rows[1 : len(page_rows) + 1] == page_rows
    assert any(r[3] == "charlie" and r[4] == "緊急アクセス" and r[7] == "緊急アクセス" for r in rows[1:])


def test_disclosure_needs_a_client_and_a_period(reviewed, as_user):
    penny = as_user("penny")
    response = penny.post(reverse("frontend:privacy_disclosure"), {"client_q": "", "since": "2026-01-01"})
    body = text(response)
    assert response.status_code == 400 and "終了日を入力してください。" in body
    missing = penny.get(reverse("frontend:privacy_disclosure"), {"since": "2026-01-01", "until": "2026-02-01"})
    assert missing.status_code == 400 and "支援対象者を指定してください。" in text(missing)


def test_flags_list_and_flag_page_with_the_events_behind_it(reviewed, as_user):
    penny = as_user("penny")
    flag = _flag()
    listing = text(penny.get(reverse("frontend:privacy_flags")))
    assert "緊急アクセスの利用" in listing and reverse("frontend:privacy_flag", args=[flag.id]) in listing
    response = penny.get(reverse("frontend:privacy_flag", args=[flag.id]))
    assert [r.event.seq for r in response.context["rows"]] == sorted(flag.event_seqs)
    body = text(response)
    case_number = reviewed.client.case_number
    summary = f"charlie（障がい者支援施設 さくら園）が緊急アクセスを利用しました（対象者 山田 太郎（{case_number}））。"
    assert summary in body and "確認メモを記録" in body
    assert penny.get(reverse("frontend:privacy_flag", args=[uuid.uuid4()])).status_code == 404


def test_review_note_then_closing_the_flag(reviewed, as_user):
    penny = as_user("penny")
    flag = _flag()
    url = reverse("frontend:privacy_flag_note", args=[flag.id])
    response = penny.post(url, {"note": "本人に確認。救急搬送の対応で正当。"})
    assert response.status_code == 302
    page = text(penny.get(response["Location"]))
    assert "レビューメモを記録しました。" in page and "救急搬送の対応で正当。" in page
    flag.refresh_from_db()
    assert flag.status == "open"
    penny.post(url, {"note": "上長と確認済み。", "close": "on"})
    flag.refresh_from_db()
    assert flag.status == "closed" and flag.closed_by_username == "penny"
    assert list(FlagNote.objects.filter(flag=flag).order_by("created_at").values_list("closes_flag", flat=True)) == [
        False,
        True,
    ]
    assert flag.id not in [f.id for f in penny.get(reverse("frontend:privacy_flags")).context["result"].items]


def test_an_empty_review_note_is_a_field_error(reviewed, as_user):
    flag = _flag()
    response = as_user("penny").post(
        reverse("frontend:privacy_flag_note", args=[flag.id]), {"note": "  ", "close": "on"}
    )
    assert response.status_code == 400 and 'id="n-note_error"' in text(response)
    assert "確認内容を入力してください。" in text(response)
    flag.refresh_from_db()
    assert flag.status == "open" and not FlagNote.objects.exists()


def test_detect_on_demand(reviewed, as_user):
    response = as_user("penny").post(reverse("frontend:privacy_flags_detect"))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(actor_username="penny", action="audit.detect_anomalies").exists()


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8-sig", True), ("shift_jis", False)])
def test_export_runs_shows_progress_and_offers_the_file(
    reviewed, as_user, django_capture_on_commit_callbacks, encoding, bom
):
    penny = as_user("penny")
    data = {"client": str(reviewed.client.id), "encoding": encoding}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = penny.post(reverse("frontend:privacy_export_start"), data)
    export = AuditExport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("frontend:privacy_export", args=[export.id])
    assert export.filters == {"client": str(reviewed.client.id)} and export.encoding == encoding
    pending = text(penny.get(response["Location"]))
    assert 'hx-trigger="every 2s"' in pending and "<progress" in pending  # polls while pending
    for callback in callbacks:
        callback()
    poll = penny.get(reverse("frontend:privacy_export_status", args=[export.id]), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "hx-trigger" not in text(poll) and "ファイルをダウンロード" in text(poll)
    download = penny.get(reverse("frontend:privacy_export_download", args=[export.id]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert download.content.startswith(b"\xef\xbb\xbf") is bom
    content = download.content.decode("utf-8-sig" if bom else "shift_jis")
    assert "charlie" in content and str(reviewed.client.id) in content


def test_downloading_an_unfinished_export_sends_the_officer_to_its_page(reviewed, as_user):
    penny = as_user("penny")
    export = review.export_start(actor=reviewed.actor("penny"), filters={})
    for status in ("pending", "running", "failed"):
        AuditExport.objects.filter(pk=export.pk).update(status=status)
        download = penny.get(reverse("frontend:privacy_export_download", args=[export.id]))
        assert download.status_code == 302, status
        assert download["Location"] == reverse("frontend:privacy_export", args=[export.id])


def test_downloading_reads_the_export_once(reviewed, as_user, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    penny = as_user("penny")
    with django_capture_on_commit_callbacks(execute=True):
        export = review.export_start(actor=reviewed.actor("penny"), filters={})
    with CaptureQueriesContext(connection) as queries:
        download = penny.get(reverse("frontend:privacy_export_download", args=[export.id]))
    assert download.status_code == 200
    reads = [q for q in queries.captured_queries if q["sql"].startswith("SELECT") and "audit_auditexport" in q["sql"]]
    assert len(reads) == 1


def test_export_of_an_unknown_id_is_not_found(reviewed, as_user):
    penny = as_user("penny")
    for name in ("frontend:privacy_export", "frontend:privacy_export_download"):
        assert penny.get(reverse(name, args=[uuid.uuid4()])).status_code == 404


def test_dashboard_charts_are_inline_svg_without_style(reviewed, as_user):
    response = as_user("penny").get(reverse("frontend:privacy_dashboard"))
    body = text(response)
    assert body.count("<svg") == 2 and '<rect class="bar series-0"' in body and 'class="bar series-denied"' in body
    assert "三条市 福祉課" in body  # the legend names the agencies
    assert response.context["stats"].open_flags >= 1
    assert not re.search(r"\sstyle=", body) and "<style" not in body and not re.search(r"\son[a-z]+=", body)


@pytest.mark.parametrize(("name", "args"), CONSOLE_PAGES)
def test_console_pages_carry_the_strict_csp_and_label_every_control(reviewed, as_user, name, args):
    response = as_user("penny").get(_url(reviewed, name, args))
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    body = text(response)
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert not re.search(r"\sstyle=", body) and "<style" not in body and not re.search(r"\son[a-z]+=", body)
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', body))
    hidden = set(re.findall(r'<input[^>]*type="hidden"[^>]*id="([^"]+)"', body))
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', body))
    assert ids - hidden <= labelled


def test_console_forms_require_the_csrf_token(reviewed):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, reviewed.users["penny"])
    flag = _flag()
    for url, data in (
        (reverse("frontend:privacy_flag_note", args=[flag.id]), {"note": "x"}),
        (reverse("frontend:privacy_export_start"), {"encoding": "utf-8-sig"}),
        (reverse("frontend:privacy_flags_detect"), {}),
        (
            reverse("frontend:break_glass"),
            {"name_kana": "ヤマダ タロウ", "birth_date": "1948-04-01", "reason": "x" * 10},
        ),
    ):
        assert client.post(url, data).status_code == 403, url
    assert not FlagNote.objects.exists() and not AuditExport.objects.exists()


def test_console_in_english(reviewed, as_user):
    penny = as_user("penny")
    penny.post(reverse("set_language"), {"language": "en"}, HTTP_REFERER="http://testserver/")
    body = text(penny.get(reverse("frontend:privacy_events"), {"client": str(reviewed.client.id)}))
    assert "Audit log search" in body and "Emergency access" in body and "Listed" in body


# --- 検索語の照合 (did anyone search for this name?) ---------------------------------------------------------


def test_the_officer_finds_a_search_by_name_without_the_name_in_a_url_or_the_log(cast, as_user):
    selectors.client_list(actor=cast.actor("alice"), q="やまだ")
    searched = AuditEvent.objects.filter(action="client.search").latest("seq")
    penny = as_user("penny")
    url = reverse("frontend:privacy_terms")
    form = penny.get(url)
    assert form.status_code == 200 and 'method="post"' in text(form)
    response = penny.post(url, {"term": "ヤマダ"})  # katakana: normalised like the client search
    body = text(response)
    assert response.status_code == 200 and f"#{searched.seq}" in body and "alice" in body
    for link in re.findall(r'(?:href|action|hx-get|hx-push-url)="([^"]*)"', body):
        assert "ヤマダ" not in link and "%E3%83%A4" not in link.upper()
    audited = AuditEvent.objects.filter(action="audit.term_search").latest("seq")
    assert audited.actor_username == "penny" and audited.details["count"] == 1
    assert "ヤマダ" not in str(audited.details) and "やまだ" not in str(audited.details)


def test_term_search_is_refused_to_caseworkers(cast, as_user):
    alice = as_user("alice")
    assert alice.post(reverse("frontend:privacy_terms"), {"term": "やまだ"}).status_code == 403
    assert alice.get(reverse("frontend:privacy_terms")).status_code == 403
    assert AuditEvent.objects.filter(action="audit.term_search", outcome="denied").count() == 1
    assert AuditEvent.objects.filter(action="audit.view", outcome="denied", actor_username="alice").count() == 1


def test_the_dashboard_shows_the_latest_signed_digest(cast, as_user):
    from audit.anchors import publish_digest
    from audit.canonical import GENESIS_HASH
    from audit.models import AuditSeal

    # A seal row stands in for a sealing run (on PostgreSQL this test's own events cannot be sealed before commit).
    AuditSeal.objects.create(
        first_seq=1,
        last_seq=1,
        count=1,
        seqs="1",
        digests=b"\0" * 8,
        prev_hash=GENESIS_HASH,
        seal_hash="a" * 64,
        created_at=timezone.now(),
    )
    digest = publish_digest()
    penny = as_user("penny")
    body = text(penny.get(reverse("frontend:privacy_dashboard")))
    assert 'data-testid="audit-digest"' in body and digest.seal_hash in body and "署名は正しい" in body
    penny.cookies["django_language"] = "en"
    english = text(penny.get(reverse("frontend:privacy_dashboard")))
    assert "Signed digest" in english and "Signature valid" in english and "署名" not in english


def test_a_client_page_load_shows_in_the_disclosure_report_as_a_read_of_the_records(reviewed, as_user):
    """The browser's client page is one audited read (``client.view``); the report and its CSV still say that the
    records (支援記録) were read, not only the profile, and count it once."""
    bob = as_user("bob")
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    assert bob.get(reverse("frontend:client_detail", args=[reviewed.client.id])).status_code == 200
    (page_read,) = AuditEvent.objects.filter(seq__gt=before, actor_username="bob")
    params = _disclosure_params(reviewed)
    response = as_user("penny").get(reverse("frontend:privacy_disclosure"), params)
    rows = [r for r in response.context["rows"] if r.event.seq == page_read.seq]
    assert len(rows) == 1
    assert "基本情報の閲覧（基本情報、共有先、支援記録）" in text(response)
    csv_rows = privacy_csv.disclosure_rows(rows)
    assert csv_rows[0][3] == "bob" and csv_rows[0][4] == "基本情報の閲覧（基本情報、共有先、支援記録）"
