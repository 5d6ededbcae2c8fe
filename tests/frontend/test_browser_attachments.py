"""Attachments in a real browser (Chromium, Japanese, desktop 1366×900 and tablet 820×1180): files chosen with the
file button and dropped on the drop zone are listed (name, size, 取り消す), sent with the entry as multipart with a
progress bar, and shown on the timeline (a thumbnail for the photo, a type mark for the PDF); the preview opens in
the page's dialog from our own origin, and the download keeps the Japanese name. The camera button is offered on
the tablet only."""

import base64
import io
import re
import time

import pytest
from playwright.sync_api import expect

from cases import services
from cases.models import Attachment
from tests.frontend.conftest import both_viewports, shot, viewport_name
from tests.frontend.test_attachment_pages import jpeg_bytes, pdf_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BODY = "同意書と自宅の様子の写真を受け取った。"


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        },
    }


@pytest.fixture
def slow_append(monkeypatch):
    """The service takes a moment, so that the form's progress can be seen while the request is under way."""
    append = services.timeline_append

    def slow(**kwargs):
        time.sleep(1.5)
        return append(**kwargs)

    monkeypatch.setattr(services, "timeline_append", slow)


DROP = """([name, type, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type}));
  return transfer;
}"""


@both_viewports
def test_choose_drop_upload_preview_and_download(cast, open_as, live_server, viewport, storage, slow_append):
    page = open_as("alice")
    label = viewport_name(page)
    page.goto(f"{live_server.url}/clients/{cast.client.id}/")
    form = page.locator("#entry-form-wrap")

    # The camera button: on the tablet, not on the desktop.
    camera = form.get_by_text("写真を撮る")
    if label == "tablet":
        expect(camera).to_be_visible()
        assert form.locator("#entry-files-camera").get_attribute("capture") == "environment"
    else:
        expect(camera).to_be_hidden()
    expect(form.get_by_text("1ファイル20MBまで、1件の記録に合計50MB・10ファイルまで。")).to_be_visible()

    form.get_by_label("内容").fill(BODY)
    # The file button: a photo (and a mistaken file, taken out again).
    form.locator("#entry-files").set_input_files(
        [
            {"name": "自宅の様子.png", "mimeType": "image/png", "buffer": png_bytes()},
            {"name": "間違い.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()},
        ]
    )
    chosen = form.locator("[data-file-list] li")
    expect(chosen).to_have_count(2)
    form.get_by_role("button", name="間違い.jpg を取り消す").click()
    expect(chosen).to_have_count(1)
    # The drop zone: the consent form dropped on it joins the list.
    transfer = page.evaluate_handle(
        DROP, ["同意書_2026.pdf", "application/pdf", base64.b64encode(pdf_bytes()).decode()]
    )
    form.locator("[data-dropzone]").dispatch_event("drop", {"dataTransfer": transfer})
    expect(chosen).to_have_count(2)
    expect(chosen.nth(0)).to_contain_text("自宅の様子.png")
    expect(chosen.nth(1)).to_contain_text("同意書_2026.pdf")
    expect(chosen.nth(1)).to_contain_text(re.compile(r"\d+(\.\d)? (B|KB)"))
    assert page.evaluate("document.getElementById('entry-files').files.length") == 2
    expect(form.locator("[data-file-summary]")).to_contain_text("選んだファイル: 2件")

    # Sent as multipart, with its progress shown while the request is under way.
    form.get_by_role("button", name="記録する").click()
    progress = page.locator(".upload-progress")
    expect(progress.locator("progress")).to_be_visible()
    expect(progress).to_contain_text(re.compile(r"送信中… \d+%"))
    expect(page.get_by_text("支援記録を追加しました。")).to_be_visible()

    entry = page.locator("#timeline li.entry").filter(has_text=BODY)
    files = entry.locator("ul.attachments > li")
    expect(files).to_have_count(2)
    photo, consent = (Attachment.objects.get(filename=n) for n in ("自宅の様子.png", "同意書_2026.pdf"))
    thumb = files.nth(0).get_by_role("img", name="自宅の様子.png")
    expect(thumb).to_have_attribute("src", f"/attachments/{photo.id}/thumbnail/")
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320", arg=thumb.element_handle()
    )
    expect(files.nth(1)).to_contain_text("同意書_2026.pdf")
    expect(files.nth(1).locator(".file-icon")).to_have_text("PDF")

    # The photo's preview: an image from our own origin in the dialog.
    files.nth(0).get_by_role("link", name=re.compile("^プレビュー")).click()
    dialog = page.locator("#attachment-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="自宅の様子.png")).to_be_visible()
    image = dialog.get_by_role("img", name="自宅の様子.png")
    expect(image).to_have_attribute("src", f"/attachments/{photo.id}/preview/")
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 640", arg=image.element_handle())
    dialog.get_by_role("button", name="閉じる").click()
    expect(dialog).to_be_hidden()
    expect(dialog.locator("img")).to_have_count(0)  # emptied: nothing keeps loading

    # The PDF's preview: an iframe of our own preview URL, which is sent inline under its own policy.
    files.nth(1).get_by_role("link", name=re.compile("^プレビュー")).click()
    frame = dialog.locator("iframe")
    expect(frame).to_have_attribute("src", f"/attachments/{consent.id}/preview/")
    expect(frame).to_have_attribute("title", "同意書_2026.pdf")
    shot(page, f"attachment-preview-pdf-{label}")
    preview = page.request.get(f"{live_server.url}/attachments/{consent.id}/preview/")
    assert preview.status == 200
    assert preview.headers["content-disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    client_page = page.request.get(f"{live_server.url}/clients/{cast.client.id}/")
    assert "frame-src 'self'" in client_page.headers["content-security-policy"]

    # Download from the dialog: the Japanese name is kept.
    with page.expect_download() as info:
        dialog.get_by_role("link", name="ダウンロード").click()
    download = info.value
    assert download.suggested_filename == "同意書_2026.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == pdf_bytes()
    dialog.get_by_role("button", name="閉じる").click()

    # And from the timeline's own link.
    with page.expect_download() as info:
        files.nth(0).get_by_role("link", name=re.compile("^ダウンロード")).click()
    assert info.value.suggested_filename == "自宅の様子.png"


@both_viewports
def test_a_refused_file_is_shown_beside_the_field(cast, open_as, live_server, viewport, storage):
    page = open_as("alice")
    page.goto(f"{live_server.url}/clients/{cast.client.id}/")
    form = page.locator("#entry-form-wrap")
    form.get_by_label("内容").fill("実行ファイルを添付しようとした。")
    form.locator("#entry-files").set_input_files(
        [{"name": "説明.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00not a pdf at all"}]
    )
    form.get_by_role("button", name="記録する").click()
    error = page.locator("#entry-files_error")
    expect(error).to_be_visible()
    expect(page.locator("#entry-files")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#timeline")).not_to_contain_text("実行ファイルを添付しようとした。")
    assert not Attachment.objects.exists()
