"""From an upload to encrypted objects in ``STORAGES["attachments"]``, and back. (Interface; see the tests.)"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO
from uuid import UUID


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
        raise NotImplementedError


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


def check(files: Sequence[Incoming]) -> list[str]:
    """Cheap checks before any decoding: how many files (``ATTACHMENT_MAX_FILES``), each size
    (``ATTACHMENT_MAX_BYTES``, and empty files), the total (``ATTACHMENT_MAX_ENTRY_BYTES``), and each type by its
    first bytes. Returns the messages for the user (Japanese, naming the file), empty when all pass."""
    raise NotImplementedError


def prepare(incoming: Incoming) -> Prepared:
    """Decide the type by content, clean (images), make the thumbnail, scan. Raises ``Rejected`` (with a message
    for the user) or ``Unavailable`` (scanner configured but unreachable)."""
    raise NotImplementedError


def store(prepared: Prepared, *, attachment_id: UUID) -> StoredBlob:
    """Encrypt ``prepared`` (and its thumbnail) under a new file key bound to ``attachment_id`` and save them
    to ``STORAGES["attachments"]`` under random names; streams, bounded memory. Raises ``Unavailable``."""
    raise NotImplementedError


def discard(names: Sequence[str]) -> None:
    """Delete stored objects (best effort: a failed transaction's files, or retention)."""
    raise NotImplementedError


def read(blob: BlobRef, *, thumbnail: bool = False) -> Iterator[bytes]:
    """The decrypted content (or thumbnail), streamed in chunks with bounded memory. Raises ``Tampered`` while
    iterating when a segment does not authenticate or the content is cut short."""
    raise NotImplementedError


def digest(blob: BlobRef) -> str:
    """SHA-256 (hex) of the decrypted content; ``Tampered`` when it does not decrypt."""
    raise NotImplementedError


def rewrap(blob: BlobRef) -> tuple[str, bytes]:
    """The file key wrapped by the current master key: ``(key_id, wrapped_key)``. The content is not touched."""
    raise NotImplementedError
