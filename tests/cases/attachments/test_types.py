"""The type of a file is decided by its content; everything outside the accepted list is refused by name."""

import io

import pytest
from PIL import Image

from cases.attachments import Rejected, check, prepare
from cases.attachments.store import safe_filename
from cases.attachments.types import PDF

from .samples import (
    EXCEL_MAIN,
    OLE2,
    POWERPOINT_MAIN,
    WORD_MACRO_MAIN,
    WORD_MAIN,
    image,
    incoming,
    odf,
    ooxml,
    plain_zip,
)
from .samples import PDF as PDF_BYTES


def heic() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, format="HEIF", quality=90)
    return out.getvalue()


ACCEPTED = [
    ("同意書.pdf", lambda: PDF_BYTES, "application/pdf", "同意書.pdf"),
    ("photo.JPEG", lambda: image("JPEG"), "image/jpeg", "photo.jpg"),
    ("図.png", lambda: image("PNG"), "image/png", "図.png"),
    ("IMG_0001.HEIC", heic, "image/jpeg", "IMG_0001.jpg"),
    (
        "報告.docx",
        lambda: ooxml(WORD_MAIN),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "報告.docx",
    ),
    (
        "表.xlsx",
        lambda: ooxml(EXCEL_MAIN, "xl/workbook.xml"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "表.xlsx",
    ),
    (
        "資料.pptx",
        lambda: ooxml(POWERPOINT_MAIN, "ppt/presentation.xml"),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "資料.pptx",
    ),
    (
        "文書.odt",
        lambda: odf("application/vnd.oasis.opendocument.text"),
        "application/vnd.oasis.opendocument.text",
        "文書.odt",
    ),
    (
        "表.ods",
        lambda: odf("application/vnd.oasis.opendocument.spreadsheet"),
        "application/vnd.oasis.opendocument.spreadsheet",
        "表.ods",
    ),
    (
        "発表.odp",
        lambda: odf("application/vnd.oasis.opendocument.presentation"),
        "application/vnd.oasis.opendocument.presentation",
        "発表.odp",
    ),
    # The name does not decide: PNG content named .pdf is a PNG, and its name says so.
    ("scan.pdf", lambda: image("PNG"), "image/png", "scan.png"),
    ("no extension", lambda: PDF_BYTES, "application/pdf", "no extension.pdf"),
]


@pytest.mark.parametrize(("name", "make", "content_type", "filename"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_types(name, make, content_type, filename):
    upload = incoming(name, make())
    assert check([upload]) == []
    with prepare(upload) as prepared:
        assert prepared.content_type == content_type
        assert prepared.filename == filename
        assert prepared.content.read(4)  # at position 0


GENERIC = (
    "は受け付けられない種類のファイルです"
    "（PDF、JPEG、PNG、HEIC、Word・Excel・PowerPoint（.docx/.xlsx/.pptx）、OpenDocument）。"
)
REFUSED = [
    ("setup.exe", b"MZ\x90\x00" + bytes(200), GENERIC),
    ("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", GENERIC),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', GENERIC),
    ("photo.jpg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", GENERIC),  # the claimed extension does not help
    ("archive.zip", plain_zip(), GENERIC),
    ("renamed.docx", plain_zip(), GENERIC),
    ("notes.txt", b"just text", GENERIC),
    (
        "old.doc",
        OLE2,
        "は古い形式のOffice文書（.doc/.xls/.ppt）のため受け付けられません。"
        ".docx/.xlsx/.pptx または PDF で保存し直してください。",
    ),
    ("old.xls", OLE2, ".docx/.xlsx/.pptx または PDF で保存し直してください。"),
    ("macro.docm", ooxml(WORD_MACRO_MAIN), "はマクロを含む文書のため受け付けられません。"),
    ("macro.docx", ooxml(WORD_MAIN, extra={"word/vbaProject.bin": b"\x00" * 16}), "はマクロを含む文書のため"),
    (
        "macro.odt",
        odf("application/vnd.oasis.opendocument.text", {"Basic/Standard/Module1.xml": b"<m/>"}),
        "はマクロを含む",
    ),
    ("activex.docx", ooxml(WORD_MAIN, extra={"word/activeX/activeX1.bin": b"\x00" * 16}), "はマクロを含む文書のため"),
    ("other.odg", odf("application/vnd.oasis.opendocument.graphics"), GENERIC),
    ("broken.zip", b"PK\x03\x04" + bytes(100), GENERIC),
]


@pytest.mark.parametrize(("name", "content", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_types(name, content, message):
    with pytest.raises(Rejected) as refused:
        prepare(incoming(name, content))
    assert refused.value.code == "type"
    assert refused.value.message.startswith(f"「{name}」")
    assert message in refused.value.message


@pytest.mark.parametrize(("name", "content", "message"), [r for r in REFUSED if r[1][:2] != b"PK"])
def test_check_refuses_by_first_bytes(name, content, message):
    """``check`` sees the magic bytes only: a ZIP waits for ``prepare``, everything else is told at once."""
    (only,) = check([incoming(name, content)])
    assert only.startswith(f"「{name}」") and message in only


def test_corrupt_image_is_refused():
    with pytest.raises(Rejected) as refused:
        prepare(incoming("broken.jpg", image("JPEG")[:200]))
    assert refused.value.code == "image"
    assert "「broken.jpg」は画像として読み取れません" in refused.value.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\山田\\同意書.PDF", "同意書.pdf"),
        ("evil\u202egpj.exe", "evilgpj.pdf"),  # a right-to-left override would show it as ...exe.jpg
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("..", "添付ファイル.pdf"),
        ("", "添付ファイル.pdf"),
        (".pdf", "pdf.pdf"),  # a hidden file's name, without its leading dot
        ("ﾃｽﾄ.pdf", "ﾃｽﾄ.pdf"),  # NFC keeps half-width katakana (NFKC would not)
        ("カ\u3099.pdf", "ガ.pdf"),  # decomposed (as macOS sends it) becomes composed
        ("議事録.2024.pdf", "議事録.2024.pdf"),
        ('a<b>:"c"|?*.pdf', "a_b___c____.pdf"),
        ("あ" * 300 + ".pdf", "あ" * 251 + ".pdf"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name, PDF) == expected
    assert len(safe_filename(name, PDF)) <= 255


def test_an_archive_with_too_big_a_directory_is_refused_before_reading_it(monkeypatch):
    """zipfile would read every entry of the central directory into memory: the end record is checked first."""
    from cases.attachments import types

    document = ooxml(WORD_MAIN, extra={f"word/media/{n}.xml": b"" for n in range(20)})
    with prepare(incoming("ok.docx", document)) as prepared:
        assert prepared.filename == "ok.docx"
    monkeypatch.setattr(types, "_ZIP_MAX_ENTRIES", 10)
    with pytest.raises(Rejected):
        prepare(incoming("many.docx", document))
    monkeypatch.setattr(types, "_ZIP_MAX_ENTRIES", 20_000)
    monkeypatch.setattr(types, "_ZIP_MAX_DIRECTORY", 500)
    with pytest.raises(Rejected):
        prepare(incoming("many.docx", document))
