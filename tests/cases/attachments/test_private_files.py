"""Private files (``store_private``): an upload kept encrypted while a job needs it, like an attachment's content."""

import io
import os
from dataclasses import replace
from uuid import uuid4

import pytest

from cases.attachments.errors import Tampered
from cases.attachments.store import PrivateRef, discard_private, open_private, read_private, store_private

CONTENT = "山田太郎,1950-04-01\n".encode() * 5000  # several segments


def _location(settings) -> str:
    return settings.STORAGES["attachments"]["OPTIONS"]["location"]


def test_round_trip_through_json_and_a_private_file(settings, tmp_path):
    ref = store_private(io.BytesIO(CONTENT))
    assert ref.size == len(CONTENT)
    assert ref.storage_name.startswith("p/")
    with open(os.path.join(_location(settings), ref.storage_name), "rb") as stored:
        sealed = stored.read()
    assert "山田太郎".encode() not in sealed
    again = PrivateRef.from_json(ref.as_json())
    assert again == ref
    out = open_private(again, tmp_path / "records.json")
    assert out.read_bytes() == CONTENT
    assert (out.stat().st_mode & 0o777) == 0o600


def test_a_reference_opens_only_its_own_file():
    ref = store_private(io.BytesIO(CONTENT))
    with pytest.raises(Tampered):
        b"".join(read_private(replace(ref, id=uuid4())))


def test_a_reference_that_is_not_one_is_tampered():
    with pytest.raises(Tampered):
        PrivateRef.from_json({"id": "x"})


def test_discard_removes_the_object(settings):
    ref = store_private(io.BytesIO(b"x"))
    path = os.path.join(_location(settings), ref.storage_name)
    assert os.path.exists(path)
    discard_private([ref])
    assert not os.path.exists(path)
