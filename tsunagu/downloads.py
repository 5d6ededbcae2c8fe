"""Sending a stored file: the one place that builds a download's headers, for the browser's views and the API's.

``streaming_file_response`` turns a ``cases.attachment_selectors.Download`` (already permission-checked, audited
and hash-checked by the selector) into a streamed response: the decrypted chunks are passed on as they come, so a
large file never sits in memory. Every such response is private and not stored by any cache (``no-store``), never
sniffed (``nosniff``), and names the file per RFC 6266: ``filename*=UTF-8''…`` keeps a Japanese name, and an ASCII
``filename="…"`` comes first for the few clients that do not read ``filename*``.
"""

import re
import unicodedata
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import quote

from django.http import StreamingHttpResponse

# RFC 5987 attr-char: what may stand unencoded in ``filename*`` (everything else is percent-encoded UTF-8).
ATTR_CHARS = "!#$&+-.^_`|~"
# What the ASCII fallback keeps: letters, digits and a few harmless marks; anything else becomes "_".
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._()\-+ ]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FALLBACK_STEM = "attachment"


class _AttachmentLike(Protocol):
    @property
    def filename(self) -> str: ...


class DownloadLike(Protocol):
    """What ``streaming_file_response`` reads of ``cases.attachment_selectors.Download``."""

    @property
    def attachment(self) -> _AttachmentLike: ...

    @property
    def content_type(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def chunks(self) -> Iterator[bytes]: ...


def ascii_filename(filename: str) -> str:
    """An ASCII stand-in for ``filename`` (the ``filename=`` fallback): accents dropped, other characters
    replaced by "_", the extension kept; "attachment" plus the extension when nothing readable is left
    (同意書.pdf → attachment.pdf, 同意書_2026.pdf → 2026.pdf)."""
    name = unicodedata.normalize("NFKD", _CONTROL.sub("", filename))
    name = name.encode("ascii", "ignore").decode("ascii")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = _FALLBACK_UNSAFE.sub("_", stem).strip(" ._-")
    extension = _FALLBACK_UNSAFE.sub("", extension)[:16]
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = FALLBACK_STEM
    return f"{stem}.{extension}" if extension else stem


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """The ``Content-Disposition`` value for ``filename`` (RFC 6266): ``attachment`` (or ``inline``), an ASCII
    ``filename="…"`` and the exact name as ``filename*=UTF-8''…`` (percent-encoded UTF-8, NFC)."""
    name = unicodedata.normalize("NFC", _CONTROL.sub("", filename)) or FALLBACK_STEM
    fallback = ascii_filename(name).replace("\\", "_").replace('"', "_")
    encoded = quote(name, safe=ATTR_CHARS)
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def streaming_file_response(download: DownloadLike, *, inline: bool = False) -> StreamingHttpResponse:
    """Stream ``download`` (its chunks, unread until the response is sent) with the headers every file needs:
    ``Content-Type``, ``Content-Length``, ``Content-Disposition`` (attachment, or inline for a preview),
    ``X-Content-Type-Options: nosniff`` and ``Cache-Control: private, no-store``. A view that sends a preview
    adds its own ``Content-Security-Policy`` and framing rule."""
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = content_disposition(download.attachment.filename, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
