"""The mapping file: the documented example loads, every mistake in a mapping is reported at once with where it is,
and ``Mapping.plan`` makes of a kintone record (from the JSON or the CSV alike) the client, shares and entries the
operator meant, leaving out with a reason what it cannot use."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cases import models
from cases.kintone import mapping as kmapping
from cases.kintone.dates import JST
from cases.kintone.mapping import Mapping, MappingError, load_mapping
from cases.kintone.model import Entity, KComment, KField, KRecord, KRow
from cases.kintone.plan import Problem, ShareSpec
from cases.services import validation

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "docs" / "kintone-mapping.example.toml"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

MINIMAL = """
[app]
id = "7"
[client]
name = "氏名"
name_kana = "フリガナ"
birth_date = "生年月日"
"""


def example() -> Mapping:
    return load_mapping(EXAMPLE)


def errors_of(text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping(text)
    return caught.value.messages


# --- the vocabularies copied into the pure package --------------------------------------------------------------


def test_the_copied_vocabularies_are_tsunagus():
    assert tuple(kind.value for kind in models.USER_ENTRY_KINDS) == kmapping.USER_ENTRY_KINDS
    assert tuple(models.ShareLevel.values) == kmapping.SHARE_LEVELS
    assert tuple(models.ShareBasis.values) == kmapping.SHARE_BASES
    assert kmapping.MAX_BODY == validation.MAX_BODY
    assert kmapping.MAX_TAGS == validation.MAX_TAGS
    assert kmapping.MAX_TAG_LENGTH == validation.MAX_TAG_LENGTH
    assert kmapping.MAX_BASIS_NOTE == validation.MAX_BASIS_NOTE


# --- loading ----------------------------------------------------------------------------------------------------


def test_the_documented_example_loads():
    mapping = example()
    assert mapping.app_id == "42"
    assert mapping.record_id_column is None  # the readers' default: $id, else レコード番号 / レコードID
    assert mapping.creator == "作成者"
    assert mapping.client.name == "氏名"
    assert mapping.client.tags == ("支援区分",)
    assert mapping.client.tag_values == {"高齢者": "高齢", "障害": "障がい"}
    assert mapping.client.confidential_field == "DV等支援措置"
    assert mapping.tables() == {"支援経過": ["対応日時", "対応内容", "今後の方針", "対応者", "対応機関", "対応種別"]}
    assert mapping.reads_comments
    assert mapping.agencies["fukushi-ka"] == "fukushi"
    assert mapping.users["tanaka.misaki"] == "tanaka"
    assert [(s.agency, s.from_field, s.level, s.basis) for s in mapping.shares] == [
        ("shakyo", None, "append", "consent"),
        (None, "関係機関", "append", "support_meeting"),
    ]


OPTION = re.compile(r'^# ((?:\w+|"[^"]+") = .*)$', re.MULTILINE)


def test_the_examples_commented_out_options_load():
    """Every ``# key = value`` the example shows as an option is one the loader takes."""
    text = EXAMPLE.read_text(encoding="utf-8")
    options = re.findall(OPTION, text)
    assert len(options) == 3
    mapping = load_mapping(OPTION.sub(r"\1", text))
    assert mapping.creator == "作成者"
    assert mapping.client.tag_values["該当なし"] == ""
    assert mapping.shares[0].expires_in_days == 365


