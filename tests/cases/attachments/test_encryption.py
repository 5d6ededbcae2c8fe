"""Encryption at rest: what is stored is ciphertext, it authenticates segment by segment, it is bound to its
attachment, and the master key rotates without touching the content."""

import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest

from cases.attachments import BlobRef, Tampered, UnknownKey, crypto, digest, discard, prepare, read, rewrap, store
from cases.attachments.crypto import HEADER_BYTES, SEGMENT_BYTES, TAG_BYTES

from .conftest import KEY_1
from .samples import PDF, image, incoming

KEY_2 = ("k2", "second-test-master-key-0123456789abcdef")
SEALED = SEGMENT_BYTES + TAG_BYTES


def stored_path(settings, name: str) -> Path:
    return Path(settings.STORAGES["attachments"]["OPTIONS"]["location"]) / name


def pdf_of(size: int) -> bytes:
    """``size`` bytes starting like a PDF, the rest random (so no window repeats by chance)."""
    if size < len(PDF):
        return PDF[:size]
    return PDF + os.urandom(size - len(PDF))


def put(data: bytes, name: str = "file.pdf", attachment_id=None) -> tuple[BlobRef, bytes]:
    attachment_id = attachment_id or uuid.uuid4()
    with prepare(incoming(name, data)) as prepared:
        content = prepared.content.read()
        prepared.content.seek(0)
        blob = store(prepared, attachment_id=attachment_id)
    ref = BlobRef(attachment_id, blob.storage_name, blob.thumbnail_name, blob.key_id, blob.wrapped_key)
    return ref, content


def test_stored_bytes_are_not_the_plaintext(settings):
    data = pdf_of(200_000)
    ref, _ = put(data)
    assert ref.storage_name.startswith("a/") and len(ref.storage_name.rsplit("/", 1)[1]) == 32
    assert "file" not in ref.storage_name
    stored = stored_path(settings, ref.storage_name).read_bytes()
    assert stored.startswith(b"TSA1")
    assert len(stored) == HEADER_BYTES + len(data) + 4 * TAG_BYTES  # 200000 bytes: 4 segments
    windows = {data[i : i + 32] for i in range(0, len(data) - 32)}
    assert not any(stored[i : i + 32] in windows for i in range(0, len(stored) - 32))
    assert b"%PDF" not in stored
    assert b"".join(read(ref)) == data


