"""The kintone readers on exports in kintone's own formats (tests/kintone/fixtures, described in its README) and on
generated edge cases. Pure: no database."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cases.kintone.mapping import load_mapping
from cases.kintone.model import BadRecord, Entity, KComment, KField, KRecord
from cases.kintone.readers import ExportError, count_records, read_comments, read_records

FIXTURES = Path(__file__).parent / "fixtures"
TABLES = {
    "支援経過": ["対応日時", "対応種別", "対応内容", "今後の方針", "対応者", "対応機関"],
    "家族構成": ["続柄", "家族氏名"],
}


def records_of(
    path: Path, tables: dict[str, list[str]] | None = None, record_id_column: str | None = None
) -> dict[str, KRecord]:
    out = {}
    for record in read_records(path, tables=tables, record_id_column=record_id_column):
        assert isinstance(record, KRecord), record
        out[record.record_id] = record
    return out


# --- JSON -------------------------------------------------------------------------------------------------------


def test_json_every_field_type_has_its_shape():
    records = records_of(FIXTURES / "records.json")
    assert list(records) == ["44", "40", "31", "23", "15", "12"]  # file order
    r = records["12"]
    assert r.revision == "3"
    assert r.where == "record 12"
    f = r.fields
    assert f["$id"] == KField("__ID__", "12")
    assert f["レコード番号"] == KField("RECORD_NUMBER", "12")
    assert f["作成者"] == KField("CREATOR", Entity("tanaka.misaki", "田中 美咲"))
    assert f["更新者"] == KField("MODIFIER", Entity("sato.daiki", "佐藤 大輝"))
    assert f["作成日時"] == KField("CREATED_TIME", "2021-04-01T00:15:00Z")
    assert f["更新日時"].value == "2021-05-10T08:02:11Z"
    assert f["氏名"] == KField("SINGLE_LINE_TEXT", "山本 トシ子")
    assert f["生年月日"] == KField("SINGLE_LINE_TEXT", "昭和23年5月3日")
    assert f["備考"].value == "耳が遠いので、訪問時は大きめの声で。\n午前中は通院していることが多い。"
    assert f["電話番号"] == KField("LINK", "0256-33-1234")
    assert f["支援区分"] == KField("CHECK_BOX", ["高齢者", "生活困窮"])
    assert f["相談経路"] == KField("MULTI_SELECT", ["窓口", "関係機関からの紹介"])
    assert f["カテゴリー"] == KField("CATEGORY", ["高齢者支援", "生活困窮者自立支援"])
    assert f["DV等支援措置"] == KField("RADIO_BUTTON", "非対象")
    assert f["関係機関"] == KField(
        "ORGANIZATION_SELECT",
        [
            Entity("fukushi-ka", "三条市 福祉課"),
            Entity("shakyo", "三条市社会福祉協議会"),
            Entity("houkatsu-ranan", "地域包括支援センター らなん"),
        ],
    )
    assert f["担当グループ"] == KField("GROUP_SELECT", [Entity("soudan-g", "相談支援グループ")])
    assert f["作業者"].type == "STATUS_ASSIGNEE"
    assert f["作業者"].value == [Entity("tanaka.misaki", "田中 美咲"), Entity("sato.daiki", "佐藤 大輝")]
    assert f["ステータス"] == KField("STATUS", "支援中")
    assert f["初回相談日"] == KField("DATE", "2021-04-01")
    assert f["相談受付時刻"] == KField("TIME", "09:15")
    assert f["世帯人数"] == KField("NUMBER", "2")
    assert f["経過日数"] == KField("CALC", None)  # "" is None
    assert f["添付ファイル"] == KField("FILE", ["初回面談シート_山本.pdf", "家計表.xlsx"])
    assert "支援経過" not in f and "家族構成" not in f  # tables are in .tables


def test_json_subtable_rows():
    records = records_of(FIXTURES / "records.json")
    rows = records["12"].tables["支援経過"]
    assert [row.id for row in rows] == ["48291", "48292", "48293"]
    first = rows[0].fields
    assert first["対応日時"] == KField("DATETIME", "2021-04-01T01:00:00Z")
    assert first["対応種別"] == KField("DROP_DOWN", "相談")
    assert first["対応内容"].type == "MULTI_LINE_TEXT"
    assert "\n長男" in first["対応内容"].value
    assert first["対応者"] == KField("USER_SELECT", [Entity("tanaka.misaki", "田中 美咲")])
    assert rows[1].fields["対応者"].value == [Entity("sato.daiki", "佐藤 大輝"), Entity("tanaka.misaki", "田中 美咲")]
    assert rows[2].fields["対応機関"] == KField("ORGANIZATION_SELECT", [])
    assert rows[2].fields["今後の方針"].value is None
    assert [row.id for row in records["12"].tables["家族構成"]] == ["901"]
    assert records["44"].tables == {"支援経過": []}
    # What the later stages are meant to catch is passed through as kintone gave it.
    assert records["31"].tables["支援経過"][1].fields["対応日時"].value == "2022-13-45T25:00:00Z"
    assert records["31"].fields["生年月日"].value is None
    assert records["40"].fields["生年月日"].value == "昭和65年1月1日"
    assert Entity("minato-clinic", "みなと在宅クリニック") in records["40"].fields["関係機関"].value


def test_json_bad_records_do_not_stop_the_stream():
    out = list(read_records(FIXTURES / "records_with_bad.json"))
    assert [type(r).__name__ for r in out] == ["KRecord", "BadRecord", "BadRecord", "BadRecord", "BadRecord", "KRecord"]
    bad = [r for r in out if isinstance(r, BadRecord)]
    assert [(b.where, b.record_id, b.reason) for b in bad] == [
        ("JSON 2件目", "", "bad_record"),
        ("JSON 3件目", "", "no_record_id"),
        ("record 77", "77", "bad_field"),
        ("record 78", "78", "bad_field"),
    ]
    assert "関係機関" in bad[2].message
    assert all(b.message for b in bad)
    assert count_records(FIXTURES / "records_with_bad.json") == 6


def test_json_record_number_when_no_id_and_named_id_field(tmp_path):
    path = tmp_path / "r.json"
    record = {"番号": {"type": "RECORD_NUMBER", "value": "SHIEN-7"}, "氏名": {"type": "SINGLE_LINE_TEXT", "value": "x"}}
    path.write_text(json.dumps({"records": [record]}, ensure_ascii=False), encoding="utf-8")
    assert [r.record_id for r in read_records(path)] == ["SHIEN-7"]
    assert [r.record_id for r in read_records(path, record_id_column="氏名")] == ["x"]


def test_json_bom_bare_list_numbers_and_unknown_types(tmp_path):
    path = tmp_path / "r.json"
    records = [
        {
            "$id": {"type": "__ID__", "value": 5},
            "金額": {"type": "NUMBER", "value": "AMOUNT"},
            "謎": {"type": "REFERENCE_TABLE", "value": [{"a": 1.5}]},
            "空": {"type": "USER_SELECT", "value": None},
            "明細": {"type": "SUBTABLE", "value": [{"value": {"x": {"type": "NUMBER", "value": "1"}}}]},
        }
    ]
    text = json.dumps(records).replace('"AMOUNT"', "1234.50")  # a number as written, not as a float
    path.write_bytes(b"\xef\xbb\xbf\n  " + text.encode())
    (record,) = read_records(path)
    assert isinstance(record, KRecord)
    assert record.record_id == "5"
    assert record.fields["金額"].value == "1234.50"
    assert record.fields["謎"].value == [{"a": "1.5"}]
    assert record.fields["空"].value == []
    assert record.tables["明細"][0].id == "pos:1"  # no row id: its position
    assert count_records(path) == 1


def test_json_truncated_raises_after_the_records_before_the_break():
    path = FIXTURES / "records_truncated.json"
    read = []
    with pytest.raises(ExportError, match="途中で壊れています"):
        for record in read_records(path):
            read.append(record)
    assert [r.record_id for r in read] == ["44", "40", "31"]
    with pytest.raises(ExportError):
        count_records(path)


def test_json_without_records_key_is_an_error(tmp_path):
    path = tmp_path / "comments.json"
    path.write_text(json.dumps({"comments": [], "older": False}), encoding="utf-8")
    with pytest.raises(ExportError, match="records"):
        list(read_records(path))
    empty = tmp_path / "empty.json"
    empty.write_text('{"records": [], "totalCount": "0"}', encoding="utf-8")
    assert list(read_records(empty)) == []
    assert count_records(empty) == 0


# --- CSV --------------------------------------------------------------------------------------------------------


def test_csv_browser_export_in_shift_jis_with_a_table():
    records = records_of(FIXTURES / "records_sjis.csv", tables=TABLES)
    assert list(records) == ["12", "15", "23", "31", "40"]
    r = records["12"]
    assert r.where == "record 12 (CSV 2行目)"
    assert r.fields["氏名"] == KField("", "山本 トシ子")
    assert r.fields["作成者"] == KField("", "tanaka.misaki")
    assert r.fields["支援区分"].value == "高齢者\n生活困窮"  # CHECK_BOX: a value a line
    assert r.fields["関係機関"].value == "fukushi-ka\nshakyo\nhoukatsu-ranan"
    assert r.fields["備考"].value == "耳が遠いので、訪問時は大きめの声で。\n午前中は通院していることが多い。"
    assert "レコードの開始行" not in r.fields and "対応日時" not in r.fields and "支援経過" not in r.fields
    assert set(r.tables) == {"支援経過"}  # 家族構成 is not in this export
    rows = r.tables["支援経過"]
    assert [row.id for row in rows] == ["48291", "48292", "48293"]
    assert rows[1].fields == {
        "対応日時": KField("", "2021-04-08 14:30"),
        "対応種別": KField("", "訪問"),
        "対応内容": KField(
            "",
            "社協と同行訪問。室内は片付いているが冷蔵庫にほとんど食品がない。\n"
            "フードバンクの利用を案内し、本人も希望。",
        ),
        "今後の方針": KField("", "緊急小口資金の申請を支援"),
        "対応者": KField("", "sato.daiki\ntanaka.misaki"),
        "対応機関": KField("", "shakyo"),
    }
    assert records["23"].fields["氏名"].value == "髙木 正"  # cp932, not plain Shift_JIS
    assert records["23"].tables["支援経過"][2].fields["今後の方針"].value == "次回 10/19～10/20 ①社協窓口"
    assert records["31"].fields["生年月日"].value is None
    assert count_records(FIXTURES / "records_sjis.csv") == 5


def test_csv_cli_export_utf8_bom_tab_two_tables():
    records = records_of(FIXTURES / "records_utf8bom_tab.csv", tables=TABLES)
    assert list(records) == ["12", "15", "23"]
    r = records["15"]
    assert r.revision == "5"
    assert r.fields["$id"].value == "15"
    assert r.fields["生年月日"].value == "S25.4.1"
    assert [row.id for row in r.tables["支援経過"]] == ["48501", "48502"]
    assert [(row.id, row.fields["続柄"].value, row.fields["家族氏名"].value) for row in r.tables["家族構成"]] == [
        ("911", "母", "渡辺 サチ"),
        ("912", "兄", "渡辺 浩二"),
    ]
    # Record 12: three 支援経過 rows, one 家族構成 row on the first line only.
    assert [row.id for row in records["12"].tables["支援経過"]] == ["48291", "48292", "48293"]
    assert [row.id for row in records["12"].tables["家族構成"]] == ["901"]
    assert records["23"].tables["家族構成"] == []
    assert records["12"].tables["支援経過"][0].fields["対応日時"].value == "2021-04-01T01:00:00Z"
    assert count_records(FIXTURES / "records_utf8bom_tab.csv") == 3


def test_csv_without_tables_argument_reads_record_fields_from_the_first_line():
    records = records_of(FIXTURES / "records_utf8bom_tab.csv")
    assert records["12"].tables == {}
    assert records["12"].fields["支援経過"].value == "48291"  # just a column now
    assert records["12"].fields["対応種別"].value == "相談"


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_csv_encodings_and_delimiters(tmp_path, encoding, delimiter):
    lines = [["レコード番号", "氏名", "メモ"], ["1", "髙橋 一郎", "一行目\r\n二行目"], ["2", "佐藤 ～", ""]]
    text = "".join(delimiter.join(f'"{value}"' for value in line) + "\r\n" for line in lines)
    path = write_csv(tmp_path / "x.csv", text, encoding)
    records = records_of(path)
    assert records["1"].fields == {
        "レコード番号": KField("", "1"),
        "氏名": KField("", "髙橋 一郎"),
        "メモ": KField("", "一行目\n二行目"),
    }
    assert records["2"].fields["メモ"].value is None
    assert records["2"].fields["氏名"].value == "佐藤 ～"
    assert count_records(path) == 2


def test_csv_utf8_detection_is_not_fooled_by_a_character_cut_at_the_sample_end(tmp_path):
    # "あ" is 3 bytes in UTF-8: pad so that the 64 KiB sample ends inside one.
    head = "レコード番号,メモ\n1,"
    pad = 64 * 1024 - len(head.encode()) - 1
    text = head + "x" * pad + "あいう\n2,え\n"
    path = write_csv(tmp_path / "x.csv", text, "utf-8")
    records = records_of(path)
    assert records["1"].fields["メモ"].value.endswith("あいう")
    assert records["2"].fields["メモ"].value == "え"


def test_csv_bad_lines_make_bad_records_and_the_reader_goes_on(tmp_path):
    text = (
        "*,$id,氏名,支援経過,対応種別\n"
        "*,1,一,11,相談\n"
        ",1,,12,訪問\n"
        "*,2,二,21\n"  # a column short
        ",2,,22,電話\n"
        "*,,名無し,31,相談\n"  # no record id
        "*,4,四,41,会議\n"
    )
    path = write_csv(tmp_path / "x.csv", text, "utf-8")
    out = list(read_records(path, tables={"支援経過": ["対応種別"]}))
    assert [type(r).__name__ for r in out] == ["KRecord", "BadRecord", "BadRecord", "KRecord"]
    assert [row.id for row in out[0].tables["支援経過"]] == ["11", "12"]
    assert out[1] == BadRecord("CSV 4行目", "2", "bad_row", out[1].message)
    assert "4行目の列の数" in out[1].message
    assert (out[2].where, out[2].reason) == ("CSV 6行目", "no_record_id")
    assert out[3].record_id == "4"
    assert count_records(path) == 4


def test_csv_undecodable_line_spoils_only_its_record(tmp_path):
    path = tmp_path / "x.csv"
    # UTF-8 (a long first line keeps the bad byte out of the 64 KiB sample), one line with bytes that do not decode.
    lines = ["*,$id,氏名\n", "*,0," + "x" * 70_000 + "\n", "*,1,一\n"]
    path.write_bytes("".join(lines).encode() + b"*,2,\xff\xfe\n" + "*,3,三\n".encode())
    out = list(read_records(path))
    assert [(type(r).__name__, r.record_id) for r in out] == [
        ("KRecord", "0"),
        ("KRecord", "1"),
        ("BadRecord", "2"),
        ("KRecord", "3"),
    ]
    assert "文字コード" in out[2].message


def test_csv_row_without_id_gets_its_line_number_and_empty_lines_add_no_rows(tmp_path):
    text = (
        "レコードの開始行\tレコード番号\t氏名\t支援経過\t対応種別\t家族構成\t続柄\n"
        "*\t5\t五\t\t相談\t\t\n"
        "\t5\t\t\t\t\t母\n"
        "\t5\t\t\t\t\t\n"
    )
    path = write_csv(tmp_path / "x.csv", text, "utf-8")
    (record,) = records_of(path, tables={"支援経過": ["対応種別"], "家族構成": ["続柄"]}).values()
    assert [row.id for row in record.tables["支援経過"]] == ["line:2"]
    assert [row.id for row in record.tables["家族構成"]] == ["line:3"]


def test_csv_duplicate_headers_and_missing_id_column(tmp_path):
    path = write_csv(tmp_path / "x.csv", "レコード番号,備考,備考\n1,a,b\n", "utf-8")
    assert records_of(path)["1"].fields["備考#2"].value == "b"
    path = write_csv(tmp_path / "y.csv", "氏名,住所\n山田,三条\n", "utf-8")
    with pytest.raises(ExportError, match="レコード ID の列"):
        list(read_records(path))
    assert [r.record_id for r in read_records(path, record_id_column="氏名")] == ["山田"]


def test_csv_lines_before_the_first_record_start(tmp_path):
    path = write_csv(tmp_path / "x.csv", "*,$id,氏名\n,1,一\n*,2,二\n", "utf-8")
    out = list(read_records(path))
    assert [(type(r).__name__, r.where) for r in out] == [
        ("BadRecord", "CSV 2行目"),
        ("KRecord", "record 2 (CSV 3行目)"),
    ]
    assert count_records(path) == 2


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"")
    with pytest.raises(ExportError):
        list(read_records(path))


# --- comments ---------------------------------------------------------------------------------------------------


def test_comments_one_file_with_mentions():
    result = read_comments(FIXTURES / "comments", "12")
    assert result.problems == []
    assert [c.id for c in result.comments] == ["1", "2", "3"]  # oldest first
    third = result.comments[2]
    assert third == KComment(
        id="3",
        text=third.text,
        created_at=datetime(2021, 4, 9, 0, 30, tzinfo=UTC),
        creator=Entity("tanaka.misaki", "田中 美咲"),
        mentions=(Entity("shakyo", "ORGANIZATION"),),
    )
    assert third.text.startswith("shakyo \n")
    assert result.comments[1].mentions == (Entity("tanaka.misaki", "USER"),)
    assert result.comments[0].mentions == ()


def test_comments_pages_are_merged_deduplicated_and_ordered():
    result = read_comments(FIXTURES / "comments", "15")
    assert result.problems == []
    assert [c.id for c in result.comments] == [str(n) for n in range(1, 13)]
    assert result.comments[9].mentions == (Entity("soudan-g", "GROUP"),)
    times = [c.created_at for c in result.comments]
    assert times == sorted(times)


def test_comments_directory_layout_and_bad_comments():
    result = read_comments(FIXTURES / "comments", "23")
    assert [c.id for c in result.comments] == ["2"]
    assert result.problems == [("1", result.problems[0][1])]
    assert "createdAt" in result.problems[0][1]
    broken = read_comments(FIXTURES / "comments", "31")
    assert broken.comments == []
    assert [key for key, _ in broken.problems] == ["31.json"]


def test_comments_missing_and_unsafe(tmp_path):
    assert read_comments(FIXTURES / "comments", "44").comments == []
    assert read_comments(tmp_path / "nowhere", "12").comments == []
    assert read_comments(FIXTURES / "comments", "../comments/12").comments == []
    # "1" does not pick up record 12's or 15's files
    assert read_comments(FIXTURES / "comments", "1").comments == []


def test_comments_times_are_utc(tmp_path):
    comment = {
        "id": "4",
        "text": "t",
        "createdAt": "2021-04-01T09:00:00+09:00",
        "creator": {"code": "sato.daiki", "name": ""},
        "mentions": [],
    }
    naive = dict(comment, id="5", createdAt="2021-04-01T09:00:00")
    (tmp_path / "9.json").write_text(json.dumps({"comments": [comment, naive, "x"]}), encoding="utf-8")
    result = read_comments(tmp_path, "9")
    assert [(c.id, c.created_at, c.creator) for c in result.comments] == [
        ("4", datetime(2021, 4, 1, 0, 0, tzinfo=UTC), Entity("sato.daiki", "sato.daiki"))
    ]
    assert [key for key, _ in result.problems] == ["5", "9.json#3"]


# --- streaming --------------------------------------------------------------------------------------------------


def big_json(path: Path, count: int) -> None:
    row = {"id": "1", "value": {"対応内容": {"type": "MULTI_LINE_TEXT", "value": "訪問。" * 20}}}
    with path.open("w", encoding="utf-8") as out:
        out.write('{"records": [')
        for n in range(count):
            record = {
                "$id": {"type": "__ID__", "value": str(n)},
                "氏名": {"type": "SINGLE_LINE_TEXT", "value": f"利用者 {n}"},
                "関係機関": {"type": "ORGANIZATION_SELECT", "value": [{"code": "shakyo", "name": "社協"}]},
                "支援経過": {"type": "SUBTABLE", "value": [row, row]},
            }
            out.write(("," if n else "") + json.dumps(record, ensure_ascii=False))
        out.write(f'], "totalCount": "{count}"}}')


def test_reading_a_large_json_export_keeps_memory_bounded(tmp_path):
    path = tmp_path / "big.json"
    big_json(path, 20_000)
    size = path.stat().st_size
    assert size > 15_000_000
    tracemalloc.start()
    try:
        seen = 0
        for record in read_records(path):
            assert isinstance(record, KRecord)
            seen += 1
        total = count_records(path)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total == 20_000
    # Loaded whole (json.loads), these records take over five times the file's size (86 MB for 16 MB); streamed,
    # reading and counting peak under 1 MB.
    assert peak < size / 10, (peak, size)


def test_reading_a_large_csv_export_keeps_memory_bounded(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="cp932", newline="") as out:
        out.write("*,$id,氏名,支援経過,対応内容\r\n")
        for n in range(20_000):
            out.write(f'*,{n},利用者,{n}1,"{"訪問。" * 40}\r\n二行目"\r\n,{n},,{n}2,電話\r\n')
    size = path.stat().st_size
    tracemalloc.start()
    try:
        seen = sum(1 for _ in read_records(path, tables={"支援経過": ["対応内容"]}))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count_records(path) == 20_000
    assert peak < size / 10, (peak, size)


# --- the fixtures through the example mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "record_id_column"),
    [("records.json", "$id"), ("records_sjis.csv", "レコード番号"), ("records_utf8bom_tab.csv", "$id")],
)
def test_fixtures_give_the_example_mapping_what_the_readme_says(name, record_id_column):
    """Each format of the same records plans the same: the README's 和暦, missing and impossible birth dates, the
    unknown organization and the bad row date reach the mapping from JSON and CSV alike."""
    mapping = load_mapping(Path(__file__).parents[2] / "docs" / "kintone-mapping.example.toml")
    plans = {}
    for record in read_records(FIXTURES / name, tables=mapping.tables(), record_id_column=record_id_column):
        assert isinstance(record, KRecord)
        assert mapping.missing_fields(record) == []
        comments = read_comments(FIXTURES / "comments", record.record_id).comments
        plans[record.record_id] = mapping.plan(record, comments, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert plans["12"].birth_date == date(1948, 5, 3)
    assert plans["15"].birth_date == date(1950, 4, 1)
    assert plans["23"].birth_date == date(1989, 1, 8)
    assert plans["23"].profile["address_confidential"] is True
    assert len(plans["12"].entries) == 3 + 3  # rows + comments
    assert len(plans["15"].entries) == 2 + 12
    assert [p.reason for p in plans["12"].problems + plans["15"].problems + plans["23"].problems] == []
    if "31" in plans:
        assert [p.reason for p in plans["31"].problems] == ["missing_birth_date"]
        assert [(p.reason, p.item) for p in plans["31"].skipped_items] == [("bad_date", "row 50012")]
        assert sorted(p.reason for p in plans["40"].problems) == ["bad_date", "unknown_agency"]
