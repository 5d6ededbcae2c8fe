"""Who may review the audit log: privacy officers, and the system itself for the periodic anomaly detection."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext

from tsunagu.errors import Forbidden, InvalidInput
from tsunagu.ids import parse_uuid

from ..actions import AuditAction
from ..refusals import refuse
from ..services import AuditActor

SYSTEM_CHANNELS = frozenset({"task", "cli"})


def require_privacy_officer(
    *, actor: AuditActor, action: str = AuditAction.VIEW, details: dict[str, Any] | None = None
) -> None:
    """Refuse anyone but a privacy officer, recording the attempt (in its own transaction, after the denial).
    Every review function starts with it; a page that answers before calling one (an empty form) calls it too."""
    if not getattr(actor, "is_privacy_officer", False):
        refuse(
            actor=actor,
            action=action,
            reason="not_privacy_officer",
            error=Forbidden(gettext("監査ログは個人情報保護管理者のみが閲覧できます。")),
            details=details,
        )


def is_system(actor: AuditActor) -> bool:
    """The periodic task or a management command, acting for nobody."""
    return getattr(actor, "user_id", None) is None and getattr(actor, "channel", "") in SYSTEM_CHANNELS


def client_uuid(client_id: object, field: str = "client") -> uuid.UUID:
    """The client id a review was asked about; ``InvalidInput`` for anything that is not one."""
    cid = parse_uuid(client_id)
    if cid is None:
        raise InvalidInput({field: [gettext("対象者IDの形式が正しくありません。")]})
    return cid