def test_thumbnail_is_encrypted_too(settings):
    ref, _ = put(image("JPEG", size=(900, 600)), "photo.jpg")
    thumbnail = b"".join(read(ref, thumbnail=True))
    assert thumbnail.startswith(b"\xff\xd8\xff")
    stored = stored_path(settings, ref.thumbnail_name).read_bytes()
    assert stored.startswith(b"TSA1") and b"\xff\xd8\xff" not in stored and thumbnail[:64] not in stored


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 7])
def test_round_trip(size):
    key = crypto.new_file_key()
    data = os.urandom(size)
    sealed = io.BytesIO()
    crypto.encrypt(key, io.BytesIO(data), sealed)
    assert len(sealed.getvalue()) == HEADER_BYTES + size + TAG_BYTES * max(1, -(-size // SEGMENT_BYTES))
    sealed.seek(0)
    chunks = list(crypto.decrypt(key, sealed))
    assert b"".join(chunks) == data
    assert all(len(chunk) <= SEGMENT_BYTES for chunk in chunks)


def sealed_three_segments() -> tuple[bytes, bytes, bytes]:
    key = crypto.new_file_key()
    data = os.urandom(2 * SEGMENT_BYTES + 1000)
    out = io.BytesIO()
    crypto.encrypt(key, io.BytesIO(data), out)
    return key, data, out.getvalue()


def decrypt_all(key: bytes, sealed: bytes, purpose: bytes = crypto.CONTENT) -> bytes:
    return b"".join(crypto.decrypt(key, io.BytesIO(sealed), purpose=purpose))


def segments(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body = sealed[HEADER_BYTES:]
    return sealed[:HEADER_BYTES], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


TAMPERINGS = {
    "flip a byte of the header": lambda s: flip(s, 6),
    "flip a byte of the first segment": lambda s: flip(s, HEADER_BYTES + 10),
    "flip a byte of a tag": lambda s: flip(s, len(s) - 1),
    "cut inside the last segment": lambda s: s[:-5],
    "cut inside a middle segment": lambda s: s[: HEADER_BYTES + SEALED + 100],
    "drop the last segment": lambda s: s[: HEADER_BYTES + 2 * SEALED],
    "drop a middle segment": lambda s: segments(s)[0] + segments(s)[1][0] + segments(s)[1][2],
    "swap two segments": lambda s: segments(s)[0] + segments(s)[1][1] + segments(s)[1][0] + segments(s)[1][2],
    "trailing data": lambda s: s + b"\x00" * 20,
    "a whole extra segment": lambda s: s + segments(s)[1][0],
    "header only": lambda s: s[:HEADER_BYTES],
    "nothing": lambda s: b"",
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_is_detected(tamper):
    key, data, sealed = sealed_three_segments()
    assert decrypt_all(key, sealed) == data
    with pytest.raises(Tampered):
        decrypt_all(key, tamper(sealed))


def test_another_key_or_purpose_does_not_open():
    key, _, sealed = sealed_three_segments()
    with pytest.raises(Tampered):
        decrypt_all(crypto.new_file_key(), sealed)
    with pytest.raises(Tampered):  # content presented as a thumbnail (same file key)
        decrypt_all(key, sealed, purpose=crypto.THUMBNAIL)


def test_tampered_object_fails_while_reading(settings):
    ref, _ = put(pdf_of(3 * SEGMENT_BYTES))
    path = stored_path(settings, ref.storage_name)
    path.write_bytes(flip(path.read_bytes(), HEADER_BYTES + SEALED + 5))
    chunks = read(ref)
    assert len(next(chunks)) == SEGMENT_BYTES  # the first segment is fine
    with pytest.raises(Tampered):
        next(chunks)
    with pytest.raises(Tampered):
        digest(ref)


def test_missing_object_is_tampered(settings):
    ref, _ = put(PDF)
    discard([ref.storage_name])
    assert not stored_path(settings, ref.storage_name).exists()
    with pytest.raises(Tampered):
        b"".join(read(ref))


def test_blobs_are_bound_to_their_attachment():
    """Swapping the stored rows of two attachments (names and wrapped keys) does not serve one as the other."""
    first, _ = put(pdf_of(1000))
    second, _ = put(pdf_of(1000))
    swapped = BlobRef(first.attachment_id, second.storage_name, "", second.key_id, second.wrapped_key)
    with pytest.raises(Tampered):
        read(swapped)
    content_only = BlobRef(first.attachment_id, second.storage_name, "", first.key_id, first.wrapped_key)
    with pytest.raises(Tampered):
        b"".join(read(content_only))
    thumbnail_as_content = BlobRef(first.attachment_id, "", first.storage_name, first.key_id, first.wrapped_key)
    with pytest.raises(Tampered):
        b"".join(read(thumbnail_as_content, thumbnail=True))


def test_digest_is_of_the_plaintext():
    ref, content = put(pdf_of(100_000))
    assert digest(ref) == hashlib.sha256(content).hexdigest()


def test_key_rotation(settings):
    data = pdf_of(70_000)
    ref, _ = put(data)
    assert ref.key_id == "k1"

    settings.ATTACHMENT_KEYS = [KEY_2, KEY_1]
    assert b"".join(read(ref)) == data  # old files still open while both keys are configured
    key_id, wrapped = rewrap(ref)
    assert key_id == "k2" and wrapped != ref.wrapped_key
    rotated = BlobRef(ref.attachment_id, ref.storage_name, ref.thumbnail_name, key_id, wrapped)

    settings.ATTACHMENT_KEYS = [KEY_2]
    assert b"".join(read(rotated)) == data
    with pytest.raises(UnknownKey):
        read(ref)  # not re-wrapped, and k1 is gone

    settings.ATTACHMENT_KEYS = [("k2", "an-unrelated-secret-that-is-long-enough-0000")]
    with pytest.raises(Tampered):
        read(rotated)
    with pytest.raises(Tampered):
        rewrap(rotated)


def test_new_files_use_the_current_key(settings):
    settings.ATTACHMENT_KEYS = [KEY_2, KEY_1]
    ref, _ = put(PDF)
    assert ref.key_id == "k2"


def test_wrapped_key_is_sixty_bytes_and_random():
    key = crypto.new_file_key()
    attachment_id = uuid.uuid4()
    first = crypto.wrap(key, attachment_id=attachment_id, secret=KEY_1[1])
    second = crypto.wrap(key, attachment_id=attachment_id, secret=KEY_1[1])
    assert len(first) == 60 and first != second
    assert crypto.unwrap(first, attachment_id=attachment_id, secret=KEY_1[1]) == key
    with pytest.raises(Tampered):
        crypto.unwrap(first, attachment_id=uuid.uuid4(), secret=KEY_1[1])
    with pytest.raises(Tampered):
        crypto.unwrap(flip(first, 20), attachment_id=attachment_id, secret=KEY_1[1])


def test_read_closes_the_object_when_closed_early(settings, monkeypatch):
    ref, _ = put(pdf_of(3 * SEGMENT_BYTES))
    from django.core.files.storage import storages

    opened = []
    original_open = type(storages["attachments"]).open

    def tracking_open(self, name, mode="rb"):
        opened.append(original_open(self, name, mode))
        return opened[-1]

    monkeypatch.setattr(type(storages["attachments"]), "open", tracking_open)
    chunks = read(ref)
    next(chunks)
    chunks.close()
    assert opened and opened[0].closed


def test_discard_is_best_effort(settings):
    ref, _ = put(image("PNG"), "a.png")
    discard([ref.storage_name, ref.thumbnail_name, "a/00/missing", ""])
    assert not stored_path(settings, ref.storage_name).exists()
    assert not stored_path(settings, ref.thumbnail_name).exists()