def test_a_mapping_loads_from_text_or_a_path_and_a_string_is_never_a_file_name(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(MappingError, match="TOML"):
        load_mapping(str(path))  # read as TOML (and refused), not opened
    for source in (MINIMAL, path):
        mapping = load_mapping(source)
        assert mapping.app_id == "7"
        assert mapping.entries == ()
        assert mapping.shares == ()
        assert mapping.tables() == {}


def test_a_numeric_app_id_and_another_record_id_column():
    mapping = load_mapping(MINIMAL.replace('id = "7"', 'id = 7\nrecord_id = "レコード番号"\ncreator = "作成者"'))
    assert mapping.app_id == "7"
    assert mapping.record_id_column == "レコード番号"
    assert mapping.creator == "作成者"


def test_an_unreadable_file_or_broken_toml_is_one_error(tmp_path):
    with pytest.raises(MappingError) as caught:
        load_mapping(tmp_path / "missing.toml")
    assert "を読めません" in caught.value.messages[0]
    assert errors_of("[app\nid = 1")[0].startswith("対応表の TOML の書式が正しくありません")


def test_every_mistake_is_reported_at_once():
    text = """
colour = 1
[app]
nmae = "x"
[client]
name = "氏名"
birth_date = ""
tags = "支援区分"
adress = "住所"
address_confidential = { field = "DV" }
[client.tag_values]
"高齢者" = 3
[[entries]]
from = "table"
table = "支援経過"
kind = "foo"
[[entries]]
from = "sheet"
[[entries]]
kind = "note"
[[entries]]
from = "comments"
kind = { field = "x" }
[[entries]]
from = "table"
table = "経過2"
occurred_at = "日時"
body = ["内容", 3]
kind = { values = { "相談" = "consult" }, default = "share_change", extra = 1 }
[[shares]]
level = "all"
basis = "friendship"
basis_note = ""
[[shares]]
agency = "shakyo"
from_field = "関係機関"
level = "read"
basis = "consent"
basis_note = "同意"
expires_in_days = 0
[[shares]]
agency = "shakyo"
level = "read"
basis = "consent"
basis_note = "同意"
expires_in_days = 3651
[agencies]
"fukushi-ka" = ""
[users]
"tanaka" = ["x"]
"""
    messages = errors_of(text)
    expected = [
        "対応表: 不明なキー colour があります",
        "[app]: 不明なキー nmae があります (使えるキー: id, record_id, creator)",
        "[app]: id がありません",
        "[client]: 不明なキー adress があります (address の誤りではありませんか)",
        "[client]: name_kana がありません",
        "[client]: birth_date は空でない文字列で指定してください",
        "[client] address_confidential: values がありません",
        '[client.tag_values]: "高齢者" の値は文字列で指定してください',
        "[[entries]] 1件目: occurred_at がありません",
        "[[entries]] 1件目: body がありません",
        '[[entries]] 1件目: kind の値 "foo" は記録の種類ではありません',
        '[[entries]] 2件目: from の値 "sheet" は使えません',
        "[[entries]] 3件目: from がありません",
        "[[entries]] 4件目: コメントの kind は記録の種類 1 つ (文字列) で指定してください",
        "[[entries]] 5件目: body は文字列または文字列のリストで指定してください",
        "[[entries]] 5件目 kind: 不明なキー extra があります",
        "[[entries]] 5件目 kind: field がありません",
        '[[entries]] 5件目 kind: values."相談" の値 "consult" は記録の種類ではありません',
        '[[entries]] 5件目 kind: default の値 "share_change" は記録の種類ではありません',
        "[[shares]] 1件目: agency (機関コード) と from_field (組織選択フィールド) のどちらか一方を指定してください",
        '[[shares]] 1件目: level の値 "all" は共有の範囲ではありません',
        '[[shares]] 1件目: basis の値 "friendship" は共有の根拠ではありません',
        "[[shares]] 1件目: basis_note は空でない文字列で指定してください",
        "[[shares]] 2件目: agency (機関コード) と from_field (組織選択フィールド) のどちらか一方を指定してください",
        "[[shares]] 2件目: expires_in_days は 1〜3650 の日数で指定してください",
        "[[shares]] 3件目: expires_in_days は 1〜3650 の日数で指定してください",
        '[agencies]: "fukushi-ka" の値は空でない文字列で指定してください',
        '[users]: "tanaka" の値は空でない文字列で指定してください',
    ]
    for message in expected:
        assert any(m.startswith(message) for m in messages), f"{message!r} not in {messages}"
    assert len(messages) == len(expected), messages


def test_missing_sections_and_wrong_shapes():
    messages = errors_of('entries = "x"\nshares = 1\nagencies = "x"')
    assert messages == [
        "対応表: [app] がありません",
        "対応表: [client] がありません",
        "対応表: entries は [[entries]] の表の並びで指定してください",
        "対応表: shares は [[shares]] の表の並びで指定してください",
        "対応表: [agencies] はテーブルで指定してください",
    ]


def test_a_table_or_the_comments_twice_is_refused():
    text = (
        MINIMAL
        + """
[[entries]]
from = "table"
table = "t"
occurred_at = "d"
body = "b"
[[entries]]
from = "table"
table = "t"
occurred_at = "d2"
body = "b2"
[[entries]]
from = "comments"
[[entries]]
from = "comments"
"""
    )
    assert errors_of(text) == [
        "[[entries]] 2件目: テーブル t は前の [[entries]] にもあります",
        '[[entries]] 4件目: from = "comments" は 1 つだけにしてください',
    ]


def test_kinds_default_to_note():
    mapping = load_mapping(
        MINIMAL + '[[entries]]\nfrom = "table"\ntable = "t"\noccurred_at = "d"\nbody = "b"\n'
        '[[entries]]\nfrom = "comments"\n'
    )
    table, comments = mapping.entries
    assert table.kind.fixed == "note"
    assert comments.kind == "note"


# --- planning one record ----------------------------------------------------------------------------------------


def text(value):
    return KField("SINGLE_LINE_TEXT", value)


def orgs(*codes):
    return KField("ORGANIZATION_SELECT", [Entity(code, f"{code} 名") for code in codes])


def row(row_id, **fields):
    return KRow(row_id, fields)


def json_row(row_id, *, at="2021-04-01T01:00:00Z", content="相談を受けた", plan="", kind="相談", by=(), org=()):
    return row(
        row_id,
        対応日時=KField("DATETIME", at),
        対応内容=KField("MULTI_LINE_TEXT", content),
        今後の方針=KField("MULTI_LINE_TEXT", plan),
        対応種別=KField("DROP_DOWN", kind),
        対応者=KField("USER_SELECT", [Entity(code, f"{code} さん") for code in by]),
        対応機関=orgs(*org),
    )


def json_record(*, rows=(), **overrides):
    fields = {
        "$id": KField("__ID__", "12"),
        "氏名": text("山田 太郎"),
        "フリガナ": text("やまだ たろう"),
        "生年月日": KField("DATE", "1950-04-01"),
        "住所": text(" 三条市旭町1-1 "),
        "電話番号": text("0256-00-0000"),
        "支援区分": KField("CHECK_BOX", ["高齢者", "障害", "生活困窮"]),
        "DV等支援措置": KField("DROP_DOWN", None),
        "関係機関": orgs("houkatsu-ranan"),
        "作成者": KField("CREATOR", Entity("tanaka.misaki", "田中 美咲")),
    }
    fields.update(overrides)
    return KRecord("12", fields, {"支援経過": list(rows)}, revision="5", where="record 12")


SATO = Entity("sato.daiki", "佐藤 大輝")


def comment(comment_id, text_, *, at=datetime(2021, 5, 1, 0, 30, tzinfo=UTC), by=SATO):
    return KComment(comment_id, text_, at, by)


def test_the_profile():
    plan = example().plan(json_record(), now=NOW)
    assert plan.problems == []
    assert (plan.record_id, plan.revision, plan.where) == ("12", "5", "record 12")
    assert plan.profile == {
        "name": "山田 太郎",
        "name_kana": "やまだ たろう",  # clean_profile makes it katakana
        "birth_date": date(1950, 4, 1),
        "address": "三条市旭町1-1",
        "phone": "0256-00-0000",
        "tags": ["高齢", "障がい", "生活困窮"],
        "address_confidential": False,
    }
    assert plan.birth_date == date(1950, 4, 1)
    cleaned = validation.clean_profile(plan.profile, partial=False)
    assert cleaned["name_kana"] == "ヤマダ タロウ"


def test_only_mapped_profile_fields_are_planned():
    plan = load_mapping(MINIMAL).plan(json_record(), now=NOW)
    assert plan.profile == {"name": "山田 太郎", "name_kana": "やまだ たろう", "birth_date": date(1950, 4, 1)}


def test_a_half_width_kana_is_what_clean_profile_takes():
    plan = example().plan(json_record(フリガナ=text("ﾔﾏﾀﾞ ﾀﾛｳ")), now=NOW)
    assert validation.clean_profile(plan.profile, partial=False)["name_kana"] == "ヤマダ タロウ"


def test_tags_are_renamed_deduplicated_and_dropped_when_renamed_to_nothing():
    mapping = load_mapping(
        str(EXAMPLE.read_text(encoding="utf-8")).replace(
            '"障害" = "障がい"', '"障害" = "障がい"\n"障がい" = "障がい"\n"なし" = ""'
        )
    )
    record = json_record(支援区分=KField("CHECK_BOX", ["障害", "高齢者", "障がい", "なし", "障害"]))
    assert mapping.plan(record, now=NOW).profile["tags"] == ["障がい", "高齢"]


@pytest.mark.parametrize(
    ("value", "confidential"),
    [
        (KField("DROP_DOWN", "対象"), True),
        (KField("CHECK_BOX", ["要確認", "対象"]), True),
        (KField("DROP_DOWN", "対象外"), False),
        (KField("DROP_DOWN", None), False),
        (KField("", "対象"), True),
        (KField("", ""), False),
    ],
)
def test_the_confidential_address_flag(value, confidential):
    plan = example().plan(json_record(**{"DV等支援措置": value}), now=NOW)
    assert plan.profile["address_confidential"] is confidential


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"氏名": text("  ")}, Problem("missing_name", "氏名がありません")),
        ({"氏名": text(None)}, Problem("missing_name", "氏名がありません")),
        ({"フリガナ": text("")}, Problem("missing_kana", "フリガナがありません")),
        ({"生年月日": KField("DATE", None)}, Problem("missing_birth_date", "生年月日がありません")),
        (
            {"生年月日": text("昭和65年1月1日")},
            Problem(
                "bad_date",
                "生年月日を読めません: 昭和65年1月1日 は昭和の期間外です (その日は平成2年1月1日)",
            ),
        ),
    ],
)
def test_a_record_without_what_a_client_needs_is_a_problem(overrides, problem):
    plan = example().plan(json_record(**overrides), now=NOW)
    assert plan.problems == [problem]


