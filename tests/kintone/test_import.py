"""The audited import (``cases.services.imports``) and its command: dry run, idempotent and resumable runs,
skipped records, audit rows, and how imported entries read afterwards."""

import csv
import json
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agencies.actors import Actor
from audit.models import AuditEvent
from cases import selectors, services
from cases.models import (
    Client,
    ImportedClient,
    ImportedEntry,
    ImportReportLine,
    ImportRun,
    ImportRunStatus,
    Share,
    TimelineEntry,
)
from cases.services import imports
from tsunagu.errors import Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"

# The cast's agencies (tests/cast.py) stand in for the municipality's: 福祉課 (fukushi, the owner), 社協 (shakyo),
# 地域包括 (houkatsu). kintone's organization and user codes are the example mapping's.
MAPPING = """
[app]
id = "42"
record_id = "$id"

[client]
name = "氏名"
name_kana = "フリガナ"
birth_date = "生年月日"
address = "住所"
phone = "電話番号"
tags = ["支援区分"]
address_confidential = { field = "DV等支援措置", values = ["対象"] }

[client.tag_values]
"高齢者" = "高齢"

[[entries]]
from = "table"
table = "支援経過"
occurred_at = "対応日時"
body = ["対応内容"]
author = "対応者"
kind = { field = "対応種別", default = "note", values = { "訪問" = "visit", "電話" = "call" } }

[[entries]]
from = "comments"
kind = "liaison"

[agencies]
"fukushi-ka" = "fukushi"
"shakyo" = "shakyo"
"houkatsu-ranan" = "houkatsu"

[users]
"tanaka.misaki" = "alice"
"sato.daiki" = "bob"

[[shares]]
agency = "shakyo"
level = "append"
basis = "consent"
basis_note = "本人同意書（kintone 共有記録アプリ）による"

[[shares]]
from_field = "関係機関"
level = "read"
basis = "support_meeting"
basis_note = "重層的支援会議の構成機関として共有"
"""


def _text(value):
    return {"type": "SINGLE_LINE_TEXT", "value": value}


def _row(row_id, when, body, kind="訪問", author=("tanaka.misaki", "田中 美咲")):
    return {
        "id": row_id,
        "value": {
            "対応日時": {"type": "DATETIME", "value": when},
            "対応種別": {"type": "DROP_DOWN", "value": kind},
            "対応内容": {"type": "MULTI_LINE_TEXT", "value": body},
            "対応者": {"type": "USER_SELECT", "value": [{"code": author[0], "name": author[1]}] if author else []},
        },
    }


def _record(record_id, name, kana, birth, *, revision="1", rows=(), orgs=(), tags=("高齢者",), dv="", address=""):
    return {
        "$id": {"type": "__ID__", "value": str(record_id)},
        "$revision": {"type": "__REVISION__", "value": revision},
        "作成者": {"type": "CREATOR", "value": {"code": "tanaka.misaki", "name": "田中 美咲"}},
        "作成日時": {"type": "CREATED_TIME", "value": "2021-04-01T00:15:00Z"},
        "氏名": _text(name),
        "フリガナ": _text(kana),
        "生年月日": _text(birth),
        "住所": _text(address or "新潟県三条市旭町2-3-1"),
        "電話番号": _text("0256-33-0000"),
        "支援区分": {"type": "CHECK_BOX", "value": list(tags)},
        "DV等支援措置": {"type": "DROP_DOWN", "value": dv or None},
        "関係機関": {"type": "ORGANIZATION_SELECT", "value": [{"code": code, "name": code} for code in orgs]},
        "支援経過": {"type": "SUBTABLE", "value": list(rows)},
    }


def _records():
    return [
        _record(
            101,
            "山田 花子",
            "ヤマダ ハナコ",
            "昭和23年5月3日",
            orgs=["houkatsu-ranan"],
            rows=[
                _row("9001", "2021-04-05T01:00:00Z", "自宅を訪問。生活状況を確認した。"),
                _row("9002", "2021-05-10T05:30:00Z", "電話で体調を確認。", kind="電話", author=("kimura", "木村 一郎")),
            ],
        ),
        _record(
            102,
            "佐藤 一郎",
            "サトウ イチロウ",
            "S25.4.1",
            dv="対象",
            rows=[_row("9003", "2022-01-11T02:00:00Z", "面談。")],
        ),
        _record(103, "生年 不明", "セイネン フメイ", ""),  # no birth date
        _record(104, "和暦 誤り", "ワレキ アヤマリ", "昭和65年1月1日"),  # no such day
        _record(105, "鈴木 次郎", "スズキ ジロウ", "1950-07-01", orgs=["unknown-org"]),  # an organization not mapped
    ]


