"""The housekeeping of stored files: the integrity check (``verify_attachments``), retention
(``purge_attachments``) and master-key rotation (``rotate_attachment_keys``), through the services, the commands
and the tasks. Every run is audited; a file that fails is marked and no longer served."""

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from agencies.actors import Actor
from audit.models import AuditEvent
from cases import services
from cases import tasks as case_tasks
from cases.attachment_selectors import attachment_download
from cases.attachments import Incoming, Tampered, UnknownKey, prepare, read, store
from cases.models import Attachment, AttachmentBlob, TimelineEntry
from cases.services.attachments import (
    attachment_integrity_state,
    attachments_purge,
    attachments_rekey,
    attachments_verify,
    blob_ref,
)
from tests.cases.attachments.conftest import KEY_1
from tests.cases.attachments.samples import PDF, image
from tsunagu import errors

KEY_2 = ("k2", "second-test-master-key-0123456789abcdef")
SYSTEM = Actor.system(channel="task")


def stored(entry_id, name: str, content: bytes, *, position: int = 0) -> Attachment:
    """A file stored through the pipeline and recorded on ``entry_id`` as an upload records it."""
    entry = TimelineEntry.objects.get(pk=entry_id)
    prepared = prepare(Incoming(name, io.BytesIO(content), len(content)))
    attachment = Attachment(
        entry=entry,
        client_id=entry.client_id,
        position=position,
        filename=prepared.filename,
        content_type=prepared.content_type,
        size=prepared.size,
        sha256=prepared.sha256,
        has_thumbnail=prepared.thumbnail is not None,
        agency_id=entry.agency_id,
        uploaded_by=entry.author,
    )
    with prepared:
        blob = store(prepared, attachment_id=attachment.id)
    attachment.save()
    AttachmentBlob.objects.create(
        attachment=attachment,
        storage_name=blob.storage_name,
        thumbnail_name=blob.thumbnail_name,
        key_id=blob.key_id,
        wrapped_key=blob.wrapped_key,
    )
    return attachment


def object_path(name: str) -> Path:
    return Path(settings.STORAGES["attachments"]["OPTIONS"]["location"]) / name


def flip_a_byte(name: str, at: int = 100) -> None:
    path = object_path(name)
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def content_of(attachment: Attachment) -> bytes:
    return b"".join(read(blob_ref(AttachmentBlob.objects.get(pk=attachment.pk))))


@pytest.fixture
def files(cast):
    """A PDF and a photo on the cast's client."""
    return {
        "pdf": stored(cast.entry.id, "同意書.pdf", PDF),
        "photo": stored(cast.entry.id, "写真.jpg", image("JPEG"), position=1),
    }


def _blob(attachment) -> AttachmentBlob:
    return AttachmentBlob.objects.get(pk=attachment.pk)


# --- integrity ------------------------------------------------------------------------------------------------


def test_verify_passes_sound_files_and_records_the_run(files):
    report = attachments_verify(actor=SYSTEM)
    assert (report.checked, report.passed, report.failed, report.ok) == (2, 2, (), True)
    assert all(_blob(a).checked_at is not None and _blob(a).failed_at is None for a in files.values())
    run = AuditEvent.objects.get(action="attachment.verify")
    assert run.details == {"checked": 2, "passed": 2, "failed": 0, "unreachable": 0, "failed_total": 0}
    assert not AuditEvent.objects.filter(action="attachment.integrity_failed").exists()


def test_a_flipped_byte_is_found_audited_and_marked(files, cast):
    pdf = files["pdf"]
    flip_a_byte(_blob(pdf).storage_name)
    report = attachments_verify(actor=SYSTEM)
    assert [(f.attachment_id, f.failed) for f in report.failed] == [(pdf.pk, "content")]
    assert _blob(pdf).failed_at is not None and _blob(files["photo"]).failed_at is None
    event = AuditEvent.objects.get(action="attachment.integrity_failed")
    assert (event.outcome, event.reason, event.target_type, event.target_id) == (
        "error",
        "attachment_damaged",
        "attachment",
        str(pdf.pk),
    )
    assert event.client_ids == [str(cast.client.id)] and event.details["failed"] == "content"
    assert "同意書" not in str(event.details)  # no file name in the log
    assert attachment_integrity_state().failed_now == 1