def test_a_missing_field_is_an_empty_one():
    record = json_record()
    del record.fields["氏名"], record.fields["生年月日"]
    reasons = [p.reason for p in example().plan(record, now=NOW).problems]
    assert reasons == ["missing_name", "missing_birth_date"]
    assert example().missing_fields(record) == ["氏名", "生年月日"]


def test_tags_clean_profile_would_refuse_are_a_problem_of_the_record():
    record = json_record(支援区分=KField("CHECK_BOX", ["とても長いタグの名前でありまして二十文字を超えます", "a|b"]))
    (problem,) = example().plan(record, now=NOW).problems
    assert problem.reason == "bad_value"
    assert "a|b" in problem.message and "[client.tag_values]" in problem.message
    record = json_record(支援区分=KField("CHECK_BOX", [f"t{n}" for n in range(11)]))
    assert [p.reason for p in example().plan(record, now=NOW).problems] == ["bad_value"]


def test_shares_static_and_from_the_organization_field():
    plan = example().plan(json_record(関係機関=orgs("houkatsu-ranan", "himawari", "shakyo")), now=NOW)
    assert plan.problems == []
    consent = "kintone 共有記録アプリでの同意書 (2019年度〜) による。移行時に福祉課が確認"
    meeting = "三条市 重層的支援会議 (社会福祉法第106条の6) の構成機関として kintone で共有していた記録"
    assert plan.shares == [
        ShareSpec("shakyo", "append", "consent", consent),
        ShareSpec("houkatsu-ranan", "append", "support_meeting", meeting),
        ShareSpec("himawari", "append", "support_meeting", meeting),
    ]


