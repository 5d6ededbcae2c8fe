"""Encryption at rest: AES-256-GCM (``cryptography``), a random key per file, wrapped by a master key.

Why it is built this way:

- **A key per file.** Each attachment gets a fresh random 256-bit file key. A master key never encrypts content,
  only file keys, so rotating the master key re-wraps 60 bytes per file and leaves the content untouched.
- **Key wrapping bound to the attachment.** The master key (KEK) is derived with HKDF-SHA256 from a secret of
  ``ATTACHMENT_KEYS`` (a pass-phrase-like string, so it is run through a KDF rather than used as bytes). The
  wrap is ``nonce || AES-GCM(KEK, nonce, file key, aad="tsunagu-attachment-key:" + attachment id)`` with a random
  96-bit nonce: the wrapped key opens only for the attachment it was made for, so swapping the rows (or the
  objects) of two attachments fails authentication instead of serving one client's file as another's.
- **Streaming segmented AEAD** (the STREAM construction, as in Tink's streaming AEAD): a header ``b"TSA1"`` +
  a random 7-byte nonce prefix, then segments of 64 KiB plaintext, each sealed with the nonce
  ``prefix || segment counter (4 bytes, big-endian) || last flag (1 byte)`` and the header (plus what the stream
  is: content or thumbnail) as associated data. The counter makes reordering or dropping a middle segment fail;
  the last flag makes truncation at a segment boundary fail (the new last segment was sealed as "not last"),
  and anything after the last segment fails too. Memory is one segment in both directions.
- **Nonce uniqueness.** A file key encrypts exactly two streams (the content and its thumbnail), each with its
  own random prefix and a counter that never repeats inside a stream (at most 2**32 segments, 256 TiB), so a
  (key, nonce) pair is never reused. Random 96-bit nonces under a master key are safe far beyond the number of
  wraps a deployment makes (NIST's bound is 2**32 per key).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import IO
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import Tampered

MAGIC = b"TSA1"
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
SEGMENT_BYTES = 64 * 1024  # plaintext per segment
TAG_BYTES = 16
MAX_SEGMENTS = 2**32
KEY_BYTES = 32
WRAP_NONCE_BYTES = 12
WRAP_INFO = b"tsunagu attachment master key"
WRAP_AAD = b"tsunagu-attachment-key:"
CONTENT = b"content"
THUMBNAIL = b"thumbnail"
PRIVATE = b"private"  # a file kept only while a job needs it (store.store_private)


def master_key(secret: str) -> bytes:
    """The 256-bit key-encryption key derived from a keyring secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=WRAP_INFO).derive(secret.encode())


def new_file_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(file_key: bytes, *, attachment_id: UUID, secret: str) -> bytes:
    """``nonce || AES-GCM(master key, nonce, file key, aad bound to the attachment id)``."""
    nonce = os.urandom(WRAP_NONCE_BYTES)
    return nonce + AESGCM(master_key(secret)).encrypt(nonce, file_key, WRAP_AAD + attachment_id.bytes)


def unwrap(wrapped: bytes, *, attachment_id: UUID, secret: str) -> bytes:
    """The file key; ``Tampered`` when the wrapped key was altered, made with another secret, or belongs to
    another attachment."""
    nonce, sealed = bytes(wrapped[:WRAP_NONCE_BYTES]), bytes(wrapped[WRAP_NONCE_BYTES:])
    try:
        file_key = AESGCM(master_key(secret)).decrypt(nonce, sealed, WRAP_AAD + attachment_id.bytes)
    except (InvalidTag, ValueError) as exc:
        raise Tampered(f"the file key of attachment {attachment_id} does not unwrap") from exc
    if len(file_key) != KEY_BYTES:
        raise Tampered(f"the file key of attachment {attachment_id} has the wrong length")
    return file_key


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= MAX_SEGMENTS:
        raise ValueError("too many segments for one stream")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _read_exact(source: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end (a storage file may return short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def encrypt(file_key: bytes, source: IO[bytes], sink: IO[bytes], *, purpose: bytes = CONTENT) -> None:
    """Encrypt ``source`` (read to its end) into ``sink``, one segment in memory at a time. There is always a
    last segment, empty when ``source`` is."""
    aead = AESGCM(file_key)
    header = MAGIC + os.urandom(PREFIX_BYTES)
    aad = header + purpose
    prefix = header[len(MAGIC) :]
    sink.write(header)
    counter = 0
    segment = _read_exact(source, SEGMENT_BYTES)
    while True:
        following = _read_exact(source, SEGMENT_BYTES) if len(segment) == SEGMENT_BYTES else b""
        last = not following
        sink.write(aead.encrypt(_nonce(prefix, counter, last), segment, aad))
        if last:
            return
        segment, counter = following, counter + 1


def decrypt(file_key: bytes, source: IO[bytes], *, purpose: bytes = CONTENT) -> Iterator[bytes]:
    """The plaintext, segment by segment, reading one sealed segment ahead to know which is the last. Raises
    ``Tampered`` (while iterating) on a wrong header, a segment that does not authenticate (altered, reordered,
    from another stream or key), a stream cut short, or data after the last segment."""
    aead = AESGCM(file_key)
    header = _read_exact(source, HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise Tampered("not an encrypted attachment (header)")
    aad = header + purpose
    prefix = header[len(MAGIC) :]
    sealed_size = SEGMENT_BYTES + TAG_BYTES
    counter = 0
    sealed = _read_exact(source, sealed_size)
    if len(sealed) < TAG_BYTES:
        raise Tampered("encrypted attachment cut short (no last segment)")
    while True:
        following = _read_exact(source, sealed_size) if len(sealed) == sealed_size else b""
        last = not following
        try:
            plain = aead.decrypt(_nonce(prefix, counter, last), sealed, aad)
        except (InvalidTag, ValueError) as exc:
            raise Tampered(f"segment {counter} does not authenticate (altered, reordered or cut short)") from exc
        if plain:
            yield plain
        if last:
            return
        if len(following) < TAG_BYTES:
            raise Tampered(f"segment {counter + 1} is cut short")
        sealed, counter = following, counter + 1
