"""Template filters: dates in JST the Japanese way, and translated labels for domain codes."""

from datetime import date, datetime

from django import template
from django.utils import timezone, translation

from frontend import labels

register = template.Library()


@register.filter
def jdt(value: datetime | None) -> str:
    """2026年11月23日 14:05 (JST); in English 2026-11-23 14:05."""
    if not value:
        return ""
    local = timezone.localtime(value)
    if translation.get_language() == "en":
        return f"{local:%Y-%m-%d %H:%M}"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


@register.filter
def jdate(value: date | datetime | None) -> str:
    """2026年11月23日; in English 2026-11-23."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    if translation.get_language() == "en":
        return f"{value:%Y-%m-%d}"
    return f"{value.year}年{value.month}月{value.day}日"


@register.filter
def age(birth: date | None) -> int | str:
    if not birth:
        return ""
    today = timezone.localdate()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@register.filter
def label(code: str, table: str) -> str:
    return labels.label(table, code)


@register.filter
def isoformat(value: datetime | None) -> str:
    return value.isoformat() if value else ""