def test_one_share_per_agency_the_highest_level_winning_and_expiry_from_now():
    mapping = load_mapping(
        MINIMAL
        + """
[agencies]
"k-shakyo" = "shakyo"
"k-kourei" = "kourei"
[[shares]]
agency = "shakyo"
level = "read"
basis = "consent"
basis_note = "同意"
[[shares]]
from_field = "関係機関"
level = "manage"
basis = "statutory"
basis_note = "法令"
expires_in_days = 30
[[shares]]
agency = "kourei"
level = "append"
basis = "consent"
basis_note = "同意"
"""
    )
    plan = mapping.plan(json_record(関係機関=orgs("k-shakyo", "k-kourei")), now=NOW)
    assert plan.shares == [
        ShareSpec("shakyo", "manage", "statutory", "法令", NOW + timedelta(days=30)),
        ShareSpec("kourei", "manage", "statutory", "法令", NOW + timedelta(days=30)),
    ]


def test_an_organization_the_mapping_does_not_know_skips_the_record():
    plan = example().plan(json_record(関係機関=orgs("himawari", "somewhere")), now=NOW)
    assert plan.problems == [Problem("unknown_agency", "組織 somewhere に対応する機関が対応表にありません")]


def test_plan_needs_an_aware_now():
    with pytest.raises(ValueError, match="aware"):
        example().plan(json_record(), now=datetime(2026, 12, 1))


