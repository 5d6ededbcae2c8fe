"""Attachments in the browser, the views' side: download, preview and thumbnail are thin adapters over the
audited selectors (faked here, so that each header and each error page is pinned on its own), the one place that
builds a download's headers (``tsunagu.downloads``), and the entry form's file inputs."""

import uuid
from urllib.parse import unquote

import pytest
from django.urls import reverse

from cases import attachment_selectors
from cases.attachment_selectors import Download
from cases.read_models import AttachmentView
from tests.frontend.conftest import strip_tokens, text
from tsunagu.downloads import ascii_filename, content_disposition, streaming_file_response
from tsunagu.errors import Forbidden, Gone, NotFound, Unavailable

CONSENT = "同意書_2026.pdf"
PDF = b"%PDF-1.4\n" + b"0" * 70_000 + b"\n%%EOF\n"


def view_of(filename=CONSENT, content_type="application/pdf", size=None, **kwargs) -> AttachmentView:
    return AttachmentView(
        id=uuid.uuid4(),
        entry_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        filename=filename,
        content_type=content_type,
        size=len(PDF) if size is None else size,
        sha256="0" * 64,
        has_thumbnail=content_type.startswith("image/"),
        **kwargs,
    )


def chunked(data: bytes, size: int = 65536):
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def fake(monkeypatch):
    """The selectors answering with a PDF (or what a test sets), recording how they were called."""
    calls = []
    state = {"view": view_of(), "content": PDF, "content_type": "application/pdf", "error": None}

    def answer(kind):
        def selector(*, actor, attachment_id, inline=False):
            calls.append({"kind": kind, "actor": actor, "attachment_id": attachment_id, "inline": inline})
            if state["error"] is not None:
                raise state["error"]
            content = state["content"]
            return Download(state["view"], state["content_type"], len(content), chunked(content))

        return selector

    monkeypatch.setattr(attachment_selectors, "attachment_download", answer("download"))
    monkeypatch.setattr(attachment_selectors, "attachment_thumbnail", answer("thumbnail"))
    state["calls"] = calls
    return state


def url(name: str, attachment_id) -> str:
    return reverse(f"frontend:{name}", args=[attachment_id])


# --- the headers -------------------------------------------------------------------------------------------


def test_content_disposition_keeps_a_japanese_name_per_rfc_6266_with_an_ascii_fallback():
    value = content_disposition(CONSENT)
    assert value == ("attachment; filename=\"2026.pdf\"; filename*=UTF-8''%E5%90%8C%E6%84%8F%E6%9B%B8_2026.pdf")
    assert unquote(value.split("filename*=UTF-8''")[1]) == CONSENT
    assert content_disposition("写真.jpg", inline=True) == (
        "inline; filename=\"attachment.jpg\"; filename*=UTF-8''%E5%86%99%E7%9C%9F.jpg"
    )
    assert content_disposition("report 2026.docx").startswith('attachment; filename="report 2026.docx";')


@pytest.mark.parametrize(
    "name",
    ['a"b.pdf', "a\\b.pdf", "a\r\nSet-Cookie: x=1.pdf", "a;b=c.pdf", "", "../../etc/passwd", "café.png"],
)
def test_content_disposition_cannot_be_broken_out_of(name):
    value = content_disposition(name)
    assert "\r" not in value and "\n" not in value
    fallback = value.split('filename="')[1].split('"')[0]
    assert fallback and fallback.isascii() and "\\" not in fallback and ";" not in fallback and "/" not in fallback
    encoded = value.split("filename*=UTF-8''")[1]
    assert all(c.isalnum() or c in "%!#$&+-.^_`|~" for c in encoded), encoded
    assert value.count(";") == 2


def test_ascii_filename():
    assert ascii_filename("café.png") == "cafe.png"
    assert ascii_filename("同意書.pdf") == "attachment.pdf"
    assert ascii_filename("同意書") == "attachment"


