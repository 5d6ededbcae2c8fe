"""Japan time. The service's days, working hours and file stamps are Japanese ones whatever the server's clock,
so this is fixed here rather than read from ``TIME_ZONE`` (which is Asia/Tokyo too)."""

from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