def _comments():
    return {
        "101": {
            "comments": [
                {
                    "id": "2",
                    "text": "田中 美咲 \n来週の会議で共有します。",
                    "createdAt": "2021-05-11T00:00:00Z",
                    "creator": {"code": "sato.daiki", "name": "佐藤 大輝"},
                    "mentions": [{"code": "tanaka.misaki", "type": "USER"}],
                },
                {
                    "id": "1",
                    "text": "包括にも連絡済みです。",
                    "createdAt": "2021-05-10T23:00:00Z",
                    "creator": {"code": "someone", "name": "外部 太郎"},
                    "mentions": [],
                },
            ],
            "older": False,
            "newer": False,
        }
    }


@pytest.fixture
def export(tmp_path):
    """Write an export like kintone's (records.json and one comment file per record) and the mapping."""

    def write(records=None, comments=None):
        (tmp_path / "records.json").write_text(
            json.dumps({"records": records if records is not None else _records(), "totalCount": None}),
            encoding="utf-8",
        )
        folder = tmp_path / "comments"
        folder.mkdir(exist_ok=True)
        for record_id, body in (comments if comments is not None else _comments()).items():
            (folder / f"{record_id}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        return tmp_path / "records.json", folder

    return write


def _actor(cast):
    return Actor(user=None, agency=cast.agencies["owner"], role="", is_privacy_officer=False, channel="cli")


def _run(cast, records, comments, *, dry_run=False, mapping=MAPPING):
    actor = _actor(cast)
    run = imports.import_start(actor=actor, mapping_text=mapping, dry_run=dry_run)
    return imports.import_kintone(actor=actor, run=run, records=records, comments=comments)


def _lines(run):
    return {(line.record_id, line.item): line for line in ImportReportLine.objects.filter(run=run)}


def _imported_clients():
    return Client.objects.filter(import_origin__isnull=False)


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(cast, export):
    records, comments = export()
    before = (Client.objects.count(), Share.objects.count(), TimelineEntry.objects.count())
    run = _run(cast, records, comments, dry_run=True)
    assert run.status == ImportRunStatus.DONE and run.total == 5 and run.processed == 5
    assert (Client.objects.count(), Share.objects.count(), TimelineEntry.objects.count()) == before
    assert not ImportedClient.objects.exists() and not ImportedEntry.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["import.client", "import.share", "import.entry"]).exists()
    lines = _lines(run)
    assert lines[("101", "")].outcome == "created"
    assert lines[("101", "")].entries == 4  # two table rows, two comments
    assert lines[("101", "")].shares == 2  # shakyo (stated for every record) and houkatsu (関係機関)
    assert (lines[("103", "")].outcome, lines[("103", "")].reason) == ("skipped", "missing_birth_date")
    assert (lines[("104", "")].outcome, lines[("104", "")].reason) == ("skipped", "bad_date")
    assert (lines[("105", "")].outcome, lines[("105", "")].reason) == ("skipped", "unknown_agency")
    assert run.counts["created"] == 2 and run.counts["skipped"] == 3
    summary = AuditEvent.objects.get(action="import.run")
    assert summary.details["dry_run"] is True and summary.channel == "cli"
    assert summary.actor_agency_code == "fukushi"


