"""From an upload to encrypted objects in ``STORAGES["attachments"]``, and back.

``check`` (cheap, before anything is decoded) → ``prepare`` (type by content, images cleaned, scan) → ``store``
(encrypt under a new file key, save under a random name) → ``read`` / ``digest`` (decrypt, streamed) and
``rewrap`` (key rotation). Encryption: ``crypto``; its docstring says why the design is sound.

``store_private`` / ``open_private`` / ``discard_private``: the same encryption for a file that is no attachment
but must not lie in clear on disk while a job needs it (an uploaded kintone export until its import has run). Its
reference (``PrivateRef``) is kept as JSON by the caller.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils.translation import gettext

from . import crypto, images, scan, types
from .errors import Rejected, Tampered, Unavailable, UnknownKey

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
MAX_FILENAME = 255
FALLBACK_STEM = "添付ファイル"
# Characters Windows refuses in a file name: a download keeps the name the user sees.
_RESERVED = re.compile(r'[\\/:*?"<>|]')
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


@dataclass(frozen=True)
class Incoming:
    """A file as received: the name the sender gave, its content (readable and seekable, e.g. Django's
    ``UploadedFile``) and its size in bytes."""

    name: str
    file: IO[bytes]
    size: int


@dataclass
class Prepared:
    """A file checked, cleaned and scanned, ready to store. ``content`` is a temporary file positioned at 0 (the
    cleaned bytes: an image re-encoded without metadata, HEIC converted to JPEG, other types as received);
    ``size`` and ``sha256`` are of those bytes. ``filename`` is safe to show and to send (no path, no control
    characters, NFC, at most 255 characters) and ends with the extension of ``content_type``. ``thumbnail``:
    JPEG bytes (at most 320 px on the longer side) for images, else None. Close with ``close()``."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content: IO[bytes]
    thumbnail: bytes | None

    def close(self) -> None:
        self.content.close()

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class StoredBlob:
    """Where ``store`` put a file: the random storage names (content, thumbnail or ""), and the file key wrapped
    by the current master key."""

    storage_name: str
    thumbnail_name: str
    key_id: str
    wrapped_key: bytes


@dataclass(frozen=True)
class BlobRef:
    """What ``read`` / ``digest`` / ``rewrap`` need of an ``AttachmentBlob`` row."""

    attachment_id: UUID
    storage_name: str
    thumbnail_name: str
    key_id: str
    wrapped_key: bytes


# --- names and limits -----------------------------------------------------------------------------------------


