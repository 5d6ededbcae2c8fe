# Dates as people write them here: 2026年11月23日, 2026年11月23日 14:05 (times in JST, see TIME_ZONE). Django's own
# Japanese formats hold the rest (2026年11月23日, 2026/11/23); these give times two digits and a space.
# 和暦 (令和8年11月23日) is the ``wareki`` template filter, used for birth dates when WAREKI_BIRTH_DATES is on.
DATETIME_FORMAT = "Y年n月j日 H:i"
TIME_FORMAT = "H:i"
SHORT_DATETIME_FORMAT = "Y/m/d H:i"
