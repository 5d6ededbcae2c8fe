import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases import services
from cases.models import OutboxMessage
from cases.outbox import outbox_relay


def test_health_reports_backlog_and_fails_when_the_outbox_is_stuck(cast):
    services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="note", body="メモ")
    out = io.StringIO()
    call_command("health", stdout=out)
    assert "outbox unfinished:" in out.getvalue()
    with time_machine.travel(timezone.now() + timedelta(minutes=10)), pytest.raises(CommandError, match="stuck"):
        call_command("health", stdout=io.StringIO())


def test_health_counts_published_but_unfinished_messages_as_outbox_work(cast):
    outbox_relay()
    out = io.StringIO()
    call_command("health", stdout=out)
    assert "outbox unfinished: 0 (0 not yet published; oldest 0 s)" in out.getvalue()
    services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="note", body="メモ")
    # handed to the broker, but its consumer never finished (the broker lost it, or the database was down)
    OutboxMessage.objects.filter(finished_at__isnull=True).update(published_at=timezone.now())
    later = timezone.now() + timedelta(minutes=10)
    with time_machine.travel(later), pytest.raises(CommandError, match="stuck: oldest unfinished message is 6"):
        out = io.StringIO()
        try:
            call_command("health", stdout=out)
        finally:
            assert re.search(r"outbox unfinished: 1 \(0 not yet published; oldest 60\d s\)", out.getvalue())


def test_health_reports_the_last_seal_and_a_failed_verification(cast):
    from audit.models import AuditVerification

    outbox_relay()  # the cast's notices delivered: only the audit state is under test here
    out = io.StringIO()
    call_command("health", stdout=out)
    assert "last audit seal: none" in out.getvalue()  # sealing itself is tested in tests/audit
    AuditVerification.objects.create(ran_at=timezone.now(), ok=False, kind="changed_event", message="seq 3 differs")
    with pytest.raises(CommandError, match="verification failed"):
        call_command("health", stdout=io.StringIO())
