"""The daily signed digest: "the audit log up to seq N has hash H", in the database (console), the anchor
directory and the privacy officer's mailbox, signed with the application's key."""

import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.anchors import publish_digest
from audit.models import AuditDigest, AuditSeal
from audit.signing import text_signature_ok
from audit.tasks import publish_digest as publish_digest_task

from .conftest import seal_all, sealing_db


@sealing_db
def test_the_daily_digest_is_signed_stored_appended_and_mailed(sealed_cast, settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path)
    settings.AUDIT_DIGEST_EMAILS = ["privacy-office@example.jp"]
    seal_all()
    latest = AuditSeal.objects.order_by("-id").first()
    digest = publish_digest()
    assert (digest.seal_id, digest.last_seq, digest.seal_hash) == (latest.pk, latest.last_seq, latest.seal_hash)
    assert f"up to seq {latest.last_seq}" in digest.text and latest.seal_hash in digest.text
    assert text_signature_ok(digest.text, digest.signature)
    assert not text_signature_ok(digest.text.replace(latest.seal_hash, "0" * 64), digest.signature)
    line = json.loads((tmp_path / "digests.jsonl").read_text().splitlines()[-1])
    assert line == {"text": digest.text, "signature": digest.signature}
    assert len(mail.outbox) == 1 and digest.text in mail.outbox[0].body and digest.signature in mail.outbox[0].body
    assert mail.outbox[0].to == ["privacy-office@example.jp"]
    publish_digest_task.delay()
    assert AuditDigest.objects.count() == 2


@sealing_db
def test_the_digest_command_checks_a_signature(sealed_cast, capsys):
    seal_all()
    call_command("audit_digest")
    digest = AuditDigest.objects.order_by("-id").first()
    assert digest.signature in capsys.readouterr().out
    call_command("audit_digest", "--check", digest.text, digest.signature)
    with pytest.raises(CommandError):
        call_command("audit_digest", "--check", digest.text + " ", digest.signature)


def test_no_digest_before_the_first_seal(db):
    assert publish_digest() is None
