"""Dates in the Japanese era calendar (和暦): 令和8年11月30日, 令和元年5月1日, 昭和23年3月2日."""

from datetime import date

# (first day, era name), newest first. Birth dates before 1900 are refused, so 明治 is as far back as we need.
ERAS = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1868, 10, 23), "明治"),
)


def era_year(value: date) -> tuple[str, int] | None:
    """(era name, year of the era) of ``value``; None before 明治."""
    for start, name in ERAS:
        if value >= start:
            return name, value.year - start.year + 1
    return None


def wareki(value: date) -> str:
    """令和8年11月30日; the first year of an era is 元年. Before 明治, the Western year (1868年1月1日)."""
    found = era_year(value)
    if found is None:
        return f"{value.year}年{value.month}月{value.day}日"
    name, year = found
    return f"{name}{'元' if year == 1 else year}年{value.month}月{value.day}日"
