"""Dates as people typed them into kintone: ISO and slashed dates, 年月日, full-width digits, and 和暦 (昭和25年4月1日,
S25.4.1, 平成元年1月8日). A 和暦 date outside its era (平成1年1月7日 was 昭和64年) is refused rather than moved: a
birth date that cannot have been written is a typo the operator should see, not one to guess at.

Date and time fields: kintone's JSON gives UTC (``2021-04-01T01:00:00Z``), the CSV a local ``2021-04-01 10:00``,
read as Japan time; a date alone means that day's 0:00 in Japan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tsunagu.wareki import wareki  # the 和暦 the UI writes (pure Python): "that day was ..." in messages

JST = ZoneInfo("Asia/Tokyo")


class DateParseError(ValueError):
    """A value that is not a date (or a date and time); the message is Japanese, for the import report."""


@dataclass(frozen=True)
class Era:
    name: str
    letter: str
    first: date  # the first day written in this era
    last: date | None  # the last day (inclusive); None for the current era


# 明治 officially began on 1868-10-23, back-dated to the start of that year: 明治元年 is all of 1868. Where an
# emperor died (1912, 1926) the day of the change belongs to both eras (明治45年7月30日 = 大正元年7月30日); 平成 began
# the day after 昭和64年1月7日, and 令和 on 2019-05-01.
ERAS = (
    Era("明治", "M", date(1868, 1, 1), date(1912, 7, 30)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 25)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
_ERA_BY_TOKEN = {token: era for era in ERAS for token in (era.name, era.name[0], era.letter, era.letter.lower())}
_ERA_TOKENS = "|".join(sorted(map(re.escape, _ERA_BY_TOKEN), key=len, reverse=True))

_SEP = r"[-/.]"
_GREGORIAN = (
    re.compile(rf"(?P<y>\d{{4}})(?P<s>{_SEP})(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}})"),
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
)
_WAREKI = re.compile(
    rf"(?P<era>{_ERA_TOKENS})(?P<y>元|\d{{1,2}})(?:年(?P<m1>\d{{1,2}})月(?P<d1>\d{{1,2}})日?"
    rf"|(?P<s>{_SEP})(?P<m2>\d{{1,2}})(?P=s)(?P<d2>\d{{1,2}}))"
)
# A year (and month) alone: a date without its day, refused with its own message.
_PARTIAL = re.compile(rf"(?:{_ERA_TOKENS})?(?:元|\d{{1,4}})(?:年|{_SEP})(?:\d{{1,2}}(?:月|{_SEP})?)?")
_TIME = re.compile(r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?(?P<tz>Z|[+-]\d{2}:?\d{2})?")
_DATE_TIME = re.compile(r"(?P<date>.+?)(?:(?:T|\s+)(?P<time>\d{1,2}:\d{2}\S*))?")


# Dashes NFKC leaves alone but people type between year, month and day (a minus sign, ー from a kana keyboard).
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70", "-"))


def _nfkc(value: str) -> str:
    """NFKC (full-width digits and separators become ASCII) and one kind of hyphen."""
    return unicodedata.normalize("NFKC", value).translate(_DASHES)


def _normalized(value: str) -> str:
    """``_nfkc``, without white space inside."""
    return "".join(_nfkc(value).split())


def _make(year: int, month: int, day: int, original: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateParseError(f"{original} は存在しない日付です") from None


def parse_date(value: str | date) -> date:
    """A day from any of the forms kintone users write (see the module docstring); year, month and day required."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    original = str(value).strip()
    text = _normalized(original)
    if not text:
        raise DateParseError("日付がありません")
    for pattern in _GREGORIAN:
        if match := pattern.fullmatch(text):
            return _make(int(match["y"]), int(match["m"]), int(match["d"]), original)
    if match := _WAREKI.fullmatch(text):
        era = _ERA_BY_TOKEN[match["era"]]
        year = 1 if match["y"] == "元" else int(match["y"])
        if year < 1:
            raise DateParseError(f"{original}: {era.name}0年はありません")
        month, day = int(match["m1"] or match["m2"]), int(match["d1"] or match["d2"])
        result = _make(era.first.year + year - 1, month, day, original)
        if result < era.first or (era.last is not None and result > era.last):
            raise DateParseError(f"{original} は{era.name}の期間外です (その日は{wareki(result)})")
        return result
    if _PARTIAL.fullmatch(text):
        raise DateParseError(f"{original}: 年・月・日がそろっていません")
    raise DateParseError(f"{original} は日付として読めません")


def parse_datetime(value: str | datetime | date) -> datetime:
    """An aware date and time: kintone's ``…Z`` (UTC) or an offset as given; a local time without an offset, as the
    browser's CSV writes it, in Japan time; a date alone at 0:00 Japan time."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=JST)
    if isinstance(value, date):
        return datetime.combine(value, time(0), JST)
    original = str(value).strip()
    text = " ".join(_nfkc(original).split())
    match = _DATE_TIME.fullmatch(text)
    if not text or match is None:
        raise DateParseError("日時がありません" if not text else f"{original} は日時として読めません")
    day = parse_date(match["date"])
    if match["time"] is None:
        return datetime.combine(day, time(0), JST)
    clock = _TIME.fullmatch(match["time"])
    if clock is None:
        raise DateParseError(f"{original}: 時刻を読めません")
    hour, minute, second = int(clock["h"]), int(clock["mi"]), int(clock["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateParseError(f"{original}: 時刻が正しくありません")
    zone: timezone | ZoneInfo = JST
    if (offset := clock["tz"]) == "Z":
        zone = UTC
    elif offset:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime.combine(day, time(hour, minute, second), zone)
