"""The demo's generated attachments: a well-formed PDF consent form in Japanese, and a photo carrying GPS EXIF."""

import io
import re
from datetime import date

from PIL import Image

from cases.demo.files import consent_form_pdf, has_gps, home_photo_jpeg


def _pdf() -> bytes:
    return consent_form_pdf(
        client_name="長谷川 勝", agency_names=["三条市 福祉課", "三条市社会福祉協議会"], signed_on=date(2026, 11, 20)
    )


def test_the_consent_form_is_a_well_formed_pdf():
    pdf = _pdf()
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref\n0 9\n")
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf]) \n", pdf[startxref:])
    assert len(entries) == 9 and entries[0] == (b"0000000000", b"65535", b"f")
    for number, (offset, _generation, _kind) in enumerate(entries[1:], start=1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj\n" % number), number
    stream = re.search(rb"<< /Length (\d+) >>\nstream\n", pdf)
    length = int(stream.group(1))
    assert pdf[stream.end() + length :].startswith(b"\nendstream")
    assert b"/Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H" in pdf
    assert b"/Subtype /CIDFontType0" in pdf and b"/FontFile" not in pdf  # not embedded


def test_the_consent_form_says_what_it_is_in_japanese():
    pdf = _pdf()
    for text in ("情報共有に関する同意書", "長谷川 勝", "・三条市社会福祉協議会", "2026年11月20日", "（署名）"):
        assert f"<{text.encode('utf-16-be').hex().upper()}>".encode() in pdf, text
    assert pdf.count(b" 11 11 re S") == 4  # the checkboxes, three of them ticked
    assert pdf.count(b" l S") >= 4


def test_the_photo_carries_gps_coordinates_for_the_upload_to_remove():
    photo = home_photo_jpeg()
    assert has_gps(photo)
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG" and image.size == (800, 600)
        assert image.getexif()[0x010F] == "DemoPhone"