def test_the_streaming_response_sends_the_chunks_as_they_come():
    view = view_of()
    pulled = []

    def chunks():
        for part in chunked(PDF):
            pulled.append(len(part))
            yield part

    response = streaming_file_response(Download(view, "application/pdf", len(PDF), chunks()))
    assert response.streaming and pulled == []  # nothing read before the response is sent
    assert b"".join(response.streaming_content) == PDF
    assert len(pulled) == 2


# --- download ----------------------------------------------------------------------------------------------


def test_download_is_streamed_as_an_attachment_that_is_never_sniffed_nor_stored(cast, as_user, fake):
    attachment_id = uuid.uuid4()
    response = as_user("alice").get(url("attachment_download", attachment_id))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(PDF))
    assert response["Content-Disposition"] == content_disposition(CONSENT)
    assert "filename*=UTF-8''%E5%90%8C%E6%84%8F%E6%9B%B8_2026.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == PDF
    [call] = fake["calls"]
    assert call["kind"] == "download" and call["attachment_id"] == str(attachment_id) and call["inline"] is False
    assert call["actor"].user == cast.users["alice"] and call["actor"].channel == "web"


def test_download_needs_a_signed_in_user(cast, client, fake):
    response = client.get(url("attachment_download", uuid.uuid4()))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert fake["calls"] == []


def test_download_is_get_only(cast, as_user, fake):
    assert as_user("alice").post(url("attachment_download", uuid.uuid4())).status_code == 405
    assert fake["calls"] == []


# --- preview -----------------------------------------------------------------------------------------------

PREVIEW_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'none'"
)


@pytest.mark.parametrize(("filename", "content_type"), [(CONSENT, "application/pdf"), ("自宅の様子.png", "image/png")])
def test_preview_is_inline_under_a_policy_of_its_own_framed_only_by_our_pages(
    cast, as_user, fake, filename, content_type
):
    fake["view"] = view_of(filename, content_type)
    fake["content_type"] = content_type
    response = as_user("alice").get(url("attachment_preview", uuid.uuid4()))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == content_disposition(filename, inline=True)
    assert response["Content-Security-Policy"] == PREVIEW_CSP
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert fake["calls"][0]["inline"] is True


def test_a_document_that_is_not_previewable_is_sent_as_a_download_even_from_the_preview_url(cast, as_user, fake):
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    fake["view"] = view_of("支援計画.docx", docx)
    fake["content_type"] = docx
    response = as_user("alice").get(url("attachment_preview", uuid.uuid4()))
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_site_frames_nothing_except_the_client_pages_own_preview(cast, as_user):
    client = as_user("alice")
    page = client.get(reverse("frontend:client_detail", args=[cast.client.id]))
    assert "frame-src 'self'" in page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "script-src 'self'" in page["Content-Security-Policy"]
    other = client.get(reverse("frontend:client_list"))
    assert "frame-src 'none'" in other["Content-Security-Policy"]


# --- thumbnail ---------------------------------------------------------------------------------------------


def test_thumbnail_is_a_jpeg_the_browser_alone_may_keep(cast, as_user, fake):
    fake["view"] = view_of("自宅の様子.png", "image/png")
    fake["content_type"] = "image/jpeg"
    fake["content"] = b"\xff\xd8\xff\xe0" + b"1" * 100
    response = as_user("alice").get(url("attachment_thumbnail", uuid.uuid4()))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=600"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == fake["content"]
    assert fake["calls"][0]["kind"] == "thumbnail"


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["attachment_download", "attachment_preview", "attachment_thumbnail"])
def test_not_found_is_the_one_not_found_page(cast, as_user, fake, name):
    client = as_user("alice")
    missing_client = client.get(reverse("frontend:client_detail", args=[uuid.uuid4()]))
    fake["error"] = NotFound("秘密の理由")
    response = client.get(url(name, uuid.uuid4()))
    assert response.status_code == 404
    assert strip_tokens(response.content) == strip_tokens(missing_client.content)
    assert "Content-Disposition" not in response
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]  # the site's page, not the preview's


