"""機関管理 → kintone から移行 in a real browser (Chromium, Japanese, desktop 1366×900 and tablet 820×1180): the
agency administrator uploads the fixture export (records.json, the comments as a ZIP, the documented mapping with
the cast's agencies), watches the dry run wait for its worker, reads its report (outcomes and reasons in Japanese,
the skipped records), confirms it, watches the real run finish, downloads its report as CSV; a caseworker then
finds the imported entries on the client's timeline, marked as moved from kintone, with an unmapped author's name.
Screenshots go to test-artifacts/screenshots/."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from cases import import_uploads
from cases.models import Client
from tests.frontend.conftest import both_viewports, shot, viewport_name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(django_settings.BASE_DIR) / "tests" / "kintone" / "fixtures"
EXAMPLE_MAPPING = Path(django_settings.BASE_DIR) / "docs" / "kintone-mapping.example.toml"

# The example mapping's kintone organizations and users, pointed at the cast's agencies and people (tests/cast.py).
# takahashi.ryo (高橋 亮) is left out: an author who is no Tsunagu user, kept by name.
CAST_CODES = [
    ('"kourei-kaigo" = "kourei"\n', '"kourei-kaigo" = "kaigo"\n'),
    ('"houkatsu-ranan" = "houkatsu-ranan"\n', '"houkatsu-ranan" = "houkatsu"\n'),
    ('"himawari" = "himawari"\n', '"himawari" = "soudan"\n'),
    ('"tanaka.misaki" = "tanaka"\n', '"tanaka.misaki" = "alice"\n'),
    ('"sato.daiki" = "sato"\n', '"sato.daiki" = "bob"\n'),
    ('"takahashi.ryo" = "takahashi"\n', ""),
]
CSV_HEADER = "kintoneレコード,位置,対象,結果,理由,内容,ケース番号,追加する記録,追加する共有"


def cast_mapping() -> str:
    text = EXAMPLE_MAPPING.read_text(encoding="utf-8")
    for old, new in CAST_CODES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def comments_zip() -> bytes:
    """The comments folder zipped as a whole, as Explorer's 「圧縮フォルダーに送る」 does."""
    folder = FIXTURES / "comments"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"comments/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


