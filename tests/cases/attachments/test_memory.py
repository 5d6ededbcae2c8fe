"""A large file goes through prepare, store and read with memory bounded by a few segments, not its size."""

import hashlib
import os
import tracemalloc
import uuid

from cases.attachments import BlobRef, Incoming, digest, prepare, read, store

from .samples import PDF

SIZE = 64 * 1024 * 1024
LIMIT = 8 * 1024 * 1024


def peak_of(action):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_file_in_bounded_memory(settings, tmp_path):
    settings.ATTACHMENT_MAX_BYTES = SIZE + 1024
    source_path = tmp_path / "large.pdf"
    sha = hashlib.sha256()
    with source_path.open("wb") as source:
        source.write(PDF)
        sha.update(PDF)
        block = os.urandom(1024 * 1024)
        for _ in range(SIZE // len(block)):
            source.write(block)
            sha.update(block)
    size = source_path.stat().st_size
    attachment_id = uuid.uuid4()

    with source_path.open("rb") as upload:
        prepared, prepare_peak = peak_of(lambda: prepare(Incoming("large.pdf", upload, size)))
    with prepared:
        assert prepared.size == size and prepared.sha256 == sha.hexdigest()
        blob, store_peak = peak_of(lambda: store(prepared, attachment_id=attachment_id))
    ref = BlobRef(attachment_id, blob.storage_name, blob.thumbnail_name, blob.key_id, blob.wrapped_key)

    def read_all():
        check, total = hashlib.sha256(), 0
        for chunk in read(ref):
            check.update(chunk)
            total += len(chunk)
        return check.hexdigest(), total

    (read_sha, read_size), read_peak = peak_of(read_all)
    assert (read_sha, read_size) == (sha.hexdigest(), size)
    assert digest(ref) == sha.hexdigest()
    assert prepare_peak < LIMIT, prepare_peak
    assert store_peak < LIMIT, store_peak
    assert read_peak < LIMIT, read_peak
