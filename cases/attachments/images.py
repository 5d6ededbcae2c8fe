"""Images re-encoded from their pixels: no metadata survives (EXIF with GPS coordinates of a client's home, XMP,
IPTC, comments, maker notes, text chunks), HEIC is converted to JPEG, and a JPEG thumbnail is made.

The EXIF orientation is applied to the pixels first, so a photo taken on its side still shows upright. An
embedded ICC colour profile is not kept (a profile is a small program-like structure with free-text tags such as
the device model, and has been a parser attack surface in viewers); when there is one the pixels are converted
to sRGB with it first, so the colours stay right without it.

Decoding is capped at ``ATTACHMENT_MAX_PIXELS`` (checked on the header, before any pixel is decoded), which
bounds the memory a small compressed "decompression bomb" could make us allocate.
"""

from __future__ import annotations

import io
import logging
import tempfile
from dataclasses import dataclass
from typing import IO

import pillow_heif
from django.conf import settings
from django.utils.translation import gettext
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from . import types
from .errors import Rejected

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

JPEG_QUALITY = 90
THUMBNAIL_PX = 320
THUMBNAIL_QUALITY = 80
_PILLOW_FORMAT = {types.JPEG: "JPEG", types.PNG: "PNG", types.HEIC: "HEIF"}


@dataclass
class Cleaned:
    """The re-encoded image (a temporary file at position 0), its type (HEIC becomes JPEG) and a JPEG
    thumbnail."""

    content: IO[bytes]
    kind: types.Kind
    thumbnail: bytes


def _unreadable(name: str) -> Rejected:
    return Rejected(
        gettext("「%(name)s」は画像として読み取れません（壊れている可能性があります）。") % {"name": name},
        code="image",
    )


def _too_large(name: str) -> Rejected:
    return Rejected(
        gettext("「%(name)s」は画素数が大きすぎます（%(limit)s画素まで）。")
        % {"name": name, "limit": f"{settings.ATTACHMENT_MAX_PIXELS:,}"},
        code="image",
    )


def clean(file: IO[bytes], kind: types.Kind, name: str) -> Cleaned:
    """Decode ``file`` (of ``kind``, an image kind), apply its orientation and re-encode it without metadata.
    Raises ``Rejected`` for an image that does not decode or has too many pixels."""
    file.seek(0)
    try:
        with Image.open(file, formats=[_PILLOW_FORMAT[kind]]) as opened:
            width, height = opened.size
            if width * height > settings.ATTACHMENT_MAX_PIXELS:
                raise _too_large(name)
            opened.load()
            image = _pixels(opened)
    except Image.DecompressionBombError as exc:
        raise _too_large(name) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or malformed data with any of these.
        raise _unreadable(name) from exc
    finally:
        file.seek(0)
    out_kind = types.PNG if kind == types.PNG else types.JPEG
    content = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, closed by Prepared.close()
    try:
        if out_kind == types.PNG:
            image.save(content, format="PNG", optimize=False)
        else:
            _as_rgb(image).save(content, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        content.seek(0)
        return Cleaned(content=content, kind=out_kind, thumbnail=thumbnail(image))
    except BaseException:
        content.close()
        raise


def _pixels(image: Image.Image) -> Image.Image:
    """A new image holding only the pixels, upright and in sRGB: nothing of ``image.info`` (EXIF, XMP, ICC,
    comments, text chunks, DPI) is carried over, so no encoder can write it back."""
    upright = ImageOps.exif_transpose(image) or image
    icc = upright.info.get("icc_profile")
    if "transparency" in upright.info or upright.mode in ("P", "PA", "LA", "La", "RGBa"):
        upright = upright.convert("RGBA")
    elif upright.mode not in ("1", "L", "I", "I;16", "RGB", "RGBA", "CMYK"):
        upright = upright.convert("RGB")
    if icc and upright.mode in ("RGB", "RGBA", "CMYK"):
        upright = _to_srgb(upright, icc)
    if upright.mode == "CMYK":
        upright = upright.convert("RGB")
    pixels = Image.new(upright.mode, upright.size)
    pixels.paste(upright)
    return pixels


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert with the embedded profile; an unusable profile is ignored (the pixels are taken as they are)."""
    mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        logger.info("ignored an unusable ICC profile: %s", exc)
        return image
    return converted if converted is not None else image


def _as_rgb(image: Image.Image) -> Image.Image:
    """For JPEG: no alpha (composited on white) and 8-bit channels."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG at most ``THUMBNAIL_PX`` on its longer side (smaller images keep their size)."""
    rgb = _as_rgb(image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGBA"))
    small = (
        ImageOps.contain(rgb, (THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
        if max(rgb.size) > THUMBNAIL_PX
        else rgb
    )
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()
