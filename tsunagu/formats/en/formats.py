# ISO-style dates for the English interface: 2026-11-23, 2026-11-23 14:05 (times in JST, see TIME_ZONE).
DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
