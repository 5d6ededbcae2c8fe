from datetime import date

import pytest

from tsunagu.wareki import wareki


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 11, 30), "令和8年11月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1948, 3, 2), "昭和23年3月2日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1900, 1, 1), "明治33年1月1日"),
    ],
)
def test_wareki(value, expected):
    assert wareki(value) == expected
