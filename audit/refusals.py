"""Refusals: the one way a service says no.

Every role, officer or access check refuses through here, so that every refusal leaves exactly one ``denied``
audit event (PRODUCT §5) and no service can forget it:

- ``refuse(...)`` records the denied event (in its own transaction) and raises the error the caller shows.
- Inside a block that must roll back first (a check made within the access transaction), raise ``Refusal`` and
  let ``refusals_audited(...)`` record it after the block has rolled back.

It sits in ``audit`` and imports no domain app: the actor is anything with the ``AuditActor`` attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from tsunagu.errors import DomainError

from .services import AuditActor, audit_denied


class Refusal(Exception):
    """Why an attempt is refused (``reason``, recorded) and what the caller sees (``error``). Raised inside a
    ``refusals_audited`` block; adapters never see it."""

    def __init__(self, reason: str, error: DomainError):
        self.reason = reason
        self.error = error
        super().__init__(reason)


def refuse(*, actor: AuditActor, action: str, reason: str, error: DomainError, **fields: Any) -> NoReturn:
    """Record the denied attempt (its own transaction) and raise ``error``. Call it outside the transaction of
    the refused work, or inside ``refusals_audited`` by raising ``Refusal`` instead."""
    audit_denied(actor=actor, action=action, reason=reason, **fields)
    raise error


@contextmanager
def refusals_audited(*, actor: AuditActor, action: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Turn a ``Refusal`` raised in the block into one denied event and its error. Wrap the block's own
    transaction with it, so the refused work has rolled back before the denial is recorded.

    Yields the event's ``fields``: a block that checks several objects in turn (a meeting's clients, then the
    meeting) sets ``target_type`` / ``target_id`` as it goes, and a refusal names the one it was checking. Any id
    may be passed as it came (from a URL or a body): the audit stores only a well-formed one
    (``audit.services.well_formed_target``)."""
    try:
        yield fields
    except Refusal as refusal:
        audit_denied(actor=actor, action=action, reason=refusal.reason, **fields)
        raise refusal.error from None
