"""The audit log's vocabulary: every action code an event may carry, with its translated label.

Each app declares the actions it writes as a ``TextChoices`` and registers it from its ``AppConfig.ready``
(``register``). The audit layer imports no domain app, so this is how it learns their codes: ``audit_record``
refuses a code nobody registered, the console and the API label codes through ``label``, and the anomaly rules
find the actions they reason about by trait (``with_trait``) rather than by spelling another app's codes.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _


class Trait(StrEnum):
    """What the audit layer needs to know about another app's action."""

    CASE_DATA = "case_data"  # an access to case data (anomaly rules count it)
    LISTING = "listing"  # shows clients on a list or search page (not "opening" each of them)
    SHARE_GRANT = "share_grant"  # a share was granted
    SHARE_REVOKE = "share_revoke"  # a share was revoked
    SHARE_EXPIRE = "share_expire"  # a share ended by expiry
    BREAK_GLASS = "break_glass"  # emergency access (always flagged)


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


register(AuditAction, traits={Trait.CASE_DATA: [AuditAction.EXPORT]})
