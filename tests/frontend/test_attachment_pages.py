"""Attachments through the browser's pages, end to end with the real selectors, services and file pipeline: a
photo uploaded with an entry is on the timeline (thumbnail, name, size, links), downloads under its Japanese name,
a refused file shows its error beside the field and writes nothing, a hidden attachment is the same 404 as a
missing one, and a masked one (the client's address is confidential) shows that it exists and nothing more."""

import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from cases import selectors, services
from cases.attachments import Incoming
from cases.models import Attachment, AttachmentBlob, TimelineEntry
from tests.frontend.conftest import strip_tokens, text

HTMX = {"HTTP_HX_REQUEST": "true"}


def jpeg_bytes(size=(64, 48), color=(200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    """The attachments' storage in a directory of the test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        },
    }
    return tmp_path / "attachments"


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def entry_post(client, client_id, files, *, body="同意書を受け取った。", htmx=True):
    data = {"kind": "visit", "occurred_at": "2026-11-20T10:00", "body": body, "corrects": "", "files": files}
    return client.post(reverse("frontend:entry_append", args=[client_id]), data, **(HTMX if htmx else {}))


def attach(cast, name="alice", client_id=None, files=None):
    """An entry with files, written through the service."""
    files = files or [("同意書_2026.pdf", pdf_bytes())]
    return services.timeline_append(
        actor=cast.actor(name),
        client_id=client_id or cast.client.id,
        kind="visit",
        body="書類を添付。",
        files=[Incoming(name=n, file=io.BytesIO(data), size=len(data)) for n, data in files],
    )


def attachments_of(cast, entry, name="alice"):
    timeline = selectors.timeline_list(actor=cast.actor(name), client_id=entry.client_id)
    return next(e for e in timeline.items if e.id == entry.id).attachments


# --- upload through the form -------------------------------------------------------------------------------


def test_a_photo_uploaded_with_an_entry_is_on_the_timeline(cast, as_user, storage):
    client = as_user("alice")
    photo = SimpleUploadedFile("訪問時の写真.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = entry_post(client, cast.client.id, [photo])
    assert response.status_code == 200, text(response)
    entry = TimelineEntry.objects.get(body="同意書を受け取った。")
    [attachment] = Attachment.objects.filter(entry=entry)
    assert attachment.filename == "訪問時の写真.jpg" and attachment.content_type == "image/jpeg"
    assert attachment.has_thumbnail
    assert stored_files(storage)  # content and thumbnail, encrypted
    page = text(response)
    assert f'src="/attachments/{attachment.id}/thumbnail/"' in page
    assert 'alt="訪問時の写真.jpg"' in page and 'width="96" height="96"' in page
    assert f'href="/attachments/{attachment.id}/"' in page
    assert f'href="/attachments/{attachment.id}/preview/"' in page and 'data-preview="image"' in page

    thumb = client.get(reverse("frontend:attachment_thumbnail", args=[attachment.id]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).format == "JPEG"


def test_a_pdf_and_a_photo_without_htmx_then_downloaded_under_the_japanese_name(cast, as_user):
    client = as_user("alice")
    files = [
        SimpleUploadedFile("同意書_2026.pdf", pdf_bytes(), content_type="application/pdf"),
        SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg"),
    ]
    response = entry_post(client, cast.client.id, files, htmx=False)
    assert response.status_code == 302
    entry = TimelineEntry.objects.get(body="同意書を受け取った。")
    pdf, photo = Attachment.objects.filter(entry=entry).order_by("position")
    assert (pdf.filename, photo.filename) == ("同意書_2026.pdf", "photo.jpg")

    page = text(client.get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "同意書_2026.pdf" in page and 'data-preview="pdf"' in page
    assert re.search(r'<span class="file-icon" aria-hidden="true">PDF</span>', page)

    download = client.get(reverse("frontend:attachment_download", args=[pdf.id]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        "attachment; filename=\"2026.pdf\"; filename*=UTF-8''%E5%90%8C%E6%84%8F%E6%9B%B8_2026.pdf"
    )
    assert download["X-Content-Type-Options"] == "nosniff" and download["Cache-Control"] == "private, no-store"
    assert b"".join(download.streaming_content) == pdf_bytes()


def test_a_refused_type_is_shown_beside_the_field_and_nothing_is_written(cast, as_user, storage):
    client = as_user("alice")
    entries, attachments, blobs = TimelineEntry.objects.count(), Attachment.objects.count(), stored_files(storage)
    script = SimpleUploadedFile("説明.pdf", b"#!/bin/sh\necho hello\n", content_type="application/pdf")
    response = entry_post(client, cast.client.id, [script])
    assert response.status_code == 422
    page = text(response)
    errors = re.search(r'<ul class="errorlist" id="entry-files_error">(.*?)</ul>', page, re.S)
    assert errors, page
    assert re.search(r"[ぁ-んァ-ン一-龥]", errors.group(1))  # in Japanese
    assert 'aria-invalid="true"' in page
    assert TimelineEntry.objects.count() == entries
    assert Attachment.objects.count() == attachments and AttachmentBlob.objects.count() == attachments
    assert stored_files(storage) == blobs


def test_an_entry_without_files_is_written_as_before(cast, as_user):
    response = entry_post(as_user("alice"), cast.client.id, [])
    assert response.status_code == 200
    entry = TimelineEntry.objects.get(body="同意書を受け取った。")
    assert not Attachment.objects.filter(entry=entry).exists()


# --- who sees what -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["attachment_download", "attachment_preview", "attachment_thumbnail"])
def test_a_hidden_attachment_is_the_same_404_as_a_missing_one(cast, as_user, name):
    entry = attach(cast, files=[("photo.jpg", jpeg_bytes())])
    [attachment] = Attachment.objects.filter(entry_id=entry.id)
    charlie = as_user("charlie")  # no share
    hidden = charlie.get(reverse(f"frontend:{name}", args=[attachment.id]))
    missing = charlie.get(reverse(f"frontend:{name}", args=[uuid.uuid4()]))
    assert hidden.status_code == missing.status_code == 404
    assert strip_tokens(hidden.content) == strip_tokens(missing.content)
    assert "photo.jpg" not in text(hidden)


def test_a_masked_attachment_shows_that_it_exists_and_nothing_more(cast, as_user):
    alice = cast.actor("alice")
    client = services.client_update(actor=alice, client_id=cast.client.id, changes={"address_confidential": True})
    assert client.address_confidential
    entry = attach(cast, files=[("自宅の写真.jpg", jpeg_bytes())])
    [attachment] = Attachment.objects.filter(entry_id=entry.id)
    [seen] = attachments_of(cast, entry, "bob")
    assert seen.masked

    bob = as_user("bob")
    page = text(bob.get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "添付ファイル（住所秘匿のため表示できません）" in page
    assert "自宅の写真.jpg" not in page and str(attachment.id) not in page
    for name in ("attachment_download", "attachment_preview", "attachment_thumbnail"):
        response = bob.get(reverse(f"frontend:{name}", args=[attachment.id]))
        assert response.status_code == 403, name
        assert "Content-Disposition" not in response

    own = text(as_user("alice").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "自宅の写真.jpg" in own and f"/attachments/{attachment.id}/thumbnail/" in own


def test_a_scanner_out_of_reach_is_said_beside_the_field_and_nothing_is_written(cast, as_user, storage, settings):
    settings.ATTACHMENT_SCANNER = "clamd"
    settings.ATTACHMENT_CLAMD_ADDRESS = f"unix://{storage.parent / 'no-clamd.sock'}"
    entries = TimelineEntry.objects.count()
    photo = SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")
    for htmx in (True, False):
        response = entry_post(as_user("alice"), cast.client.id, [photo], htmx=htmx)
        assert response.status_code == (422 if htmx else 400)
        errors = re.search(r'<ul class="errorlist" id="entry-files_error">(.*?)</ul>', text(response), re.S)
        assert errors and "しばらくしてから" in errors.group(1), text(response)
        photo.seek(0)
    assert TimelineEntry.objects.count() == entries
    assert not Attachment.objects.exists() and stored_files(storage) == []
