"""Template filters: translated labels for the domain's codes, birth dates (和暦 on request), ages.

Dates and times use Django's own ``date`` filter with the locale formats of ``tsunagu/formats`` (``{{ d|date }}``,
``{{ t|date:"DATETIME_FORMAT" }}``), in JST.
"""

from datetime import date, datetime

from django import template
from django.conf import settings
from django.db.models import TextChoices
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation

from agencies.models import AgencyKind, Role
from cases.models import ClientStatus, EntryKind, ImportRunStatus, ShareBasis, ShareLevel
from tsunagu.wareki import wareki as to_wareki

from ..labels import choice_label

register = template.Library()

# Which vocabulary a ``label`` argument names.
VOCABULARIES: dict[str, type[TextChoices]] = {
    "kind": EntryKind,
    "level": ShareLevel,
    "basis": ShareBasis,
    "status": ClientStatus,
    "role": Role,
    "agency_kind": AgencyKind,
    "import_status": ImportRunStatus,
}


@register.filter
def label(code: str, vocabulary: str) -> str:
    """``{{ s.level|label:"level" }}``: the code's label in the current language (an unknown code as itself).
    ``level_short`` is the short form of a share level for badges (閲覧 / 追記 / 管理)."""
    if vocabulary == "level_short":
        return str(ShareLevel(code).short_label) if code in ShareLevel.values else code
    return choice_label(VOCABULARIES[vocabulary], code)


# Tags that say a person may be at risk: shown marked wherever tags are shown, so they are not missed among others.
RISK_TAGS = frozenset({"虐待疑い", "DV", "自殺念慮", "セルフネグレクト"})


@register.filter
def is_risk_tag(tag: str) -> bool:
    return tag in RISK_TAGS


@register.filter
def wareki(value: date | datetime | None) -> str:
    """令和8年11月30日 on the Japanese pages; elsewhere the language's date format."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    if not (translation.get_language() or "").startswith("ja"):
        return date_filter(value)
    return to_wareki(value)


@register.filter
def birth_date(value: date | None) -> str:
    """A birth date: 和暦 when ``WAREKI_BIRTH_DATES`` is on (Japanese pages), otherwise 1948年3月2日."""
    if not value:
        return ""
    return wareki(value) if settings.WAREKI_BIRTH_DATES else date_filter(value)


@register.filter
def age(birth: date | None) -> int | str:
    if not birth:
        return ""
    today = timezone.localdate()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@register.filter
def isoformat(value: datetime | None) -> str:
    return value.isoformat() if value else ""