def test_a_damaged_thumbnail_or_a_missing_object_fails_too(files):
    photo, pdf = files["photo"], files["pdf"]
    flip_a_byte(_blob(photo).thumbnail_name, at=60)
    object_path(_blob(pdf).storage_name).unlink()
    failed = {f.attachment_id: f.failed for f in attachments_verify(actor=SYSTEM).failed}
    assert failed == {photo.pk: "thumbnail", pdf.pk: "missing"}


def test_content_that_decrypts_but_differs_from_the_recorded_hash_fails(files):
    """The ciphertext of another file under the right name: authenticates with its own key only, so a swap is
    caught by the decryption; a recorded hash that is wrong is caught by the comparison."""
    pdf = files["pdf"]
    blob = _blob(pdf)
    other = stored(TimelineEntry.objects.get(pk=pdf.entry_id).pk, "別.pdf", PDF + b"%extra\n", position=2)
    object_path(blob.storage_name).write_bytes(object_path(_blob(other).storage_name).read_bytes())
    failed = {f.attachment_id: f.failed for f in attachments_verify(actor=SYSTEM).failed}
    assert failed == {pdf.pk: "content"}


def test_a_restored_file_passes_again_and_the_oldest_checked_go_first(files):
    pdf = files["pdf"]
    path = object_path(_blob(pdf).storage_name)
    original = path.read_bytes()
    flip_a_byte(_blob(pdf).storage_name)
    attachments_verify(actor=SYSTEM)
    assert _blob(pdf).failed_at is not None
    path.write_bytes(original)  # restored from the backup
    first = attachments_verify(actor=SYSTEM, limit=1)
    assert first.checked == 1 and _blob(pdf).failed_at is None  # never passed before: checked first
    assert attachment_integrity_state().failed_now == 0


def test_verify_attachments_command_exits_1_naming_the_failure(files, capsys):
    call_command("verify_attachments")
    assert "attachments checked: 2, passed: 2, failed: 0" in capsys.readouterr().out
    flip_a_byte(_blob(files["photo"]).storage_name)
    with pytest.raises(CommandError, match="FAILED 1 attachment") as caught:
        call_command("verify_attachments")
    assert caught.value.returncode == 1
    assert str(files["photo"].pk) in capsys.readouterr().err
    with pytest.raises(CommandError, match="at least 1"):
        call_command("verify_attachments", "--limit", "0")


def test_the_verify_task_runs_the_check(files):
    assert case_tasks.verify_attachments() == {"checked": 2, "failed": 0, "unreachable": 0}
    assert AuditEvent.objects.get(action="attachment.verify").channel == "task"


def test_verify_refuses_anyone_but_the_system(files, cast):
    with pytest.raises(Exception, match="運用担当者"):
        attachments_verify(actor=cast.actor("sam"))
    assert _blob(files["pdf"]).checked_at is None


# --- key rotation ---------------------------------------------------------------------------------------------


def test_rotation_end_to_end(files, settings, capsys):
    """Stored under k1; k2 added in front; rotate; k1 removed: every file still opens, under k2."""
    before = {name: content_of(a) for name, a in files.items()}
    settings.ATTACHMENT_KEYS = [KEY_2, KEY_1]
    new = stored(files["pdf"].entry_id, "新しい.pdf", PDF, position=2)
    assert _blob(new).key_id == "k2"
    call_command("rotate_attachment_keys")
    out = capsys.readouterr().out
    assert "file keys re-wrapped under k2: 2" in out and "the other keys can be removed" in out
    assert set(AttachmentBlob.objects.values_list("key_id", flat=True)) == {"k2"}
    event = AuditEvent.objects.get(action="attachment.rekey")
    assert event.details["count"] == 2 and event.details["from"] == ["k1"] and event.details["key_id"] == "k2"
    settings.ATTACHMENT_KEYS = [KEY_2]
    assert {name: content_of(a) for name, a in files.items()} == before
    assert attachments_verify(actor=SYSTEM).ok
    assert attachments_rekey(actor=SYSTEM) == 0  # nothing left to do


def test_removing_the_old_key_before_rotating_fails_the_files_and_the_command(files, settings):
    settings.ATTACHMENT_KEYS = [KEY_2]
    with pytest.raises(UnknownKey):
        content_of(files["pdf"])
    with pytest.raises(CommandError, match="still wrapped by k1") as caught:
        call_command("rotate_attachment_keys")
    assert caught.value.returncode == 1
    assert AuditEvent.objects.get(action="attachment.rekey").details["failed_count"] == 2
    assert {f.failed for f in attachments_verify(actor=SYSTEM).failed} == {"key"}
    settings.ATTACHMENT_KEYS = [KEY_2, KEY_1]  # put back: the rotation goes through
    call_command("rotate_attachment_keys")
    settings.ATTACHMENT_KEYS = [KEY_2]
    assert content_of(files["pdf"]) == PDF
    assert attachments_verify(actor=SYSTEM).ok and attachment_integrity_state().failed_now == 0


