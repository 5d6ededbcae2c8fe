"""The audit log's vocabulary: every action code an event may carry, and every reason a refusal records, with
their translated labels.

Each app declares the actions it writes as a ``TextChoices`` and registers it from its ``AppConfig.ready``
(``register``). The audit layer imports no domain app, so this is how it learns their codes: ``audit_record``
refuses a code nobody registered, the console and the API label codes through ``label``, and the anomaly rules
find the actions they reason about by trait (``with_trait``) rather than by spelling another app's codes.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Trait(StrEnum):
    """What the audit layer needs to know about another app's action."""

    CASE_DATA = "case_data"  # an access to case data (anomaly rules count it)
    LISTING = "listing"  # shows clients on a list or search page (not "opening" each of them)
    SHARE_GRANT = "share_grant"  # a share was granted
    SHARE_REVOKE = "share_revoke"  # a share was revoked
    SHARE_EXPIRE = "share_expire"  # a share ended by expiry
    BREAK_GLASS = "break_glass"  # emergency access (always flagged)
    RECORDS_READ = "records_read"  # reads the client's records (支援記録); so does a read whose parts name them


class AuditAction(models.TextChoices):
    """Actions of the audit layer itself: reading and keeping the log, and the operators' admin site."""

    VIEW = "audit.view", _("監査ログの閲覧")
    CLIENT_LOOKUP = "audit.client_lookup", _("支援対象者の識別情報の照会")
    TERM_SEARCH = "audit.term_search", _("検索語の照合")
    FLAG_REVIEW = "audit.flag_review", _("フラグの確認メモ")
    DETECT_ANOMALIES = "audit.detect_anomalies", _("異常検知の実行")
    PURGE = "audit.purge", _("保存期間を過ぎた監査ログの削除")
    RESTORE_DRILL = "audit.restore_drill", _("復元訓練")
    EXPORT = "export", _("エクスポート")
    ADMIN_VIEW = "admin.view", _("管理画面の閲覧")
    ADMIN_ADD = "admin.add", _("管理画面での追加")
    ADMIN_CHANGE = "admin.change", _("管理画面での変更")
    ADMIN_DELETE = "admin.delete", _("管理画面での削除")


class AuditReason(models.TextChoices):
    """Why an attempt was refused (``AuditEvent.reason``): the reasons shared by several apps, and the audit
    layer's own. An app declares its own reasons next to its actions and registers them (``register_reasons``)."""

    NOT_FOUND = "not_found", _("対象が見つからない")
    ROLE = "role", _("役割の権限がない")
    NO_ROLE = "no_role", _("職員の役割がない")
    PRIVACY_OFFICER = "privacy_officer", _("個人情報保護管理者には許可されていない")
    NOT_PRIVACY_OFFICER = "not_privacy_officer", _("個人情報保護管理者ではない")
    THROTTLED = "throttled", _("試行回数の制限")
    PERMISSION = "permission", _("管理画面の権限がない")
    OWN_FLAG = "own_flag", _("自身に関するフラグ")


_OWNERS: dict[str, type[models.TextChoices]] = {}
_LABELS: dict[str, object] = {}
_TRAITS: dict[Trait, set[str]] = {trait: set() for trait in Trait}


def register(choices: type[models.TextChoices], *, traits: Mapping[Trait, Iterable[str]] | None = None) -> None:
    """Make ``choices``' codes known to the audit log (idempotent). A code belongs to one class only."""
    for member in choices:
        owner = _OWNERS.setdefault(member.value, choices)
        if owner is not choices:
            raise ImproperlyConfigured(
                f"audit action {member.value!r} is declared by both {owner.__qualname__} and {choices.__qualname__}"
            )
        _LABELS[member.value] = member.label
    for trait, codes in (traits or {}).items():
        codes = {str(code) for code in codes}
        unknown = codes - set(_LABELS)
        if unknown:
            raise ImproperlyConfigured(f"trait {trait} names unregistered actions {sorted(unknown)}")
        _TRAITS[Trait(trait)] |= codes


def is_registered(code: str) -> bool:
    return code in _LABELS


def label(code: str) -> str:
    """The action's label in the current language; an unknown code (say, from a retired feature) as itself."""
    found = _LABELS.get(code or "")
    return str(found) if found is not None else (code or "")


def registered() -> dict[str, str]:
    """Every registered code with its label in the current language, by code."""
    return {code: str(_LABELS[code]) for code in sorted(_LABELS)}


def with_trait(trait: Trait) -> frozenset[str]:
    return frozenset(_TRAITS[trait])


class ReadPart(models.TextChoices):
    """The parts of a client that one combined read names in its details (``{"parts": [...]}``): the browser's
    client page reads the profile, the shares and a page of the timeline in one audited ``client.view``. Consumers
    treat an event whose parts include ``timeline`` as a read of the records, as they would a ``timeline.view``."""

    PROFILE = "profile", _("基本情報")
    SHARES = "shares", _("共有先")
    TIMELINE = "timeline", _("支援記録")


def read_parts(details: object) -> list[str]:
    """The parts an event's details say were read (known parts only, in their declared order)."""
    parts = details.get("parts") if isinstance(details, dict) else None
    if not isinstance(parts, list):
        return []
    return [p.value for p in ReadPart if p.value in parts]


def reads_records(action: str, details: object) -> bool:
    """Whether the event read the client's records (支援記録): a timeline read, or a combined read that names it."""
    return action in _TRAITS[Trait.RECORDS_READ] or ReadPart.TIMELINE in read_parts(details)


def event_label(action: str, details: object = None) -> str:
    """The action's label, with the parts a combined read names: 基本情報の閲覧（基本情報・共有先・支援記録）."""
    parts = read_parts(details)
    if not parts:
        return label(action)
    names = gettext("、").join(str(ReadPart(p).label) for p in parts)
    return gettext("%(action)s（%(parts)s）") % {"action": label(action), "parts": names}


_REASON_OWNERS: dict[str, type[models.TextChoices]] = {}
_REASON_LABELS: dict[str, object] = {}


def register_reasons(choices: type[models.TextChoices]) -> None:
    """Make ``choices``' refusal reasons known to the console (idempotent). A reason belongs to one class only:
    a reason several apps record is declared once, in ``AuditReason``."""
    for member in choices:
        owner = _REASON_OWNERS.setdefault(member.value, choices)
        if owner is not choices:
            raise ImproperlyConfigured(
                f"refusal reason {member.value!r} is declared by both {owner.__qualname__} and {choices.__qualname__}"
            )
        _REASON_LABELS[member.value] = member.label


def reason_label(code: str) -> str:
    """The reason's label in the current language; an unknown reason as itself, no reason as nothing."""
    found = _REASON_LABELS.get(code or "")
    return str(found) if found is not None else (code or "")


def registered_reasons() -> dict[str, str]:
    """Every registered reason with its label in the current language, by code."""
    return {code: str(_REASON_LABELS[code]) for code in sorted(_REASON_LABELS)}


register(AuditAction, traits={Trait.CASE_DATA: [AuditAction.EXPORT]})
register_reasons(AuditReason)