def test_an_import_creates_clients_shares_and_entries_with_their_original_dates_and_authors(cast, export):
    records, comments = export()
    run = _run(cast, records, comments)
    assert run.status == ImportRunStatus.DONE
    hanako = Client.objects.get(import_origin__record_id="101")
    assert (hanako.name, hanako.name_kana, hanako.birth_date) == ("山田 花子", "ヤマダ ハナコ", date(1948, 5, 3))
    assert hanako.tags == ["高齢"] and hanako.owner_agency.code == "fukushi"
    ichiro = Client.objects.get(import_origin__record_id="102")
    assert ichiro.birth_date == date(1950, 4, 1) and ichiro.address_confidential
    shares = {s.agency.code: s for s in Share.objects.filter(client=hanako)}
    assert set(shares) == {"fukushi", "shakyo", "houkatsu"}
    assert (shares["shakyo"].level, shares["shakyo"].basis) == ("append", "consent")
    assert shares["shakyo"].basis_note == "本人同意書（kintone 共有記録アプリ）による"
    assert (shares["houkatsu"].level, shares["houkatsu"].basis) == ("read", "support_meeting")
    entries = list(TimelineEntry.objects.filter(client=hanako).order_by("occurred_at"))
    assert [e.occurred_at for e in entries[:2]] == [
        datetime(2021, 4, 5, 1, 0, tzinfo=UTC),
        datetime(2021, 5, 10, 5, 30, tzinfo=UTC),
    ]
    assert [e.kind for e in entries] == ["visit", "call", "liaison", "liaison"]
    visit = entries[0]
    assert visit.author.username == "alice" and visit.agency.code == "fukushi"
    call = entries[1]  # by a kintone user the mapping does not know: kept by name, marked imported
    assert call.author is None and call.import_origin.author_name == "木村 一郎"
    bobs = entries[3]  # a comment by a user mapped to the 社協's bob: his agency's entry
    assert bobs.author.username == "bob" and bobs.agency.code == "shakyo"
    assert entries[2].import_origin.item_type == "comment" and entries[2].import_origin.item_id == "1"
    # Audited: one event per client, share and entry made, and a summary of the run.
    made = AuditEvent.objects.filter(action__startswith="import.").exclude(action="import.run")
    assert made.filter(action="import.client").count() == 2
    assert made.filter(action="import.share").count() == 2 + 1  # hanako: shakyo, houkatsu; ichiro: shakyo
    assert made.filter(action="import.entry").count() == 5
    assert set(made.values_list("channel", flat=True)) == {"cli"}
    entry_event = made.filter(action="import.entry", target_id=str(visit.pk)).get()
    assert entry_event.client_ids == [str(hanako.pk)]
    assert entry_event.details["record"] == "101" and entry_event.details["item"] == "row:支援経過:9001"
    summary = AuditEvent.objects.get(action="import.run")
    assert summary.details["dry_run"] is False and summary.details["n_created"] == 2


def test_a_second_run_adds_nothing_and_a_changed_record_adds_only_what_is_new(cast, export):
    records, comments = export()
    _run(cast, records, comments)
    counts = (Client.objects.count(), Share.objects.count(), TimelineEntry.objects.count())
    events = AuditEvent.objects.filter(action__startswith="import.").exclude(action="import.run").count()
    again = _run(cast, records, comments)
    assert (Client.objects.count(), Share.objects.count(), TimelineEntry.objects.count()) == counts
    assert AuditEvent.objects.filter(action__startswith="import.").exclude(action="import.run").count() == events
    assert again.counts["unchanged"] == 2 and again.counts["entries"] == 0

    data = _records()
    data[0]["$revision"]["value"] = "2"
    data[0]["住所"]["value"] = "新潟県三条市元町1-1"
    data[0]["支援経過"]["value"].append(_row("9010", "2023-02-01T01:00:00Z", "再訪問。"))
    more = _comments()
    more["101"]["comments"].insert(0, {**more["101"]["comments"][0], "id": "3", "text": "了解しました。"})
    records, comments = export(data, more)
    third = _run(cast, records, comments)
    line = _lines(third)[("101", "")]
    assert (line.outcome, line.entries, line.shares) == ("updated", 2, 0)
    hanako = Client.objects.get(import_origin__record_id="101")
    assert hanako.address == "新潟県三条市元町1-1"
    assert TimelineEntry.objects.count() == counts[2] + 2
    update = AuditEvent.objects.filter(action="import.client", details__created=False).get()
    assert update.details["fields"] == ["address"]


def test_an_interrupted_run_is_continued_by_running_it_again(cast, export, monkeypatch):
    records, comments = export()
    real = imports._import_one
    seen = []

    def crash_on_the_second(*args, **kwargs):
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "_import_one", crash_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        _run(cast, records, comments)
    run = ImportRun.objects.get()
    assert run.status == ImportRunStatus.INTERRUPTED and run.processed == 1
    assert _imported_clients().count() == 1
    assert AuditEvent.objects.get(action="import.run").outcome == "error"
    monkeypatch.setattr(imports, "_import_one", real)
    again = _run(cast, records, comments)
    assert again.counts == {**again.counts, "unchanged": 1, "created": 1}
    assert _imported_clients().count() == 2
    assert ImportedEntry.objects.count() == 5 and ImportedEntry.objects.values("item_id").distinct().count() == 5


def test_a_likely_duplicate_of_a_client_the_owner_sees_is_skipped_one_it_cannot_see_is_not_named(cast, export):
    alice = cast.actor("alice")
    existing = services.client_create(actor=alice, name="山田 花子", name_kana="やまだ はなこ", birth_date="1948-05-03")
    charlie = cast.actor("charlie")  # 障がい者施設: the owner agency cannot see its clients
    services.client_create(actor=charlie, name="佐藤 一郎", name_kana="サトウ イチロウ", birth_date="1950-04-01")
    records, comments = export()
    run = _run(cast, records, comments)
    lines = _lines(run)
    assert (lines[("101", "")].outcome, lines[("101", "")].reason) == ("skipped", "duplicate")
    assert existing.case_number in lines[("101", "")].message
    assert lines[("102", "")].outcome == "created"  # not compared with a client hidden from the owner
    summary = AuditEvent.objects.get(action="import.run")
    assert summary.client_ids == [str(existing.id)]  # the report named it: an exposure, audited