# --- retention ------------------------------------------------------------------------------------------------


def _close(cast, *, days_ago: int):
    """Close the cast's client ``days_ago`` days back (the status change is on its timeline then)."""
    at = timezone.now() - timedelta(days=days_ago)
    services.client_status_change(
        actor=replace(cast.actor("sam"), at=at), client_id=cast.client.id, status="closed", reason="転居のため"
    )


def test_purge_removes_the_files_of_clients_closed_longer_than_the_retention(
    files, cast, settings, django_capture_on_commit_callbacks
):
    settings.ATTACHMENT_RETENTION_DAYS = 30
    names = [n for a in files.values() for n in (_blob(a).storage_name, _blob(a).thumbnail_name) if n]
    assert attachments_purge(actor=SYSTEM) == 0  # still supported: nothing goes
    _close(cast, days_ago=10)
    assert attachments_purge(actor=SYSTEM) == 0  # closed, but not long enough
    assert all(object_path(n).exists() for n in names)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        removed = attachments_purge(actor=SYSTEM, now=timezone.now() + timedelta(days=21))
    assert removed == 2
    assert all(object_path(n).exists() for n in names)  # the objects go only once the purge is committed
    for callback in pending:
        callback()
    assert not any(object_path(n).exists() for n in names)
    blobs = [_blob(a) for a in files.values()]
    assert all(b.purged_at is not None and bytes(b.wrapped_key) == b"" for b in blobs)
    event = AuditEvent.objects.get(action="attachment.purge")
    assert event.client_ids == [str(cast.client.id)]
    assert sorted(event.details["attachments"]) == sorted(str(a.pk) for a in files.values())
    assert "同意書" not in str(event.details)
    assert Attachment.objects.filter(pk__in=[a.pk for a in files.values()]).count() == 2  # the record stays
    assert attachments_verify(actor=SYSTEM).checked == 0  # purged files are not checked
    with pytest.raises(Tampered):
        content_of(files["pdf"])


def test_purge_keeps_everything_with_zero_days_and_for_clients_not_closed(files, cast, settings, capsys):
    _close(cast, days_ago=400)
    settings.ATTACHMENT_RETENTION_DAYS = 0
    call_command("purge_attachments")
    assert "every file is kept" in capsys.readouterr().out
    assert attachments_purge(actor=SYSTEM) == 0
    settings.ATTACHMENT_RETENTION_DAYS = 30
    services.client_status_change(
        actor=cast.actor("sam"), client_id=cast.client.id, status="active", reason="再び支援を開始"
    )
    assert attachments_purge(actor=SYSTEM) == 0  # reopened: the latest status change is not a closing
    assert all(_blob(a).purged_at is None for a in files.values())


def test_purge_command_and_task(files, cast, settings, capsys, django_capture_on_commit_callbacks):
    settings.ATTACHMENT_RETENTION_DAYS = 30
    _close(cast, days_ago=31)
    with django_capture_on_commit_callbacks(execute=True):
        assert case_tasks.purge_attachments() == 2
    assert not object_path(_blob(files["pdf"]).storage_name).exists()
    call_command("purge_attachments")
    assert "attachments removed: 0 (clients closed more than 30 days ago)" in capsys.readouterr().out
    assert AuditEvent.objects.get(action="attachment.purge").channel == "task"


def test_a_file_the_check_failed_is_not_served_until_it_passes_again(files, cast):
    pdf = files["pdf"]
    path = object_path(_blob(pdf).storage_name)
    original = path.read_bytes()
    flip_a_byte(_blob(pdf).storage_name)
    attachments_verify(actor=SYSTEM)
    path.write_bytes(original)  # restored: still refused until a check passes (failed_at is what the download reads)
    with pytest.raises(errors.Unavailable):
        attachment_download(actor=cast.actor("bob"), attachment_id=pdf.pk)
    refused = AuditEvent.objects.filter(action="attachment.download").latest("seq")
    assert (refused.outcome, refused.reason) == ("denied", "attachment_damaged")
    attachments_verify(actor=SYSTEM)
    download = attachment_download(actor=cast.actor("bob"), attachment_id=pdf.pk)
    assert b"".join(download.chunks) == PDF
