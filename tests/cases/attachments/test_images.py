"""Images keep their pixels and lose everything else: EXIF (GPS above all), XMP, comments, text chunks."""

import io
import zlib

import pytest
from PIL import Image, ImageCms

from cases.attachments import Rejected, prepare

from .samples import image, incoming

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="SecretTown"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (35.0, 41.0, 22.2), 3: "E", 4: (139.0, 41.0, 30.1)}  # GPSInfo: latitude, longitude
    return exif


def landscape_with_marker() -> Image.Image:
    """40x20: left half red, right half blue, so an orientation is visible in the pixels."""
    picture = Image.new("RGB", (40, 20), (255, 0, 0))
    picture.paste((0, 0, 255), (20, 0, 40, 20))
    return picture


def read(prepared) -> bytes:
    data = prepared.content.read()
    prepared.content.seek(0)
    return data


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as cleaned:
        assert not cleaned.getexif()
        assert "exif" not in cleaned.info
        assert "xmp" not in cleaned.info
        assert "icc_profile" not in cleaned.info
        assert "comment" not in cleaned.info
    for marker in (b"Exif", b"GPS", b"PhoneMaker", b"SecretTown", b"xmpmeta", b"http://ns.adobe.com"):
        assert marker not in data


def test_jpeg_loses_exif_gps_xmp_and_comment_and_is_upright():
    source = io.BytesIO()
    landscape_with_marker().save(
        source, format="JPEG", exif=exif_with_gps(orientation=6), xmp=XMP, comment=b"SecretTown comment"
    )
    original = source.getvalue()
    assert b"GPS" in original or b"\x88\x25" in original
    assert b"SecretTown" in original
    with Image.open(io.BytesIO(original)) as check:
        assert check.getexif()[0x0112] == 6 and check.getexif().get_ifd(0x8825)

    with prepare(incoming("自宅.jpg", original)) as prepared:
        data = read(prepared)
        assert prepared.content_type == "image/jpeg"
        assert_no_metadata(data)
        with Image.open(io.BytesIO(data)) as cleaned:
            # Orientation 6 (rotate 90° clockwise to view): the 40x20 landscape is shown as 20x40, red on top.
            assert cleaned.size == (20, 40)
            top, bottom = cleaned.getpixel((10, 5)), cleaned.getpixel((10, 35))
            assert top[0] > 200 and top[2] < 60
            assert bottom[2] > 200 and bottom[0] < 60


def test_heic_with_exif_becomes_jpeg_without_it():
    source = io.BytesIO()
    landscape_with_marker().save(source, format="HEIF", exif=exif_with_gps().tobytes(), xmp=XMP, quality=95)
    original = source.getvalue()
    assert b"PhoneMaker" in original
    with prepare(incoming("IMG_1234.HEIC", original)) as prepared:
        data = read(prepared)
        assert prepared.content_type == "image/jpeg"
        assert prepared.filename == "IMG_1234.jpg"
        assert data.startswith(b"\xff\xd8\xff")
        assert_no_metadata(data)


def test_png_loses_text_chunks_exif_and_icc():
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("Comment", "SecretTown")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    source = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image_ = Image.new("RGBA", (30, 30), (0, 128, 0, 128))
    image_.save(source, format="PNG", pnginfo=text, exif=exif_with_gps(), icc_profile=icc)
    original = source.getvalue()
    assert b"SecretTown" in original and b"iCCP" in original
    with prepare(incoming("図.png", original)) as prepared:
        data = read(prepared)
        assert prepared.content_type == "image/png"
        assert_no_metadata(data)
        for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
            assert chunk not in data
        with Image.open(io.BytesIO(data)) as cleaned:
            assert cleaned.mode == "RGBA"
            assert cleaned.getpixel((5, 5))[3] == 128  # transparency kept


def test_size_and_hash_are_of_the_cleaned_bytes():
    import hashlib

    original = image("JPEG", exif=exif_with_gps())
    with prepare(incoming("a.jpg", original)) as prepared:
        data = read(prepared)
        assert prepared.size == len(data) != len(original)
        assert prepared.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("size", "expected"), [((4000, 1000), (320, 80)), ((300, 900), (107, 320)), ((50, 40), (50, 40))]
)
def test_thumbnail_fits_320(size, expected):
    with (
        prepare(incoming("a.png", image("PNG", size=size))) as prepared,
        Image.open(io.BytesIO(prepared.thumbnail)) as thumb,
    ):
        assert thumb.format == "JPEG"
        assert thumb.size == expected
        assert not thumb.getexif()


def test_documents_have_no_thumbnail():
    from .samples import PDF

    with prepare(incoming("a.pdf", PDF)) as prepared:
        assert prepared.thumbnail is None
        assert prepared.content.read() == PDF


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused(settings):
    """A 10000x10000 PNG of one colour compresses to a few KB but would decode to 300 MB."""
    settings.ATTACHMENT_MAX_PIXELS = 50_000_000
    bomb = image("PNG", size=(10_000, 10_000), mode="L", color=0)
    assert len(bomb) < 200_000
    with pytest.raises(Rejected) as refused:
        prepare(incoming("bomb.png", bomb))
    assert refused.value.code == "image"
    assert refused.value.message == "「bomb.png」は画素数が大きすぎます（50,000,000画素まで）。"


def test_beyond_pillows_own_bomb_limit_is_refused_too(settings):
    """Past twice Pillow's MAX_IMAGE_PIXELS, Pillow refuses on open already: still the same clear message."""
    settings.ATTACHMENT_MAX_PIXELS = 10**12
    header = io.BytesIO()
    Image.new("L", (1, 1)).save(header, format="PNG")
    data = bytearray(header.getvalue())
    # IHDR: width and height at bytes 16..24, its CRC (over type and data) at 29..33.
    data[16:24] = (20_000).to_bytes(4, "big") + (20_000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    with pytest.raises(Rejected) as refused:
        prepare(incoming("huge.png", bytes(data)))
    assert refused.value.code == "image"
    assert "画素数が大きすぎます" in refused.value.message