def test_two_records_of_one_person_in_the_same_export_import_once(cast, export):
    twice = [
        _record(201, "山田 花子", "ヤマダ ハナコ", "1948-05-03"),
        _record(202, "山田 花子", "やまだ はなこ", "S23.5.3"),
    ]
    records, comments = export(twice, {})
    for dry_run in (True, False):
        run = _run(cast, records, comments, dry_run=dry_run)
        assert [line.outcome for line in run.report_lines.filter(item="")] == ["created", "skipped"]


def test_a_broken_record_is_reported_and_the_run_goes_on(cast, export):
    records, comments = export([{"氏名": _text("IDなし")}, *_records()[:1]], {})
    run = _run(cast, records, comments)
    assert run.status == ImportRunStatus.DONE
    outcomes = [line.outcome for line in run.report_lines.filter(item="")]
    assert outcomes == ["error", "created"]


def test_a_row_with_an_unreadable_date_is_left_out_and_reported(cast, export):
    bad = _record(
        301,
        "川口 さくら",
        "カワグチ サクラ",
        "平成元年1月8日",
        rows=[_row("1", "昨日", "?"), _row("2", "2020-01-01T00:00:00Z", "ok")],
    )
    records, comments = export([bad], {})
    run = _run(cast, records, comments)
    lines = _lines(run)
    assert lines[("301", "")].outcome == "created" and lines[("301", "")].entries == 1
    skipped = [line for line in run.report_lines.exclude(item="")]
    assert [(s.outcome, s.reason) for s in skipped] == [("item_skipped", "bad_date")]
    assert Client.objects.get(import_origin__record_id="301").birth_date == date(1989, 1, 8)


def test_imported_entries_read_with_their_author_and_origin_and_shares_grant_access(cast, export):
    records, comments = export()
    _run(cast, records, comments)
    hanako = Client.objects.get(import_origin__record_id="101")
    bob = cast.actor("bob")  # 社協: the share stated in the mapping
    page = selectors.timeline_list(actor=bob, client_id=hanako.pk)
    by_name = {e.author_display_name: e for e in page.items}
    assert by_name["木村 一郎"].imported_from == "kintone" and by_name["木村 一郎"].author_username == ""
    assert by_name["外部 太郎"].imported_from == "kintone"
    assert all(e.imported_from == "kintone" for e in page.items if e.kind in ("visit", "call", "liaison"))
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=hanako.pk)


def test_only_the_system_or_the_agency_administrator_imports(cast):
    # Caseworkers and supervisors do not; nor does an administrator who is a privacy officer doing no casework.
    for name in ("alice", "sam", "bob", "olga"):
        with pytest.raises(Forbidden):
            imports.import_start(actor=cast.actor(name), mapping_text=MAPPING, dry_run=True)
    assert AuditEvent.objects.filter(action="import.run", outcome="denied").count() == 4
    run = imports.import_start(actor=cast.actor("ada"), mapping_text=MAPPING, dry_run=True)
    assert run.agency.code == "fukushi" and run.started_by.username == "ada"


def test_a_mapping_with_problems_is_refused_before_anything_runs(cast):
    with pytest.raises(InvalidInput) as caught:
        imports.import_start(actor=_actor(cast), mapping_text="[app]\nid = 1\n[client]\nname = 3\n", dry_run=True)
    assert caught.value.errors["mapping"]
    assert not ImportRun.objects.exists()


def test_the_command_runs_a_dry_run_and_writes_its_report(cast, export, tmp_path):
    records, comments = export()
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    report = tmp_path / "report.csv"
    out = StringIO()
    call_command(
        "import_kintone",
        f"--records={records}",
        f"--comments={comments}",
        f"--mapping={mapping}",
        "--owner=fukushi",
        "--dry-run",
        f"--report={report}",
        stdout=out,
        stderr=StringIO(),
    )
    assert "dry run (nothing imported): 5 records" in out.getvalue()
    assert not _imported_clients().exists()
    text = report.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["kintoneレコード", "位置", "対象", "結果"]
    assert [r[3] for r in rows[1:] if not r[2]] == ["登録", "登録", "スキップ", "スキップ", "スキップ"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner=nowhere"], "unknown agency: nowhere"),
        (["--owner=fukushi", "--records=/no/such.json"], "records file not found"),
    ],
)
def test_the_command_refuses_bad_input_and_creates_nothing(cast, export, tmp_path, args, message):
    records, _ = export()
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("import_kintone", f"--records={records}", f"--mapping={mapping}", *args, stdout=StringIO())
    assert not ImportRun.objects.exists() and not _imported_clients().exists()


