"""The demo's attachments, made on the spot (nothing of a real person): a consent form (同意書) as a small PDF and
a photo of the state of a home drawn with Pillow, carrying made-up GPS coordinates in its EXIF so that the demo
shows them removed on upload.

The PDF is written by hand: one page, Japanese text in a font every PDF reader has without embedding it (the
Adobe-Japan1 CID font HeiseiKakuGo-W5 through the UniJIS-UCS2-H CMap, so each character is its UTF-16BE code),
boxes for the checkmarks and a line for the signature.
"""

from __future__ import annotations

import io
from datetime import date

from PIL import Image, ImageDraw

# --- the consent form -----------------------------------------------------------------------------------------

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points


def _text(x: float, y: float, size: float, text: str) -> str:
    """A text-showing operation: ``text`` as UTF-16BE hex (UniJIS-UCS2-H maps each code to its glyph)."""
    return f"BT /F1 {size:g} Tf {x:g} {y:g} Td <{text.encode('utf-16-be').hex().upper()}> Tj ET"


def _box(x: float, y: float, checked: bool) -> list[str]:
    ops = [f"{x:g} {y:g} 11 11 re S"]
    if checked:  # a tick drawn with two strokes
        ops.append(f"{x + 2:g} {y + 5.5:g} m {x + 4.5:g} {y + 2:g} l {x + 9.5:g} {y + 9.5:g} l S")
    return ops


def consent_form_pdf(*, client_name: str, agency_names: list[str], signed_on: date) -> bytes:
    """The signed 同意書 of the demo client: whom the information is shared with, the agreed points ticked, a
    signature line with the date."""
    ops = ["0 g 0 G 1 w"]
    ops.append(_text(170, 770, 20, "情報共有に関する同意書"))
    ops.append(_text(60, 720, 11, "私は、支援を受けるにあたり、次の関係機関が私の支援に必要な情報を"))
    ops.append(_text(60, 702, 11, "共有し、支援記録を互いに参照することに同意します。"))
    y = 668
    ops.append(_text(60, y, 12, "共有する関係機関"))
    for name in agency_names:
        y -= 20
        ops.append(_text(80, y, 11, f"・{name}"))
    y -= 36
    ops.append(_text(60, y, 12, "同意する内容"))
    points = [
        ("氏名・生年月日・連絡先などの基本情報", True),
        ("相談・訪問・会議の記録", True),
        ("心身の状況・受けているサービスの情報", True),
        ("緊急時に限り、上記以外の必要な情報", False),
    ]
    for label, checked in points:
        y -= 24
        ops.extend(_box(80, y - 1, checked))
        ops.append(_text(100, y, 11, label))
    y -= 40
    ops.append(_text(60, y, 11, "この同意は、いつでも書面で撤回することができます。"))
    y -= 60
    ops.append(_text(60, y, 11, f"{signed_on.year}年{signed_on.month}月{signed_on.day}日"))
    y -= 40
    ops.append(_text(60, y, 11, "本人氏名"))
    ops.append(_text(140, y + 4, 14, client_name))
    ops.append(f"130 {y - 4} m 400 {y - 4} l S")
    ops.append(_text(410, y, 11, "（署名）"))
    ops.append(_text(60, 80, 8, "この書類はデモ用に作成したもので、実在の人物とは関係ありません。"))
    content = "\n".join(ops).encode("ascii")

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode("ascii"),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor 7 0 R "
        b"/DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /HeiseiKakuGo-W5 /Flags 4 /FontBBox [-92 -250 1010 922] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 737 /StemV 114 >>",
        b"<< /Title <FEFF" + "同意書（デモ）".encode("utf-16-be").hex().upper().encode("ascii") + b"> "
        b"/Producer (Tsunagu demo) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objects) + 1))
    out.write(b"0000000000 65535 f \n")
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 8 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


# --- the photo of a home --------------------------------------------------------------------------------------

# Made-up coordinates (the sea off Niigata): what a phone would have written, and what the upload must remove.
FAKE_GPS = {"latitude": (37, 55, 12.5), "longitude": (138, 50, 40.25)}


def _gps_ifd() -> dict[int, object]:
    lat, lon = FAKE_GPS["latitude"], FAKE_GPS["longitude"]
    return {
        0: b"\x02\x02\x00\x00",  # GPSVersionID
        1: "N",
        2: tuple(float(v) for v in lat),
        3: "E",
        4: tuple(float(v) for v in lon),
    }


def home_photo_jpeg() -> bytes:
    """A drawn room (a window, a low table, piled boxes and bags, a futon): no person. Its EXIF names a camera,
    a time and GPS coordinates, as a phone's photo would."""
    width, height = 800, 600
    image = Image.new("RGB", (width, height), (226, 218, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 420, width, height), fill=(176, 150, 110))  # tatami-coloured floor
    for x in range(0, width, 160):
        draw.line((x, 420, x - 60, height), fill=(150, 126, 90), width=2)
    draw.rectangle((470, 70, 720, 260), fill=(190, 220, 240), outline=(120, 100, 80), width=8)  # window
    draw.line((595, 70, 595, 260), fill=(120, 100, 80), width=6)
    draw.rectangle((60, 440, 360, 560), fill=(235, 235, 245), outline=(180, 180, 200), width=3)  # futon
    draw.rectangle((80, 448, 170, 480), fill=(250, 250, 255))  # pillow
    draw.rectangle((390, 400, 600, 430), fill=(120, 84, 50))  # low table
    draw.rectangle((405, 430, 420, 480), fill=(100, 70, 40))
    draw.rectangle((570, 430, 585, 480), fill=(100, 70, 40))
    for i, (x, y, w, h) in enumerate([(620, 330, 120, 100), (640, 250, 90, 80), (600, 430, 150, 110)]):
        shade = 170 - i * 15
        draw.rectangle((x, y, x + w, y + h), fill=(shade, shade - 30, shade - 70), outline=(90, 70, 40), width=3)
    for x, y in [(420, 470), (480, 500), (530, 455), (250, 400)]:  # bags on the floor
        draw.ellipse((x, y, x + 70, y + 50), fill=(240, 240, 240), outline=(160, 160, 160), width=2)
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"  # Make
    exif[0x0110] = "DemoPhone 12"  # Model
    exif[0x0132] = "2026:11:20 10:15:00"  # DateTime
    exif[0x8825] = _gps_ifd()  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def has_gps(jpeg: bytes) -> bool:
    """Whether a JPEG carries GPS coordinates in its EXIF."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return bool(image.getexif().get_ifd(0x8825))
