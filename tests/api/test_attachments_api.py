"""Attachments over HTTP: an entry with files as multipart/form-data, the `attachments` field, the download, the
idempotency of uploads, and the problems (type, size, integrity, retention)."""

import hashlib
import io
import uuid
from urllib.parse import quote

import pytest
from django.core.files.storage import storages
from django.utils import timezone
from PIL import Image

from cases.models import Attachment, AttachmentBlob, TimelineEntry

from .helpers import assert_problem, events_since, last_seq

ATTACHMENT_FIELDS = {"id", "filename", "content_type", "size", "sha256", "masked", "available"}
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (80, 60), "orange")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (37.0, 38.0, 0.0), 3: "E", 4: (138.0, 57.0, 0.0)}  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def post_entry(client, cast, files, headers=None, **fields):
    data = {"kind": "visit", "body": "同意書を受け取った。", **fields, "files": files}
    return client.post(f"/api/v1/clients/{cast.client.id}/timeline/", data, format="multipart", headers=headers or {})


def test_an_entry_with_files_lists_them_and_each_upload_is_audited(cast, api):
    seq = last_seq()
    response = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF), upload("玄関.jpg", jpeg_with_gps())])
    assert response.status_code == 201, response.content
    files = response.json()["attachments"]
    assert [set(f) for f in files] == [ATTACHMENT_FIELDS] * 2
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("同意書.pdf", "application/pdf"),
        ("玄関.jpg", "image/jpeg"),
    ]
    assert files[0]["size"] == len(PDF) and files[0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    events = events_since(seq)
    uploads = [e for e in events if e.action == "attachment.upload"]
    assert [e.target_id for e in uploads] == [f["id"] for f in files]
    assert all(e.client_ids == [str(cast.client.id)] and e.outcome == "allowed" for e in uploads)
    assert not any("同意書" in str(e.details) or "玄関" in str(e.details) for e in events)  # no file names logged
    [append] = [e for e in events if e.action == "timeline.append"]
    assert append.details["attachments"] == 2
    # The timeline lists them with the entry.
    timeline = api("bob").get(f"/api/v1/clients/{cast.client.id}/timeline/").json()["results"]
    assert [f["id"] for f in timeline[0]["attachments"]] == [f["id"] for f in files]
    assert timeline[1]["attachments"] == []


def test_download_streams_the_file_with_safe_headers(cast, api):
    files = post_entry(api("alice"), cast, [upload("同意書 2026.pdf", PDF)]).json()["attachments"]
    seq = last_seq()
    response = api("bob").get(f"/api/v1/attachments/{files[0]['id']}/")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(PDF))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('同意書 2026.pdf', safe='')}" in disposition
    assert 'filename="' in disposition and "同意書" not in disposition.split("filename*")[0]  # ASCII fallback
    [event] = events_since(seq)
    assert (event.action, event.outcome, event.target_type, event.target_id) == (
        "attachment.download",
        "allowed",
        "attachment",
        files[0]["id"],
    )
    assert event.client_ids == [str(cast.client.id)]


def test_gps_is_removed_from_a_photo(cast, api):
    original = jpeg_with_gps()
    assert b"CameraMaker" in original
    files = post_entry(api("alice"), cast, [upload("玄関.jpg", original)]).json()["attachments"]
    served = b"".join(api("alice").get(f"/api/v1/attachments/{files[0]['id']}/").streaming_content)
    assert Image.open(io.BytesIO(served)).getexif() == {}
    assert b"CameraMaker" not in served and b"Exif" not in served
    assert files[0]["sha256"] == hashlib.sha256(served).hexdigest()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("手順書.pdf", b"MZ\x90\x00" + b"\x00" * 60),  # an executable named .pdf
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        ("empty.pdf", b""),
    ],
)
def test_a_refused_file_refuses_the_entry_and_writes_nothing(cast, api, name, data):
    entries, attachments = TimelineEntry.objects.count(), Attachment.objects.count()
    response = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF), upload(name, data)])
    assert_problem(response, 400)
    assert "files" in response.json()["errors"]
    assert name in " ".join(response.json()["errors"]["files"])
    assert (TimelineEntry.objects.count(), Attachment.objects.count()) == (entries, attachments)


def test_size_limits_are_clear_errors(cast, api, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    response = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF + b"%" * 200)])
    assert_problem(response, 400)
    assert "同意書.pdf" in " ".join(response.json()["errors"]["files"])
    settings.ATTACHMENT_MAX_BYTES = 10_000
    settings.ATTACHMENT_MAX_FILES = 2
    response = post_entry(api("alice"), cast, [upload(f"{i}.pdf", PDF) for i in range(3)])
    assert_problem(response, 400)
    assert not Attachment.objects.exists()