def test_table_rows_become_entries():
    rows = [
        json_row("101", at="2021-04-02T00:00:00Z", kind="訪問", by=["sato.daiki"], org=["shakyo"]),
        json_row("100", content="初回相談", plan="次回訪問", kind="相談"),
        json_row("102", at="2021-04-03T00:00:00Z", kind="", content="メモ"),
        json_row("103", at="2021-04-04T00:00:00Z", kind="その他", content="その他の対応", by=["suzuki"]),
    ]
    plan = example().plan(json_record(rows=rows), now=NOW)
    assert plan.skipped_items == []
    entries = [
        (e.item_type, e.item_id, e.kind, e.occurred_at, e.author_code, e.author_name, e.username, e.agency)
        for e in plan.entries
    ]
    assert entries == [
        (
            "row",
            "支援経過:100",
            "consultation",
            datetime(2021, 4, 1, 1, tzinfo=UTC),
            "tanaka.misaki",
            "田中 美咲",
            "tanaka",
            None,
        ),
        (
            "row",
            "支援経過:101",
            "visit",
            datetime(2021, 4, 2, tzinfo=UTC),
            "sato.daiki",
            "sato.daiki さん",
            "sato",
            "shakyo",
        ),
        ("row", "支援経過:102", "note", datetime(2021, 4, 3, tzinfo=UTC), "tanaka.misaki", "田中 美咲", "tanaka", None),
        ("row", "支援経過:103", "note", datetime(2021, 4, 4, tzinfo=UTC), "suzuki", "suzuki さん", None, None),
    ]
    assert plan.entries[0].body == "【対応内容】\n初回相談\n\n【今後の方針】\n次回訪問"
    assert plan.entries[1].body == "【対応内容】\n相談を受けた"  # an empty 今後の方針 is left out


def test_a_kind_without_a_default_leaves_an_unlisted_value_out():
    mapping = load_mapping(
        MINIMAL
        + '[[entries]]\nfrom = "table"\ntable = "支援経過"\noccurred_at = "対応日時"\nbody = "対応内容"\n'
        + 'kind = { field = "対応種別", values = { "相談" = "consultation" } }\n'
    )
    plan = mapping.plan(json_record(rows=[json_row("1"), json_row("2", kind="その他")]), now=NOW)
    assert [e.item_id for e in plan.entries] == ["支援経過:1"]
    assert plan.entries[0].body == "相談を受けた"  # one body field: no heading
    assert plan.skipped_items == [
        Problem("bad_value", "対応種別 の値「その他」に対応する記録の種類がありません", "row 2")
    ]


def test_a_kind_from_a_check_box_takes_its_first_value():
    record = json_record(rows=[json_row("1", kind=["電話", "訪問"]), json_row("2", kind=[])])
    assert [e.kind for e in example().plan(record, now=NOW).entries] == ["call", "note"]


def test_rows_that_cannot_be_entries_are_skipped_and_the_record_goes_on():
    rows = [
        json_row("1", at="", content=""),  # kintone's empty default row: ignored silently
        json_row("2", at=None, content=""),
        json_row("3", at="", content="日付のない記録"),
        json_row("4", at="2021-02-30 10:00", content="ありえない日"),
        json_row("5", at="2021-04-01 10:00", content="  "),
        json_row("6", content="x" * (kmapping.MAX_BODY + 1)),
        json_row("7", org=["nowhere"]),
        json_row("8"),
    ]
    plan = example().plan(json_record(rows=rows), now=NOW)
    assert plan.problems == []
    assert [e.item_id for e in plan.entries] == ["支援経過:8"]
    assert [(p.reason, p.item) for p in plan.skipped_items] == [
        ("bad_date", "row 3"),
        ("bad_date", "row 4"),
        ("empty_body", "row 5"),
        ("too_long", "row 6"),
        ("unknown_agency", "row 7"),
    ]
    assert plan.skipped_items[1].message == "対応日時 を読めません: 2021-02-30 は存在しない日付です"
    assert plan.skipped_items[4].message == "組織 nowhere に対応する機関が対応表にありません"


def test_a_date_field_is_midnight_in_japan():
    plan = example().plan(json_record(rows=[json_row("1", at="2021-04-01")]), now=NOW)
    assert plan.entries[0].occurred_at == datetime(2021, 4, 1, tzinfo=JST)


def test_no_author_and_no_creator():
    record = json_record(rows=[json_row("1")])
    del record.fields["作成者"]
    (entry,) = example().plan(record, now=NOW).entries
    assert (entry.author_code, entry.author_name, entry.username) == ("", "", None)


