"""Attachment files: what is accepted, how a file is cleaned, scanned, encrypted, stored and read back.

No models, no audit, no permissions: ``cases.services.attachments`` and ``cases.attachment_selectors`` call these
and record what happened. The parts:

- ``types``: the type of a file decided by its content (never its name or the sender's claim), the accepted list;
- ``images``: images re-encoded without their metadata (EXIF, GPS, XMP, comments), HEIC converted to JPEG, and a
  JPEG thumbnail;
- ``scan``: the malware scan (ClamAV's clamd over its INSTREAM protocol when configured);
- ``crypto``: encryption at rest, AES-256-GCM in 64 KiB segments (a key per file, wrapped by a master key);
- ``store``: the whole path from an upload to encrypted objects in ``STORAGES["attachments"]`` and back.
"""

from .errors import Rejected, Tampered, Unavailable, UnknownKey
from .store import BlobRef, Incoming, Prepared, StoredBlob, check, digest, discard, prepare, read, rewrap, store

__all__ = [
    "BlobRef",
    "Incoming",
    "Prepared",
    "Rejected",
    "StoredBlob",
    "Tampered",
    "Unavailable",
    "UnknownKey",
    "check",
    "digest",
    "discard",
    "prepare",
    "read",
    "rewrap",
    "store",
]