def test_a_body_far_over_the_limit_is_stopped_while_it_arrives(cast, api, settings):
    settings.ATTACHMENT_MAX_ENTRY_BYTES = 1000
    response = post_entry(api("alice"), cast, [upload("big.pdf", PDF + b"%" * 5000)])
    assert_problem(response, 413)
    assert not Attachment.objects.exists()


def test_json_entries_still_work_and_a_file_part_under_another_name_is_refused(cast, api):
    response = api("alice").post(
        f"/api/v1/clients/{cast.client.id}/timeline/", {"kind": "visit", "body": "訪問した。"}, format="json"
    )
    assert response.status_code == 201 and response.json()["attachments"] == []
    response = api("alice").post(
        f"/api/v1/clients/{cast.client.id}/timeline/",
        {"kind": "visit", "body": "訪問した。", "file": upload("a.pdf", PDF)},
        format="multipart",
    )
    assert_problem(response, 400)
    assert "file" in response.json()["errors"]


def test_idempotency_key_with_uploads(cast, api):
    key = {"Idempotency-Key": "upload-1"}
    first = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF)], headers=key)
    again = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF)], headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Attachment.objects.count() == 1
    other = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF.replace(b"1.4", b"1.5"))], headers=key)
    assert_problem(other, 409)  # same key, another file: not the same request
    assert Attachment.objects.count() == 1


def test_tampered_content_is_reported_and_not_served(cast, api):
    files = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF)]).json()["attachments"]
    blob = AttachmentBlob.objects.get(pk=files[0]["id"])
    storage = storages["attachments"]
    with storage.open(blob.storage_name, "rb") as handle:
        stored = bytearray(handle.read())
    assert PDF[:32] not in stored  # encrypted at rest
    stored[-20] ^= 0x01
    storage.delete(blob.storage_name)
    storage.save(blob.storage_name, io.BytesIO(bytes(stored)))
    seq = last_seq()
    response = api("bob").get(f"/api/v1/attachments/{files[0]['id']}/")
    assert_problem(response, 503)
    assert [(e.action, e.outcome) for e in events_since(seq)] == [
        ("attachment.download", "denied"),
        ("attachment.integrity_failed", "error"),
    ]
    failure = events_since(seq)[1]
    assert (failure.reason, failure.details["failed"], failure.details["found_by"]) == (
        "attachment_damaged",
        "content",
        "attachment.download",
    )
    assert AttachmentBlob.objects.get(pk=files[0]["id"]).failed_at is not None
    # From then on it is refused without being read again.
    assert_problem(api("alice").get(f"/api/v1/attachments/{files[0]['id']}/"), 503)


def test_a_file_removed_by_retention_is_gone(cast, api):
    files = post_entry(api("alice"), cast, [upload("同意書.pdf", PDF)]).json()["attachments"]
    AttachmentBlob.objects.filter(pk=files[0]["id"]).update(purged_at=timezone.now())
    assert_problem(api("alice").get(f"/api/v1/attachments/{files[0]['id']}/"), 410)
    listed = api("alice").get(f"/api/v1/clients/{cast.client.id}/timeline/").json()["results"][0]["attachments"]
    assert listed[0]["available"] is False


def test_a_missing_attachment_is_a_problem_404(api):
    assert_problem(api("alice").get(f"/api/v1/attachments/{uuid.uuid4()}/"), 404)
    assert_problem(api("alice").get("/api/v1/attachments/not-a-uuid/"), 404)


def test_a_large_download_streams_in_bounded_memory(cast, api, settings):
    """A 48 MiB file goes out through the API in chunks: neither the hash check nor the response holds it whole."""
    import tempfile
    import tracemalloc

    from cases import services
    from cases.attachments import Incoming

    size = 48 * 1024 * 1024
    settings.ATTACHMENT_MAX_BYTES = settings.ATTACHMENT_MAX_ENTRY_BYTES = size + 1024
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as source:
        source.write(PDF)
        digest.update(PDF)
        block = bytes(range(256)) * 4096  # 1 MiB
        while source.tell() + len(block) <= size:
            source.write(block)
            digest.update(block)
        length = source.tell()
        source.seek(0)
        entry = services.timeline_append(
            actor=cast.actor("alice"),
            client_id=cast.client.id,
            kind="visit",
            body="大きな資料を受け取った。",
            files=[Incoming(name="資料.pdf", file=source, size=length)],
        )
    attachment = entry.attachments[0]
    assert (attachment.size, attachment.sha256) == (length, digest.hexdigest())
    tracemalloc.start()
    try:
        response = api("bob").get(f"/api/v1/attachments/{attachment.id}/")
        assert response.status_code == 200 and response.streaming
        received, served = 0, hashlib.sha256()
        for chunk in response.streaming_content:
            received += len(chunk)
            served.update(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (received, served.hexdigest()) == (length, digest.hexdigest())
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming {length / 1e6:.0f} MB"
