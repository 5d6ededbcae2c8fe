"""機関管理 → kintone から移行: upload → dry run (the task, eager) → report → confirm → the real run → report CSV;
who may; bad input refused with nothing changed; the uploaded files encrypted at rest and removed when done."""

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from cases.actions import CaseAction
from cases.import_uploads import import_files_expire
from cases.models import Client as CaseClient
from cases.models import ImportRun
from tests.mfa import sign_in

pytestmark = pytest.mark.django_db

NAME = "移行花子"
FIXTURES = Path(__file__).resolve().parent.parent / "kintone" / "fixtures"
MAPPING = """
[app]
id = "42"
record_id = "$id"

[client]
name = "氏名"
name_kana = "フリガナ"
birth_date = "生年月日"
"""


def _records(*people: tuple[str, str, str, str]) -> bytes:
    """A kintone REST export: (record id, name, kana, birth date) per record."""
    records = [
        {
            "$id": {"type": "__ID__", "value": rid},
            "$revision": {"type": "__REVISION__", "value": "1"},
            "氏名": {"type": "SINGLE_LINE_TEXT", "value": name},
            "フリガナ": {"type": "SINGLE_LINE_TEXT", "value": kana},
            "生年月日": {"type": "DATE", "value": born},
        }
        for rid, name, kana, born in people
    ]
    return json.dumps({"records": records}, ensure_ascii=False).encode("utf-8")


RECORDS = _records(("1", NAME, "イコウハナコ", "1950-04-01"), ("2", "移行太郎", "イコウタロウ", "1948-01-02"))


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def import_storage(settings, tmp_path):
    """The uploads are stored in a directory of the test's own (STORAGES["attachments"])."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "store"), "base_url": None},
        },
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return tmp_path / "store"


def _stored(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()] if store.exists() else []


def _as(cast, name: str) -> Client:
    return sign_in(Client(), cast.users[name])


def _upload(client: Client, *, records=RECORDS, mapping=MAPPING, comments: bytes | None = None, **extra):
    data = {"records": SimpleUploadedFile("records.json", records, content_type="application/json")}
    if mapping is not None:
        data["mapping_text"] = mapping
    if comments is not None:
        data["comments"] = SimpleUploadedFile("comments.zip", comments, content_type="application/zip")
    data.update(extra)
    return client.post(reverse("frontend:import_list"), data)


def _events(action) -> list:
    return list(AuditEvent.objects.filter(action=str(action)).order_by("seq"))


def test_agency_page_links_to_the_import(cast):
    page = _as(cast, "ada").get(reverse("frontend:agency_admin"))
    assert reverse("frontend:import_list") in page.content.decode()
    listing = _as(cast, "ada").get(reverse("frontend:import_list"))
    assert listing.status_code == 200
    assert "kintone から移行" in listing.content.decode()


def test_upload_dry_run_report_confirm_and_download(cast, import_storage, django_capture_on_commit_callbacks):
    ada = _as(cast, "ada")
    before = CaseClient.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(ada, comments=_zip({"1.json": b'{"comments": []}'}))
    assert response.status_code == 302, response.content.decode()[:2000]
    dry = ImportRun.objects.get()
    assert dry.dry_run and dry.status == "done", dry.error
    assert CaseClient.objects.count() == before  # a dry run registers nobody
    assert set(dry.files) == {"records", "comments"}

    # Stored encrypted: the export's name is in no stored byte.
    stored = _stored(import_storage)
    assert len(stored) == 2
    for path in stored:
        assert NAME.encode("utf-8") not in path.read_bytes()
        assert b"records" not in path.read_bytes()

    page = ada.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 200
    assert "登録" in text and "この内容で取り込む" in text
    assert NAME not in text  # the report names records and case numbers, never a person
    assert _events(CaseAction.IMPORT_REPORT)[-1].outcome == "allowed"

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = ada.post(reverse("frontend:import_confirm", args=[dry.pk]))
    assert confirmed.status_code == 302
    real = ImportRun.objects.get(dry_run=False)
    assert real.carries_out_id == dry.pk
    assert real.status == "done", real.error
    assert CaseClient.objects.count() == before + 2
    # The files went with the confirmation and were deleted after the real run.
    dry.refresh_from_db()
    real.refresh_from_db()
    assert dry.files == {} and real.files == {}
    assert _stored(import_storage) == []

    # Confirming twice is refused, nothing more is created.
    again = ada.post(reverse("frontend:import_confirm", args=[dry.pk]), follow=True)
    assert "すでに取り込みました" in again.content.decode()
    assert ImportRun.objects.filter(dry_run=False).count() == 1

    download = ada.get(reverse("frontend:import_report_csv", args=[real.pk]))
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffkintoneレコード,")
    assert download["Content-Disposition"].startswith('attachment; filename="')
    assert "filename*=UTF-8''" in download["Content-Disposition"]
    assert download["Cache-Control"] == "private, no-store"
    event = _events(CaseAction.IMPORT_REPORT)[-1]
    assert event.details["kind"] == "csv"
    assert event.target_id == str(real.pk)
    created = {str(pk) for pk in CaseClient.objects.filter(import_origin__run=real).values_list("pk", flat=True)}
    assert len(created) == 2
    assert set(event.client_ids) == created  # the clients the report names, by their case numbers
    assert NAME not in body


@pytest.mark.parametrize("who", ["alice", "sam", "penny", "olga"])
def test_others_are_refused_and_nothing_is_created(cast, who, import_storage, django_capture_on_commit_callbacks):
    client = _as(cast, who)
    assert client.get(reverse("frontend:import_list")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client)
    assert response.status_code == 403
    assert not ImportRun.objects.exists()
    assert _stored(import_storage) == []
    denied = [e for e in AuditEvent.objects.filter(outcome="denied") if e.action.startswith("import.")]
    assert denied


def test_another_agencys_run_is_not_found(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _upload(_as(cast, "ada"))
    run = ImportRun.objects.get()
    otis = _as(cast, "otis")  # the office's agency administrator
    for name in ("import_detail", "import_status", "import_report_csv"):
        assert otis.get(reverse(f"frontend:{name}", args=[run.pk])).status_code == 404
    assert otis.post(reverse("frontend:import_confirm", args=[run.pk])).status_code == 404
    assert not ImportRun.objects.filter(dry_run=False).exists()
    missing = _as(cast, "ada").get(reverse("frontend:import_detail", args=["not-a-run"]))
    assert missing.status_code == 404
    denied = AuditEvent.objects.filter(outcome="denied", reason="not_found", target_id=str(run.pk))
    assert denied.count() >= 4


def test_a_bad_mapping_shows_the_errors_and_creates_no_run(cast, import_storage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(_as(cast, "ada"), mapping="[client\nname = ")
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not ImportRun.objects.exists()
    assert _stored(import_storage) == []


def test_a_one_line_mapping_never_names_a_file_on_the_server(cast, tmp_path):
    """The mapping loader reads a one-line string as a file name (the command's --mapping); pasted text is TOML."""
    secret = tmp_path / "mapping.toml"
    secret.write_text(MAPPING, encoding="utf-8")
    response = _upload(_as(cast, "ada"), mapping=str(secret))
    assert response.status_code == 400
    assert "TOML の書式が正しくありません" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_a_missing_mapping_and_a_missing_file_are_form_errors(cast):
    ada = _as(cast, "ada")
    response = _upload(ada, mapping=None)
    assert response.status_code == 400
    assert "対応表を指定してください" in response.content.decode()
    response = ada.post(reverse("frontend:import_list"), {"mapping_text": MAPPING})
    assert response.status_code == 400
    assert "レコードのファイルを選んでください" in response.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    "entries",
    [
        {"../evil.json": b"{}"},
        {"/etc/evil.json": b"{}"},
        {"a/b/c/evil.json": b"{}", "x.json": b"{}"},
        {"evil.sh": b"echo"},
    ],
    ids=["parent", "absolute", "too-deep", "not-json"],
)
def test_a_zip_that_leaves_its_folder_is_refused(cast, entries, import_storage):
    response = _upload(_as(cast, "ada"), comments=_zip(entries))
    assert response.status_code == 400
    assert "コメント" in response.content.decode()
    assert not ImportRun.objects.exists()
    assert _stored(import_storage) == []


