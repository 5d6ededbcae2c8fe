"""Dates as kintone users wrote them: Western and 和暦, full- and half-width, and the ones that cannot exist."""

from datetime import UTC, date, datetime

import pytest

from cases.kintone.dates import JST, DateParseError, parse_date, parse_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1950-04-01", date(1950, 4, 1)),
        ("1950/4/1", date(1950, 4, 1)),
        ("1950.04.01", date(1950, 4, 1)),
        ("1950年4月1日", date(1950, 4, 1)),
        ("１９５０年４月１日", date(1950, 4, 1)),
        ("１９５０／０４／０１", date(1950, 4, 1)),
        ("19500401", date(1950, 4, 1)),
        ("１９５０－０４－０１", date(1950, 4, 1)),
        ("1950ー04ー01", date(1950, 4, 1)),
        (" 1950-04-01 ", date(1950, 4, 1)),
        ("昭和25年4月1日", date(1950, 4, 1)),
        ("昭和２５年４月１日", date(1950, 4, 1)),
        ("昭和 25年 4月 1日", date(1950, 4, 1)),
        ("昭和25.4.1", date(1950, 4, 1)),
        ("昭25.4.1", date(1950, 4, 1)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("平成1年1月8日", date(1989, 1, 8)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("S25.4.1", date(1950, 4, 1)),
        ("S25/4/1", date(1950, 4, 1)),
        ("s25.4.1", date(1950, 4, 1)),
        ("Ｓ２５．４．１", date(1950, 4, 1)),
        ("S25年4月1日", date(1950, 4, 1)),
        ("H1.1.8", date(1989, 1, 8)),
        ("R5.4.1", date(2023, 4, 1)),
        ("M45.7.29", date(1912, 7, 29)),
        # The day an emperor died belongs to both eras.
        ("M45.7.30", date(1912, 7, 30)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("T15.12.25", date(1926, 12, 25)),
        ("明治元年1月1日", date(1868, 1, 1)),
        ("明治33年2月28日", date(1900, 2, 28)),
        ("令和2年2月29日", date(2020, 2, 29)),
    ],
)
def test_dates_are_read(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成1年1月7日", "平成1年1月7日 は平成の期間外です (その日は昭和64年1月7日)"),
        ("H1.1.7", "その日は昭和64年1月7日"),
        ("昭和65年1月1日", "昭和の期間外"),
        ("令和1年4月30日", "その日は平成31年4月30日"),
        ("R1.4.30", "令和の期間外"),
        ("平成31年5月1日", "その日は令和元年5月1日"),
        ("昭和元年12月24日", "その日は大正15年12月24日"),
        ("大正15年12月26日", "大正の期間外"),
        ("M45.7.31", "明治の期間外"),
        ("昭和0年1月1日", "昭和0年はありません"),
        ("2000年2月30日", "存在しない日付です"),
        ("２０２１年２月２９日", "存在しない日付です"),
        ("S25.13.1", "存在しない日付です"),
        ("令和5年", "年・月・日がそろっていません"),
        ("令和5年4月", "年・月・日がそろっていません"),
        ("1950年4月", "年・月・日がそろっていません"),
        ("S25/4.1", "日付として読めません"),
        ("X25.4.1", "日付として読めません"),
        ("不明", "日付として読めません"),
        ("", "日付がありません"),
        ("   ", "日付がありません"),
    ],
)
def test_impossible_dates_are_refused(text, message):
    with pytest.raises(DateParseError) as caught:
        parse_date(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_date_object_is_taken_as_it_is():
    assert parse_date(date(1950, 4, 1)) == date(1950, 4, 1)
    assert parse_date(datetime(1950, 4, 1, 10, 0)) == date(1950, 4, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # kintone's JSON: UTC.
        ("2021-04-01T01:00:00Z", datetime(2021, 4, 1, 1, 0, tzinfo=UTC)),
        ("2021-04-01T01:00:00.000Z", datetime(2021, 4, 1, 1, 0, tzinfo=UTC)),
        ("2021-04-01T10:00:00+09:00", datetime(2021, 4, 1, 1, 0, tzinfo=UTC)),
        # The browser's CSV: local, Japan time.
        ("2021-04-01 10:00", datetime(2021, 4, 1, 10, 0, tzinfo=JST)),
        ("2021/4/1 9:05:03", datetime(2021, 4, 1, 9, 5, 3, tzinfo=JST)),
        ("２０２１−０４−０１ １０：００", datetime(2021, 4, 1, 10, 0, tzinfo=JST)),
        ("令和3年4月1日 10:00", datetime(2021, 4, 1, 10, 0, tzinfo=JST)),
        # A date alone: 0:00 Japan time.
        ("2021-04-01", datetime(2021, 4, 1, 0, 0, tzinfo=JST)),
        ("R3.4.1", datetime(2021, 4, 1, 0, 0, tzinfo=JST)),
    ],
)
def test_datetimes_are_aware(text, expected):
    result = parse_datetime(text)
    assert result == expected
    assert result.tzinfo is not None


def test_a_datetime_value_becomes_aware():
    assert parse_datetime(datetime(2021, 4, 1, 10, 0)) == datetime(2021, 4, 1, 10, 0, tzinfo=JST)
    assert parse_datetime(date(2021, 4, 1)) == datetime(2021, 4, 1, 0, 0, tzinfo=JST)
    aware = datetime(2021, 4, 1, 1, 0, tzinfo=UTC)
    assert parse_datetime(aware) is aware


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "日時がありません"),
        ("2021-04-01 25:00", "時刻が正しくありません"),
        ("2021-04-01 10:60", "時刻が正しくありません"),
        ("2021-04-01 10:00+9", "時刻を読めません"),
        ("平成1年1月7日 10:00", "平成の期間外"),
        ("2021-02-30 10:00", "存在しない日付"),
        ("あした", "日付として読めません"),
    ],
)
def test_bad_datetimes_are_refused(text, message):
    with pytest.raises(DateParseError) as caught:
        parse_datetime(text)
    assert message in str(caught.value)