def test_comments_become_entries():
    comments = [
        comment("7", "  ひまわりさんへ: 来週訪問します  "),
        comment("8", "不明な職員から", at=datetime(2021, 4, 1, 1, tzinfo=UTC), by=Entity("kato", "加藤")),
        comment("9", "   "),
        comment("10", "y" * (kmapping.MAX_BODY + 1)),
    ]
    plan = example().plan(json_record(rows=[json_row("100")]), comments, now=NOW)
    assert [(e.item_type, e.item_id, e.kind) for e in plan.entries] == [
        ("comment", "8", "liaison"),  # same time as row 100: ordered by id
        ("row", "支援経過:100", "consultation"),
        ("comment", "7", "liaison"),
    ]
    first, _, last = plan.entries
    assert (first.author_code, first.author_name, first.username, first.agency) == ("kato", "加藤", None, None)
    assert (last.body, last.username, last.author_name) == ("ひまわりさんへ: 来週訪問します", "sato", "佐藤 大輝")
    assert last.occurred_at == datetime(2021, 5, 1, 0, 30, tzinfo=UTC)
    assert [(p.reason, p.item) for p in plan.skipped_items] == [("empty_body", "comment 9"), ("too_long", "comment 10")]


def test_comments_are_ignored_when_the_mapping_takes_none():
    plan = load_mapping(MINIMAL).plan(json_record(), [comment("1", "x")], now=NOW)
    assert plan.entries == []


def test_a_csv_record_plans_like_the_json_one():
    """The browser's CSV: no types, plain strings, a line per value, codes for users and organizations, local
    times, the creator in a column named by [app].creator."""
    mapping = load_mapping(
        EXAMPLE.read_text(encoding="utf-8").replace('# record_id = "$id"', 'record_id = "レコード番号"')
    )
    csv = {
        "レコード番号": KField("", "12"),
        "氏名": KField("", "山田 太郎"),
        "フリガナ": KField("", "やまだ たろう"),
        "生年月日": KField("", "S25.4.1"),
        "住所": KField("", "三条市旭町1-1"),
        "電話番号": KField("", "0256-00-0000"),
        "支援区分": KField("", "高齢者\n障害\n生活困窮"),
        "DV等支援措置": KField("", ""),
        "関係機関": KField("", "houkatsu-ranan"),
        "作成者": KField("", "tanaka.misaki"),
    }
    csv_rows = [
        row(
            "100",
            対応日時=KField("", "2021-04-01 10:00"),
            対応内容=KField("", "初回相談"),
            今後の方針=KField("", "次回訪問"),
            対応種別=KField("", "相談"),
            対応者=KField("", ""),
            対応機関=KField("", ""),
        ),
        row(
            "101",
            対応日時=KField("", "2021-04-02 09:00"),
            対応内容=KField("", "相談を受けた"),
            今後の方針=KField("", ""),
            対応種別=KField("", "訪問"),
            対応者=KField("", "sato.daiki\nkato"),
            対応機関=KField("", "shakyo"),
        ),
        row(
            "102",
            対応日時=KField("", ""),
            対応内容=KField("", ""),
            今後の方針=KField("", ""),
            対応種別=KField("", ""),
            対応者=KField("", ""),
            対応機関=KField("", ""),
        ),
    ]
    from_csv = mapping.plan(KRecord("12", csv, {"支援経過": csv_rows}, where="line 2"), now=NOW)
    json_rows = [
        json_row("100", content="初回相談", plan="次回訪問"),
        json_row("101", at="2021-04-02T00:00:00Z", kind="訪問", by=["sato.daiki", "kato"], org=["shakyo"]),
        json_row("102", at=None, content=None, kind=None),
    ]
    from_json = example().plan(json_record(rows=json_rows), now=NOW)
    assert from_csv.problems == from_json.problems == []
    assert from_csv.profile == from_json.profile
    assert from_csv.shares == from_json.shares
    assert from_csv.skipped_items == from_json.skipped_items == []

    def comparable(entry):  # the CSV has codes where the JSON has names
        return (
            entry.item_id,
            entry.kind,
            entry.occurred_at,
            entry.body,
            entry.author_code,
            entry.username,
            entry.agency,
        )

    assert [comparable(e) for e in from_csv.entries] == [comparable(e) for e in from_json.entries]
    assert [e.author_name for e in from_csv.entries] == ["tanaka.misaki", "sato.daiki"]