def display_name(name: str) -> str:
    """The sender's file name made safe to show and send: NFC, the last path component only (``/`` or ``\\``),
    without control, format (bidirectional overrides, zero-width) or unassigned characters, characters Windows
    refuses replaced by ``_``, no leading dots or surrounding spaces. May be empty."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    name = _RESERVED.sub("_", name)
    return name.strip().lstrip(".").strip()


def safe_filename(name: str, kind: types.Kind) -> str:
    """``display_name`` with the extension of the detected type (replacing what looks like an extension), at
    most 255 characters; ``添付ファイル.<ext>`` when nothing usable is left."""
    suffix = "." + kind.extension
    stem = _EXTENSION.sub("", display_name(name)).rstrip(" .")
    stem = stem[: MAX_FILENAME - len(suffix)].rstrip(" .") or FALLBACK_STEM
    return stem + suffix


def _megabytes(size: int) -> str:
    mib = size / (1024 * 1024)
    if mib >= 1:
        return f"{mib:.0f} MB" if mib == int(mib) else f"{mib:.1f} MB"
    kib = size / 1024
    return f"{kib:.0f} KB" if kib >= 1 else f"{size} B"


def _too_big(name: str) -> Rejected:
    return Rejected(
        gettext("「%(name)s」は大きすぎます（1ファイル%(limit)sまで）。")
        % {"name": name, "limit": _megabytes(settings.ATTACHMENT_MAX_BYTES)},
        code="size",
    )


def _check_size(incoming: Incoming, name: str) -> None:
    if incoming.size <= 0:
        raise Rejected(gettext("「%(name)s」は空のファイルです。") % {"name": name}, code="size")
    if incoming.size > settings.ATTACHMENT_MAX_BYTES:
        raise _too_big(name)


def _check_one(incoming: Incoming, name: str) -> types.Kind | None:
    """Size and first-bytes type of one file; raises ``Rejected``."""
    _check_size(incoming, name)
    incoming.file.seek(0)
    head = incoming.file.read(types.HEAD_BYTES)
    incoming.file.seek(0)
    return types.sniff(head, name)


def check(files: Sequence[Incoming]) -> list[str]:
    """Cheap checks before any decoding: how many files (``ATTACHMENT_MAX_FILES``), each size
    (``ATTACHMENT_MAX_BYTES``, and empty files), the total (``ATTACHMENT_MAX_ENTRY_BYTES``), and each type by its
    first bytes. Returns the messages for the user (Japanese, naming the file), empty when all pass."""
    messages: list[str] = []
    if len(files) > settings.ATTACHMENT_MAX_FILES:
        messages.append(
            gettext("添付できるファイルは1件の記録につき%(limit)d件までです（%(count)d件あります）。")
            % {"limit": settings.ATTACHMENT_MAX_FILES, "count": len(files)}
        )
    for incoming in files:
        try:
            _check_one(incoming, display_name(incoming.name) or FALLBACK_STEM)
        except Rejected as exc:
            messages.append(exc.message)
    total = sum(max(incoming.size, 0) for incoming in files)
    if total > settings.ATTACHMENT_MAX_ENTRY_BYTES:
        messages.append(
            gettext("添付ファイルの合計が大きすぎます（1件の記録につき%(limit)sまで）。")
            % {"limit": _megabytes(settings.ATTACHMENT_MAX_ENTRY_BYTES)}
        )
    return messages


# --- prepare --------------------------------------------------------------------------------------------------


def _copy(source: IO[bytes], name: str) -> IO[bytes]:
    """``source`` copied into a temporary file, refusing it once it passes ``ATTACHMENT_MAX_BYTES`` (the size
    the sender declared is not trusted)."""
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller
    try:
        source.seek(0)
        written = 0
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            if written > settings.ATTACHMENT_MAX_BYTES:
                raise _too_big(name)
            copy.write(chunk)
        copy.seek(0)
        return copy
    except BaseException:
        copy.close()
        raise


def _measure(file: IO[bytes]) -> tuple[int, str]:
    file.seek(0)
    sha, size = hashlib.sha256(), 0
    while chunk := file.read(CHUNK_BYTES):
        sha.update(chunk)
        size += len(chunk)
    file.seek(0)
    return size, sha.hexdigest()


def prepare(incoming: Incoming) -> Prepared:
    """Decide the type by content, clean (images), make the thumbnail, scan. Raises ``Rejected`` (with a message
    for the user) or ``Unavailable`` (scanner configured but unreachable).

    The scan sees the file as it was sent, before its type is decided or it is decoded: a finding is reported
    as malware (not as a wrong type, which ``check`` may have said already), and no decoder parses a file the
    scanner knows to be hostile."""
    name = display_name(incoming.name) or FALLBACK_STEM
    _check_size(incoming, name)
    content = _copy(incoming.file, name)
    try:
        scan.scan(content, name)
        kind = types.detect(content, name)
        thumbnail: bytes | None = None
        if kind.image:
            cleaned = images.clean(content, kind, name)
            content.close()
            content, kind, thumbnail = cleaned.content, cleaned.kind, cleaned.thumbnail
        size, sha256 = _measure(content)
        return Prepared(
            filename=safe_filename(incoming.name, kind),
            content_type=kind.content_type,
            size=size,
            sha256=sha256,
            content=content,
            thumbnail=thumbnail,
        )
    except BaseException:
        content.close()
        raise


# --- storage --------------------------------------------------------------------------------------------------


def _storage() -> Storage:
    return storages["attachments"]


def _current_key() -> tuple[str, str]:
    key_id, secret = settings.ATTACHMENT_KEYS[0]
    return key_id, secret


def _secret(key_id: str) -> str:
    for known, secret in settings.ATTACHMENT_KEYS:
        if known == key_id:
            return secret
    raise UnknownKey(f"master key {key_id!r} is not in ATTACHMENT_KEYS (was it removed before re-wrapping?)")


def _file_key(blob: BlobRef) -> bytes:
    return crypto.unwrap(blob.wrapped_key, attachment_id=blob.attachment_id, secret=_secret(blob.key_id))


def _save(source: IO[bytes], file_key: bytes, purpose: bytes, *, folder: str = "a") -> str:
    """Encrypt ``source`` into a temporary file and save it under a new random name (returned)."""
    random_name = uuid.uuid4().hex
    name = f"{folder}/{random_name[:2]}/{random_name}"
    with tempfile.TemporaryFile() as sealed:
        source.seek(0)
        crypto.encrypt(file_key, source, sealed, purpose=purpose)
        sealed.seek(0)
        try:
            return _storage().save(name, File(sealed, name=name))
        except Exception as exc:  # any backend's failure (disk, network, credentials): nothing usable was stored
            logger.exception("attachment storage failed")
            raise Unavailable("the attachment storage is unreachable") from exc


def store(prepared: Prepared, *, attachment_id: UUID) -> StoredBlob:
    """Encrypt ``prepared`` (and its thumbnail) under a new file key bound to ``attachment_id`` and save them
    to ``STORAGES["attachments"]`` under random names; streams, bounded memory. Raises ``Unavailable``."""
    key_id, secret = _current_key()
    file_key = crypto.new_file_key()
    storage_name = _save(prepared.content, file_key, crypto.CONTENT)
    thumbnail_name = ""
    if prepared.thumbnail is not None:
        try:
            thumbnail_name = _save(io.BytesIO(prepared.thumbnail), file_key, crypto.THUMBNAIL)
        except BaseException:
            discard([storage_name])
            raise
    prepared.content.seek(0)
    return StoredBlob(
        storage_name=storage_name,
        thumbnail_name=thumbnail_name,
        key_id=key_id,
        wrapped_key=crypto.wrap(file_key, attachment_id=attachment_id, secret=secret),
    )


def discard(names: Sequence[str]) -> None:
    """Delete stored objects (best effort: a failed transaction's files, or retention)."""
    storage = _storage()
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:  # best effort: logged, the caller goes on
            logger.exception("could not delete attachment object %s", name)


def _missing(exc: Exception) -> bool:
    """A storage error meaning "no such object" (filesystem, or an S3 404)."""
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("404", "NoSuchKey")


def _decrypted(name: str, file_key: bytes, purpose: bytes) -> Iterator[bytes]:
    try:
        sealed = _storage().open(name, "rb")
    except Exception as exc:
        if _missing(exc):
            raise Tampered(f"attachment object {name} is missing") from exc
        raise Unavailable("the attachment storage is unreachable") from exc
    with sealed:
        try:
            yield from crypto.decrypt(file_key, sealed, purpose=purpose)
        except (Tampered, GeneratorExit):
            raise
        except Exception as exc:
            if _missing(exc):
                raise Tampered(f"attachment object {name} is missing") from exc
            raise Unavailable("the attachment storage is unreachable") from exc


def read(blob: BlobRef, *, thumbnail: bool = False) -> Iterator[bytes]:
    """The decrypted content (or thumbnail), streamed in chunks with bounded memory. Raises ``Tampered`` while
    iterating when a segment does not authenticate or the content is cut short.

    The file key is unwrapped at once (a wrapped key that does not open, or a master key no longer configured,
    raises ``Tampered`` here); the object is opened on the first chunk and closed when the iterator ends or is
    closed."""
    name = blob.thumbnail_name if thumbnail else blob.storage_name
    if not name:
        raise Tampered(f"attachment {blob.attachment_id} has no {'thumbnail' if thumbnail else 'content'}")
    return _decrypted(name, _file_key(blob), crypto.THUMBNAIL if thumbnail else crypto.CONTENT)


def digest(blob: BlobRef) -> str:
    """SHA-256 (hex) of the decrypted content; ``Tampered`` when it does not decrypt."""
    sha = hashlib.sha256()
    for chunk in read(blob):
        sha.update(chunk)
    return sha.hexdigest()


def rewrap(blob: BlobRef) -> tuple[str, bytes]:
    """The file key wrapped by the current master key: ``(key_id, wrapped_key)``. The content is not touched.
    ``Tampered`` (``UnknownKey``) when the key it is wrapped with is no longer in ``ATTACHMENT_KEYS``."""
    key_id, secret = _current_key()
    return key_id, crypto.wrap(_file_key(blob), attachment_id=blob.attachment_id, secret=secret)


# --- private files (not attachments) ---------------------------------------------------------------------------

PRIVATE_FOLDER = "p"  # apart from the attachments' "a/": nothing that walks attachment rows ever meets these


@dataclass(frozen=True)
class PrivateRef:
    """A file stored by ``store_private``: its random id (what the wrapped key is bound to), the storage name,
    the master key's id, the wrapped file key and the plaintext size. ``as_json`` / ``from_json`` for a JSON
    field."""

    id: UUID
    storage_name: str
    key_id: str
    wrapped_key: bytes
    size: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "storage_name": self.storage_name,
            "key_id": self.key_id,
            "wrapped_key": base64.b64encode(self.wrapped_key).decode("ascii"),
            "size": self.size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrivateRef:
        """The reference ``as_json`` made; ``Tampered`` for anything else."""
        try:
            return cls(
                id=UUID(str(data["id"])),
                storage_name=str(data["storage_name"]),
                key_id=str(data["key_id"]),
                wrapped_key=base64.b64decode(str(data["wrapped_key"]), validate=True),
                size=int(data["size"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise Tampered("not a reference to a private file") from exc


def store_private(source: IO[bytes]) -> PrivateRef:
    """Encrypt ``source`` (read from its start to its end) under a new file key and save it in
    ``STORAGES["attachments"]`` under a random name. Raises ``Unavailable``."""
    ref_id = uuid.uuid4()
    key_id, secret = _current_key()
    file_key = crypto.new_file_key()
    size, _sha = _measure(source)
    storage_name = _save(source, file_key, crypto.PRIVATE, folder=PRIVATE_FOLDER)
    return PrivateRef(
        id=ref_id,
        storage_name=storage_name,
        key_id=key_id,
        wrapped_key=crypto.wrap(file_key, attachment_id=ref_id, secret=secret),
        size=size,
    )


def read_private(ref: PrivateRef) -> Iterator[bytes]:
    """The decrypted content, streamed (``Tampered`` when it does not decrypt, ``Unavailable``)."""
    file_key = crypto.unwrap(ref.wrapped_key, attachment_id=ref.id, secret=_secret(ref.key_id))
    return _decrypted(ref.storage_name, file_key, crypto.PRIVATE)


def open_private(ref: PrivateRef, path: Path) -> Path:
    """Decrypt the file into ``path`` (created, readable by this process's user only) and return it. A caller
    puts it in a private temporary directory and removes that when done."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for chunk in read_private(ref):
            out.write(chunk)
    return path


def discard_private(refs: Sequence[PrivateRef]) -> None:
    """Delete private files (best effort, logged)."""
    discard([ref.storage_name for ref in refs])