def test_the_command_lists_every_problem_of_a_mapping(cast, export, tmp_path):
    records, _ = export()
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[app]\nid = "1"\n[client]\nname = "氏名"\n[[entries]]\nfrom = "fax"\n', encoding="utf-8")
    with pytest.raises(CommandError, match="the mapping file has problems") as caught:
        call_command("import_kintone", f"--records={records}", f"--mapping={mapping}", "--owner=fukushi")
    assert len(str(caught.value).splitlines()) >= 3  # the missing fields and the unknown source, each on a line
    assert not ImportRun.objects.exists()


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kintone-mapping.example.toml"


@pytest.fixture
def demo_agencies(cast):
    """The example mapping's agencies that the cast does not have."""
    from agencies.services import agency_create

    system = Actor.system(channel="cli")
    for code, name, kind in (
        ("kourei", "三条市 高齢介護課", "city_division"),
        ("houkatsu-ranan", "地域包括支援センター嵐南", "support_center"),
        ("himawari", "相談支援事業所 ひまわり", "support_center"),
    ):
        agency_create(actor=system, code=code, name=name, kind=kind)


def test_the_fixture_exports_import_once_whichever_format_comes_first_or_again(cast, demo_agencies):
    """The REST API JSON with its comments, then the browser's Shift_JIS CSV and the command-line tool's UTF-8 tab
    CSV of the same app: the CSVs find every record and table row the JSON imported, and add nothing."""
    mapping = EXAMPLE.read_text(encoding="utf-8")
    first = _run(cast, FIXTURES / "records.json", FIXTURES / "comments", mapping=mapping)
    assert (first.counts["created"], first.counts["skipped"]) == (4, 2)
    births = dict(_imported_clients().values_list("import_origin__record_id", "birth_date"))
    assert births == {
        "12": date(1948, 5, 3),  # 昭和23年5月3日
        "15": date(1950, 4, 1),  # S25.4.1
        "23": date(1989, 1, 8),  # 平成元年1月8日
        "44": date(1952, 11, 20),
    }
    assert Client.objects.get(import_origin__record_id="23").address_confidential  # DV等支援措置 = 対象
    entries = ImportedEntry.objects.count()
    assert entries == first.counts["entries"] > 0
    assert ImportedEntry.objects.filter(item_type="comment", record_id="15").count() == 12  # two pages, merged
    for name in ("records_sjis.csv", "records_utf8bom_tab.csv"):
        again = _run(cast, FIXTURES / name, None, mapping=mapping)
        assert again.status == ImportRunStatus.DONE
        assert again.counts.get("created", 0) == 0 and again.counts["entries"] == 0, name
        assert ImportedEntry.objects.count() == entries
    assert _imported_clients().count() == 4


def test_a_truncated_export_fails_before_anything_is_imported(cast, demo_agencies):
    run = _run(cast, FIXTURES / "records_truncated.json", None, mapping=EXAMPLE.read_text(encoding="utf-8"))
    assert run.status == ImportRunStatus.FAILED and run.error
    assert not _imported_clients().exists()
    assert AuditEvent.objects.get(action="import.run").outcome == "error"


def test_a_field_changed_in_tsunagu_since_the_import_is_not_overwritten_by_a_later_one(cast, export):
    records, comments = export()
    _run(cast, records, comments)
    hanako = Client.objects.get(import_origin__record_id="101")
    services.client_update(actor=cast.actor("sam"), client_id=hanako.pk, changes={"phone": "0256-34-9999"})
    data = _records()
    data[0]["$revision"]["value"] = "5"
    data[0]["電話番号"]["value"] = "0256-35-0000"  # changed in kintone too: Tsunagu's correction wins
    data[0]["住所"]["value"] = "新潟県三条市元町1-1"  # changed in kintone only: followed
    records, comments = export(data, _comments())
    run = _run(cast, records, comments)
    hanako.refresh_from_db()
    assert (hanako.phone, hanako.address) == ("0256-34-9999", "新潟県三条市元町1-1")
    lines = _lines(run)
    assert lines[("101", "")].outcome == "updated"
    assert (lines[("101", "profile")].reason, lines[("101", "profile")].outcome) == (
        "edited_in_tsunagu",
        "item_skipped",
    )
    assert "phone" in lines[("101", "profile")].message
