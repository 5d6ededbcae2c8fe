"""Display labels for the domain's codes, translatable (the models' own labels are Japanese only)."""

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

ENTRY_KINDS = {
    "consultation": _("相談"),
    "visit": _("訪問"),
    "call": _("電話"),
    "meeting": _("会議"),
    "liaison": _("連絡調整"),
    "service": _("サービス提供"),
    "note": _("メモ"),
    "share_change": _("共有設定の変更"),
    "status_change": _("状態の変更"),
    "break_glass": _("緊急アクセス"),
}
USER_ENTRY_KINDS = ("consultation", "visit", "call", "meeting", "liaison", "service", "note")
LEVELS = {"read": _("閲覧"), "append": _("閲覧・追記"), "manage": _("閲覧・追記・共有管理")}
LEVELS_SHORT = {"read": _("閲覧"), "append": _("追記"), "manage": _("管理")}
BASES = {
    "consent": _("本人同意"),
    "support_meeting": _("支援会議（社会福祉法第106条の6）"),
    "statutory": _("法令に基づく"),
    "emergency": _("緊急（生命・身体の保護）"),
}
STATUSES = {"active": _("支援中"), "closed": _("終結")}
ROLES = {
    "caseworker": _("担当者"),
    "supervisor": _("管理職・主任"),
    "agency_admin": _("機関管理者"),
    "integration": _("連携システム"),
}
AGENCY_KINDS = {
    "city_division": _("市役所の課"),
    "welfare_council": _("社会福祉協議会"),
    "support_center": _("地域包括支援センター・相談支援事業所"),
    "facility": _("施設"),
    "other": _("その他"),
}
TOPICS = {
    "timeline.append": _("支援記録が追加されました"),
    "timeline.correct": _("支援記録が訂正されました"),
    "share.grant": _("共有設定が変更されました"),
    "share.revoke": _("共有設定が変更されました"),
    "share.expire": _("共有の期限が切れました"),
    "client.status": _("支援状態が変更されました"),
}
# Tags offered as checkboxes when registering; any other tag can be typed in.
COMMON_TAGS = ("高齢", "障がい", "生活困窮", "子ども", "ひきこもり", "8050")

TABLES = {
    "kind": ENTRY_KINDS,
    "level": LEVELS,
    "level_short": LEVELS_SHORT,
    "basis": BASES,
    "status": STATUSES,
    "role": ROLES,
    "agency_kind": AGENCY_KINDS,
    "topic": TOPICS,
}


def label(table: str, code: str) -> str:
    return str(TABLES[table].get(code, code))


def choices(table: str, codes: Iterable[str] | None = None) -> list[tuple[str, StrOrPromise]]:
    values = TABLES[table]
    return [(code, values[code]) for code in (codes or values)]