def test_forbidden_is_the_403_page_with_its_reason(cast, as_user, fake):
    fake["error"] = Forbidden("住所秘匿のため、この添付ファイルは表示できません。")
    response = as_user("bob").get(url("attachment_download", uuid.uuid4()))
    assert response.status_code == 403
    assert "住所秘匿のため、この添付ファイルは表示できません。" in text(response)
    assert "Content-Disposition" not in response


def test_gone_is_410_in_japanese(cast, as_user, fake):
    fake["error"] = Gone()
    response = as_user("alice").get(url("attachment_download", uuid.uuid4()))
    assert response.status_code == 410
    body = text(response)
    assert "削除されました" in body and "保存期間を過ぎたため削除されました。" in body


def test_unavailable_is_503(cast, as_user, fake):
    fake["error"] = Unavailable()
    response = as_user("alice").get(url("attachment_preview", uuid.uuid4()))
    assert response.status_code == 503
    assert "現在ご利用いただけません" in text(response)
    assert "Content-Disposition" not in response


# --- an entry's files on the timeline ----------------------------------------------------------------------


def test_an_entrys_files_as_the_timeline_shows_them():
    from django.template.loader import render_to_string

    photo = view_of("自宅の様子.png", "image/png", size=1_258_291)
    consent = view_of(CONSENT, size=70_016)
    masked = view_of("秘密の住所.jpg", "image/jpeg", masked=True)
    gone = view_of("古い書類.pdf", available=False)
    docx = view_of("支援計画.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    html = render_to_string("frontend/_attachments.html", {"attachments": [photo, consent, masked, gone, docx]})
    items = html.split("<li")[1:]
    assert len(items) == 5

    assert f'<img class="attachment-thumb" src="/attachments/{photo.id}/thumbnail/" width="96" height="96"' in items[0]
    assert 'alt="自宅の様子.png"' in items[0] and "1.2 MB" in items[0]
    assert f'href="/attachments/{photo.id}/" download>ダウンロード' in items[0]
    assert f'href="/attachments/{photo.id}/preview/"' in items[0] and 'data-preview="image"' in items[0]

    assert "<img" not in items[1] and '<span class="file-icon" aria-hidden="true">PDF</span>' in items[1]
    assert "68.4 KB" in items[1] and 'data-preview="pdf"' in items[1]

    assert "添付ファイル（住所秘匿のため表示できません）" in items[2]
    assert "秘密の住所" not in items[2] and str(masked.id) not in items[2] and "<img" not in items[2]
    assert "href" not in items[2]

    assert "古い書類.pdf" in items[3] and "保存期間経過により削除" in items[3] and "href" not in items[3]

    assert "DOCX" in items[4] and "data-preview" not in items[4] and f'href="/attachments/{docx.id}/"' in items[4]


# --- the entry form ----------------------------------------------------------------------------------------


def test_the_entry_form_sends_files_by_button_camera_or_drop_with_the_limits_as_a_hint(cast, as_user, settings):
    settings.ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
    settings.ATTACHMENT_MAX_ENTRY_BYTES = 50 * 1024 * 1024
    settings.ATTACHMENT_MAX_FILES = 10
    body = text(as_user("alice").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert 'enctype="multipart/form-data"' in body and 'hx-encoding="multipart/form-data"' in body
    assert (
        '<input type="file" name="files" id="entry-files" multiple accept=".pdf,.jpg,.jpeg,.png,.heic,.heif,.docx,'
        '.xlsx,.pptx,.odt,.ods,.odp,application/pdf,image/*"' in body
    )
    assert 'name="files" id="entry-files-camera" accept="image/*" capture="environment"' in body
    assert "写真を撮る" in body and "data-dropzone" in body
    assert "1ファイル20MBまで、1件の記録に合計50MB・10ファイルまで。" in body
    assert "<progress" in body
    assert 'id="attachment-dialog"' in body
