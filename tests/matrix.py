"""What every permission matrix (clients, inquiries, meetings) runs each case with: the audit events a case wrote,
and a savepoint rolled back after it, so every case starts from the same world."""

from django.db import transaction

from audit.models import AuditEvent


def seq() -> int:
    """The last audit event's sequence number (0 when there is none)."""
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events(since: int) -> list[tuple[str, str]]:
    """(action, outcome) of the events written after ``since``, in order."""
    return list(AuditEvent.objects.filter(seq__gt=since).order_by("seq").values_list("action", "outcome"))


def rolled_back(check):
    """Run one case in a savepoint that is rolled back: every case starts from the same world."""
    with transaction.atomic():
        try:
            return check()
        finally:
            transaction.set_rollback(True)
