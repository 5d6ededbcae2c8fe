# Dates as people write them here: 2026年11月23日, 2026年11月23日 14:05 (times in JST, see TIME_ZONE).
# 和暦 (令和8年11月23日) is the ``wareki`` template filter, used for birth dates when WAREKI_BIRTH_DATES is on.
DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y年n月"
MONTH_DAY_FORMAT = "n月j日"
SHORT_DATE_FORMAT = "Y/m/d"
SHORT_DATETIME_FORMAT = "Y/m/d H:i"
