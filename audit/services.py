"""Writing audit events. Domain services call these inside their own transaction (fail closed)."""

import hashlib
from collections.abc import Iterable
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, Outcome


class AuditActor(Protocol):
    """What the audit log needs to know of whoever acts. Domain actors implement this."""

    user_id: int | None
    username: str
    agency_code: str
    channel: str
    request_id: str
    ip: str | None
    user_agent: str
    api_key_id: str


def terms_hash(text: str) -> str:
    """A search is recorded by a hash of its terms, never the terms (they may contain a name)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit_record(
    *,
    actor: AuditActor,
    action: str,
    outcome: str = Outcome.ALLOWED,
    reason: str = "",
    client_ids: Iterable = (),
    target_type: str = "",
    target_id: object = "",
    authorised_by: object = "",
    details: dict | None = None,
) -> AuditEvent:
    """Insert one event in the current transaction. An exception here must abort the caller's access."""
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        actor_user_id=actor.user_id,
        actor_username=actor.username,
        actor_agency_code=actor.agency_code,
        channel=actor.channel,
        action=action,
        outcome=outcome,
        reason=reason,
        client_ids=[str(cid) for cid in client_ids],
        target_type=target_type,
        target_id=str(target_id or ""),
        request_id=actor.request_id,
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:256],
        api_key_id=actor.api_key_id or "",
        authorised_by=str(authorised_by or ""),
        details=details or {},
    )


def audit_denied(*, actor: AuditActor, action: str, reason: str, **fields) -> AuditEvent:
    """Record a denied attempt in its own transaction, after the denial (the access itself rolled back)."""
    with transaction.atomic():
        return audit_record(actor=actor, action=action, outcome=Outcome.DENIED, reason=reason, **fields)
