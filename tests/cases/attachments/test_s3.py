"""An S3-compatible object store (moto's server, a real HTTP endpoint) as ``STORAGES["attachments"]``."""

import uuid

import pytest
from django.core.files.storage import storages

from cases.attachments import BlobRef, Tampered, digest, discard, prepare, read, store

from .samples import PDF, image, incoming


@pytest.fixture
def s3(settings, moto_s3):
    # Changing STORAGES empties Django's cache of storage instances (django.test.signals.storages_changed), so
    # storages["attachments"] is built anew from these settings and again from the originals afterwards.
    settings.STORAGES = {**settings.STORAGES, "attachments": moto_s3.storage_settings()}
    assert type(storages["attachments"]).__name__ == "S3Storage"
    return moto_s3


def test_store_read_and_discard_through_s3(s3):
    data = PDF + bytes(range(256)) * 1000  # 256 KB: several segments
    attachment_id = uuid.uuid4()
    with prepare(incoming("同意書.pdf", data)) as prepared:
        blob = store(prepared, attachment_id=attachment_id)
    ref = BlobRef(attachment_id, blob.storage_name, blob.thumbnail_name, blob.key_id, blob.wrapped_key)

    stored = s3.client().get_object(Bucket=s3.bucket, Key=blob.storage_name)["Body"].read()
    assert stored.startswith(b"TSA1") and len(stored) > len(data)
    assert b"%PDF" not in stored and bytes(range(256)) not in stored
    assert b"".join(read(ref)) == data
    assert digest(ref) == prepared.sha256

    discard([blob.storage_name])
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=blob.storage_name)
    assert listed.get("KeyCount", 0) == 0
    with pytest.raises(Tampered):
        b"".join(read(ref))


def test_thumbnail_through_s3(s3):
    attachment_id = uuid.uuid4()
    with prepare(incoming("photo.png", image("PNG", size=(800, 600)))) as prepared:
        blob = store(prepared, attachment_id=attachment_id)
    ref = BlobRef(attachment_id, blob.storage_name, blob.thumbnail_name, blob.key_id, blob.wrapped_key)
    keys = {item["Key"] for item in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert {blob.storage_name, blob.thumbnail_name} <= keys
    assert b"".join(read(ref, thumbnail=True)).startswith(b"\xff\xd8\xff")
    discard([blob.storage_name, blob.thumbnail_name])
    keys = {item["Key"] for item in s3.client().list_objects_v2(Bucket=s3.bucket).get("Contents", [])}
    assert not {blob.storage_name, blob.thumbnail_name} & keys


def test_unreachable_store_is_unavailable(settings, moto_s3):
    from cases.attachments import Unavailable

    from .conftest import free_port

    unreachable = moto_s3.storage_settings()
    unreachable["OPTIONS"] = {**unreachable["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "attachments": unreachable}
    with prepare(incoming("同意書.pdf", PDF)) as prepared, pytest.raises(Unavailable):
        store(prepared, attachment_id=uuid.uuid4())