@pytest.fixture
def worker(settings, tmp_path, monkeypatch):
    """The uploads stored in the test's own directory, and a worker the test runs: the live server queues each run
    (after commit, as in production) and the test carries it out when it has seen the run wait, so that the page's
    progress is shown before its report (eager Celery would finish the run inside the upload's request)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "store"), "base_url": None},
        },
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    queued: list = []
    queue = import_uploads._queue
    monkeypatch.setattr(import_uploads, "_queue", queued.append)

    def work() -> None:
        assert len(queued) == 1, queued
        queue(queued.pop())  # the task, eager: the run is carried out here

    return work


def assert_no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


@both_viewports
def test_an_administrator_moves_a_kintone_app_over(cast, open_as, live_server, viewport, worker):
    ada = open_as("ada")
    label = viewport_name(ada)
    expect(ada.get_by_role("heading", name="機関管理", level=1)).to_be_visible()
    ada.get_by_role("link", name="kintone から移行").click()
    expect(ada.get_by_role("heading", name="kintone から移行", level=1)).to_be_visible()
    expect(ada.get_by_text("まだ取込はありません。")).to_be_visible()

    ada.get_by_label("レコードのファイル").set_input_files(FIXTURES / "records.json")
    ada.get_by_label("コメントの ZIP（任意）").set_input_files(
        {"name": "comments.zip", "mimeType": "application/zip", "buffer": comments_zip()}
    )
    ada.get_by_label("または対応表を貼り付け").fill(cast_mapping())
    assert_no_sideways_scroll(ada)
    shot(ada, f"import-upload-{label}")
    ada.get_by_role("button", name="試行する（まだ取り込みません）").click()

    # The dry run waits for its worker: the progress, polled.
    expect(ada.get_by_role("heading", name="kintone 取込の試行（ドライラン）", level=1)).to_be_visible()
    expect(ada.get_by_role("status").filter(has_text="アップロードしました")).to_be_visible()
    progress = ada.locator("#import-progress")
    expect(progress).to_contain_text("開始を待っています…")
    expect(ada.get_by_label("進捗")).to_be_visible()
    shot(ada, f"import-progress-{label}")
    worker()

    # Its report: four records would be registered, two are skipped with their reasons; nobody is registered yet.
    confirm = ada.get_by_role("button", name="この内容で取り込む")
    expect(confirm).to_be_visible(timeout=15_000)
    expect(progress).to_have_count(0)
    status = ada.get_by_role("region", name="状況")
    expect(status).to_contain_text("完了")
    expect(status.locator("dd").nth(0)).to_have_text("6 / 6")
    expect(status.locator("dd").nth(1)).to_have_text("4")  # 登録される
    expect(status.locator("dd").nth(4)).to_have_text("2")  # スキップ
    report = ada.get_by_role("region", name="レポート")
    rows = report.locator("tbody tr")
    expect(rows.filter(has=ada.locator("td.mono", has_text=re.compile(r"^12"))).first).to_contain_text("登録")
    # 31 has no date of birth; 40's is no real day (昭和65年) and it names an organization the mapping does not know.
    skipped = {"31": ["生年月日なし"], "40": ["日付を読めない", "minato-clinic"]}
    for record_id, reasons in skipped.items():
        row = rows.filter(has=ada.locator("td:first-child", has_text=re.compile(rf"^{record_id}(\s|$)"))).first
        expect(row).to_contain_text("スキップ")
        for reason in reasons:  # on screen at each viewport, not in a column a tablet hides
            expect(row.get_by_text(reason)).to_be_visible()
    expect(report).not_to_contain_text("髙木")  # the report names records and case numbers, never a person
    assert not Client.objects.filter(import_origin__isnull=False).exists()
    assert_no_sideways_scroll(ada)
    shot(ada, f"import-dry-run-{label}")

    # Confirmed: the real run waits for its worker, then finishes.
    confirm.click()
    expect(ada.get_by_role("heading", name="kintone 取込", exact=True, level=1)).to_be_visible()
    expect(ada.get_by_role("status").filter(has_text="取り込みを開始しました。")).to_be_visible()
    expect(progress).to_contain_text("開始を待っています…")
    worker()
    expect(ada.get_by_role("link", name="もとの試行を開く")).to_be_visible(timeout=15_000)
    expect(status).to_contain_text("完了")
    expect(status.locator("dd").nth(1)).to_have_text("4")  # 登録
    assert Client.objects.filter(import_origin__isnull=False).count() == 4
    assert_no_sideways_scroll(ada)
    shot(ada, f"import-report-{label}")

    with ada.expect_download() as caught:
        report.get_by_role("link", name="レポートをダウンロード (CSV)").click()
    download = caught.value
    assert re.fullmatch(r"kintone取込レポート_取込_\d{8}-\d{4}\.csv", download.suggested_filename), (
        download.suggested_filename
    )
    first_line = Path(download.path()).read_bytes().decode("utf-8").splitlines()[0]
    assert first_line == "\ufeff" + CSV_HEADER, first_line

    # The list: the dry run (taken) and the import.
    ada.get_by_role("navigation", name="パンくずリスト").get_by_role("link", name="kintone から移行").click()
    runs = ada.get_by_role("region", name="これまでの取込").locator("tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.filter(has_text="取込済み")).to_have_count(1)
    expect(runs.first).to_contain_text("登録 4・更新 0・変更なし 0・スキップ 2・エラー 0")
    assert_no_sideways_scroll(ada)
    shot(ada, f"import-list-{label}")

    # A caseworker of the agency opens an imported client: the entries keep their kintone author and are marked.
    takagi = Client.objects.get(import_origin__record_id="23")
    alice = open_as("alice")
    alice.goto(f"{live_server.url}/clients/{takagi.id}/")
    entry = alice.locator("#timeline li.entry").filter(has_text="高橋 亮").first
    expect(entry).to_be_visible()
    expect(entry.locator(".badge-imported")).to_have_text("kintone から移行")
    assert_no_sideways_scroll(alice)
    shot(alice, f"import-timeline-{label}")