def test_a_file_that_is_not_a_zip_is_refused(cast):
    response = _upload(_as(cast, "ada"), comments=b"not a zip")
    assert response.status_code == 400
    assert "ZIP として読めません" in response.content.decode()


def test_a_zipped_folder_is_unpacked_inside_it(tmp_path):
    from cases.import_uploads import unpack_comments

    data = _zip({"comments/1.json": b"{}", "comments/2/a.json": b"{}", "__MACOSX/._1.json": b"x"})
    unpack_comments(io.BytesIO(data), tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.json")) == ["1.json", "2/a.json"]


def test_an_unconfirmed_dry_run_loses_its_files_after_a_day(cast, import_storage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _upload(_as(cast, "ada"))
    run = ImportRun.objects.get()
    assert _stored(import_storage)
    assert import_files_expire() == 0
    ImportRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        assert import_files_expire() == 1
    assert _stored(import_storage) == []
    page = _as(cast, "ada").get(reverse("frontend:import_detail", args=[run.pk])).content.decode()
    assert "保存期間が過ぎました" in page
    assert "この内容で取り込む" not in page


def test_progress_polls_while_pending(cast, settings):
    """A run waiting for its worker shows the progress, polled; the poll reloads the page once it is over."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    ada = _as(cast, "ada")
    _upload(ada)  # no commit callbacks run: the task was never queued, the run is pending
    run = ImportRun.objects.get()
    assert run.status == "pending"
    page = ada.get(reverse("frontend:import_detail", args=[run.pk])).content.decode()
    assert reverse("frontend:import_status", args=[run.pk]) in page and 'hx-trigger="every 2s"' in page
    ImportRun.objects.filter(pk=run.pk).update(status="done")
    poll = ada.get(reverse("frontend:import_status", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and poll["HX-Refresh"] == "true"


def test_the_upload_bound_is_larger_for_the_import(settings):
    from tsunagu.uploads import IMPORT_UPLOAD_PATH, upload_limit

    assert reverse("frontend:import_list") == IMPORT_UPLOAD_PATH
    settings.IMPORT_MAX_UPLOAD = 300 * 1024 * 1024
    assert upload_limit(IMPORT_UPLOAD_PATH) > 300 * 1024 * 1024
    assert upload_limit("/clients/x/entries/") == 2 * django_settings.ATTACHMENT_MAX_ENTRY_BYTES


def test_nginx_takes_the_largest_import_upload():
    """The proxy lets an import upload through up to where the application stops it, and a little more."""
    import re

    from tsunagu.uploads import IMPORT_UPLOAD_PATH, upload_limit

    conf = (Path(django_settings.BASE_DIR) / "deploy" / "nginx" / "tsunagu.conf").read_text(encoding="utf-8")
    block = re.search(r"location = " + re.escape(IMPORT_UPLOAD_PATH) + r" \{(.*?)\}", conf, re.S)
    assert block is not None
    limit = int(re.search(r"client_max_body_size (\d+)m;", block.group(1)).group(1)) * 1024 * 1024
    bound = upload_limit(IMPORT_UPLOAD_PATH)
    assert bound < limit <= bound + 2 * 1024 * 1024


def _zip_folder(folder: Path) -> bytes:
    """The folder zipped as a whole, as Explorer's 「圧縮フォルダーに送る」 does (its name around every file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


EXAMPLE_MAPPING = Path(django_settings.BASE_DIR) / "docs" / "kintone-mapping.example.toml"


@pytest.mark.parametrize(
    ("records", "record_id"), [("records.json", "$id"), ("records_sjis.csv", "レコード番号")], ids=["json", "csv"]
)
def test_the_fixtures_dry_run_with_the_example_mapping(cast, records, record_id, django_capture_on_commit_callbacks):
    """kintone's own formats and the documented mapping, through the browser: the dry run reports each record with
    its outcome and reason in Japanese (record 31 has no date of birth), registers nobody, and keeps its files."""
    mapping = EXAMPLE_MAPPING.read_bytes().replace(b'record_id = "$id"', f'record_id = "{record_id}"'.encode())
    ada = _as(cast, "ada")
    before = CaseClient.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = ada.post(
            reverse("frontend:import_list"),
            {
                "records": SimpleUploadedFile(records, (FIXTURES / records).read_bytes()),
                "comments": SimpleUploadedFile("comments.zip", _zip_folder(FIXTURES / "comments")),
                "mapping_file": SimpleUploadedFile("mapping.toml", mapping),
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    run = ImportRun.objects.get()
    assert run.status == "done", run.error
    assert run.total and run.processed == run.total
    assert CaseClient.objects.count() == before
    text = ada.get(response["Location"]).content.decode()
    assert "生年月日なし" in text  # record 31
    assert "この内容で取り込む" in text
    csv_text = b"".join(ada.get(reverse("frontend:import_report_csv", args=[run.pk])).streaming_content).decode()
    assert csv_text.count("\r\n") >= 1 + run.total


def test_a_task_delivered_twice_does_the_work_once(cast):
    from cases.import_uploads import import_carry_out

    _upload(_as(cast, "ada"))  # commit callbacks not run: the run waits for its task
    run = ImportRun.objects.get()
    assert import_carry_out(run_id=str(run.pk)).status == "done"
    assert import_carry_out(run_id=str(run.pk)) is None
    assert import_carry_out(run_id="not-a-run") is None


def test_a_run_whose_starter_is_no_longer_the_administrator_fails(
    cast, import_storage, django_capture_on_commit_callbacks
):
    from agencies.models import Staff
    from cases.import_uploads import import_carry_out

    _upload(_as(cast, "ada"))
    run = ImportRun.objects.get()
    Staff.objects.filter(user=cast.users["ada"]).update(role="caseworker")
    with django_capture_on_commit_callbacks(execute=True):
        import_carry_out(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == "failed" and run.error
    assert run.files == {}
    assert _stored(import_storage) == []
    assert AuditEvent.objects.filter(action=str(CaseAction.IMPORT_RUN), outcome="denied").exists()


def test_a_run_whose_task_was_lost_is_queued_again_by_beat(cast, settings):
    """The request committed but its task never reached a worker (a broker outage): the pending row is the durable
    record, and the requeue task (beat, every minute) queues it again once it has waited long enough."""
    from cases.import_uploads import import_requeue

    settings.CELERY_TASK_ALWAYS_EAGER = True
    ada = _as(cast, "ada")
    _upload(ada)  # no commit callbacks run: the task was never queued
    run = ImportRun.objects.get()
    assert import_requeue() == 0 and ImportRun.objects.get().status == "pending"  # not waited long enough yet
    ImportRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert import_requeue() == 1
    run.refresh_from_db()
    assert run.status == "done" and run.counts["created"] == 2
    assert import_requeue() == 0  # done: nothing more to queue


def test_the_requeue_runs_every_minute():
    assert django_settings.CELERY_BEAT_SCHEDULE["import-requeue"]["task"] == "cases.tasks.requeue_imports"
