"""The type of a file, decided by its content: magic bytes, then the structure (a ZIP's members for office
documents). The sender's file name and claimed type are never consulted: a renamed ``.exe`` is an ``.exe``.

Accepted: PDF, JPEG, PNG, HEIC/HEIF (converted to JPEG by ``images``), OOXML documents without macros
(.docx/.xlsx/.pptx) and OpenDocument (.odt/.ods/.odp) without macros. Everything else is refused, notably the
legacy binary Office formats (OLE2: they carry macros and cannot be checked), executables, HTML/SVG (script in
a browser) and arbitrary ZIP archives.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext

from .errors import Rejected

HEAD_BYTES = 512  # enough for every magic number and an ODF archive's leading ``mimetype`` member


@dataclass(frozen=True)
class Kind:
    """An accepted type: the media type stored and served, the file name extension that goes with it, and
    whether ``images`` re-encodes it."""

    content_type: str
    extension: str
    image: bool = False


PDF = Kind("application/pdf", "pdf")
JPEG = Kind("image/jpeg", "jpg", image=True)
PNG = Kind("image/png", "png", image=True)
HEIC = Kind("image/heic", "heic", image=True)  # never stored as such: converted to JPEG
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
PPTX = Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx")
ODT = Kind("application/vnd.oasis.opendocument.text", "odt")
ODS = Kind("application/vnd.oasis.opendocument.spreadsheet", "ods")
ODP = Kind("application/vnd.oasis.opendocument.presentation", "odp")

# The content type of an OOXML package's main part, as declared in its [Content_Types].xml.
_OOXML_MAIN = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
_ODF = {kind.content_type.encode(): kind for kind in (ODT, ODS, ODP)}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_CONTENT_TYPES_MAX = 1024 * 1024  # a real [Content_Types].xml is a few KB; do not inflate a bomb to read it
# zipfile reads the whole central directory into objects: bound it before opening (a real office document has
# tens to a few thousand parts, a central directory of KBs to a few hundred KB).
_ZIP_MAX_ENTRIES = 20_000
_ZIP_MAX_DIRECTORY = 2 * 1024 * 1024
_EOCD = b"PK\x05\x06"
_EOCD_SEARCH = 22 + 65535  # the end record and the longest archive comment


def _refusal(message: str, name: str) -> Rejected:
    return Rejected(message % {"name": name}, code="type")


def refused(name: str) -> Rejected:
    return _refusal(
        gettext(
            "「%(name)s」は受け付けられない種類のファイルです（PDF、JPEG、PNG、HEIC、"
            "Word・Excel・PowerPoint（.docx/.xlsx/.pptx）、OpenDocument）。"
        ),
        name,
    )


def _legacy_office(name: str) -> Rejected:
    return _refusal(
        gettext(
            "「%(name)s」は古い形式のOffice文書（.doc/.xls/.ppt）のため受け付けられません。"
            ".docx/.xlsx/.pptx または PDF で保存し直してください。"
        ),
        name,
    )


def _macros(name: str) -> Rejected:
    return _refusal(
        gettext(
            "「%(name)s」はマクロを含む文書のため受け付けられません。"
            "マクロなしの形式（.docx/.xlsx/.pptx）または PDF で保存し直してください。"
        ),
        name,
    )


def sniff(head: bytes, name: str) -> Kind | None:
    """The type by the first bytes alone (``check``): a Kind, or None for a ZIP archive that only ``detect`` can
    tell apart (an office document or not). Raises ``Rejected`` for anything else."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    if head.startswith(_ZIP):
        return None
    if head.startswith(_OLE2):
        raise _legacy_office(name)
    raise refused(name)


def detect(file: IO[bytes], name: str) -> Kind:
    """The type by content, reading what it needs (the magic bytes; a ZIP's directory and its type member).
    ``file`` must be seekable; it is left at position 0. Raises ``Rejected``."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    kind = sniff(head, name)
    if kind is not None:
        return kind
    try:
        return _office(file, name)
    finally:
        file.seek(0)


def _office(file: IO[bytes], name: str) -> Kind:
    """An OOXML package ([Content_Types].xml naming a document, spreadsheet or presentation main part) or an
    ODF package (first member ``mimetype``); macro-enabled ones refused. Any other ZIP is refused."""
    if not _directory_is_small(file):
        raise refused(name)
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            names = {member.filename.lower() for member in members}
            if "[content_types].xml" in names:
                info = next(m for m in members if m.filename.lower() == "[content_types].xml")
                if info.file_size > _CONTENT_TYPES_MAX:
                    raise refused(name)
                with archive.open(info) as part:
                    declared = part.read(_CONTENT_TYPES_MAX + 1)
                # VBA macros (a vbaProject.bin part, macro-enabled main types) and ActiveX controls run code.
                lowered = declared.lower()
                if b"macroenabled" in lowered or b"activex" in lowered or any(_code_part(n) for n in names):
                    raise _macros(name)
                kinds = {kind for main, kind in _OOXML_MAIN.items() if main in declared}
                if len(kinds) == 1:
                    return kinds.pop()
                raise refused(name)
            if members and members[0].filename == "mimetype" and members[0].file_size <= 100:
                with archive.open(members[0]) as part:
                    kind = _ODF.get(part.read(101).strip())
                if kind is None:
                    raise refused(name)
                # OpenOffice Basic macros live under Basic/, scripts (Python, JavaScript, BeanShell) under Scripts/.
                if any(n.startswith(("basic/", "scripts/")) for n in names):
                    raise _macros(name)
                return kind
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError) as exc:
        raise refused(name) from exc
    raise refused(name)


def _code_part(name: str) -> bool:
    return name.endswith("vbaproject.bin") or "/activex/" in f"/{name}"


def _directory_is_small(file: IO[bytes]) -> bool:
    """The ZIP's end-of-central-directory record announces at most ``_ZIP_MAX_ENTRIES`` entries in at most
    ``_ZIP_MAX_DIRECTORY`` bytes (a ZIP64 archive, beyond 65535 entries or 4 GB, never is an office document
    here). ``file`` is left where it was."""
    position = file.tell()
    try:
        end = file.seek(0, 2)
        start = max(0, end - _EOCD_SEARCH)
        file.seek(start)
        tail = file.read(end - start)
    finally:
        file.seek(position)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return False
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    return entries <= _ZIP_MAX_ENTRIES and directory <= _ZIP_MAX_DIRECTORY
