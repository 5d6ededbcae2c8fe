"""Size and count limits, told in Japanese before anything is decoded."""

import io

import pytest

from cases.attachments import Incoming, Rejected, check, prepare

from .samples import PDF, incoming


def pdf_of(size: int) -> bytes:
    return PDF + b"%" * (size - len(PDF))


def test_within_limits_passes(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    assert check([incoming("a.pdf", pdf_of(1000)), incoming("b.pdf", pdf_of(500))]) == []


def test_per_file(settings):
    settings.ATTACHMENT_MAX_BYTES = 2 * 1024 * 1024
    big = pdf_of(2 * 1024 * 1024 + 1)
    assert check([incoming("大きい.pdf", big)]) == ["「大きい.pdf」は大きすぎます（1ファイル2 MBまで）。"]
    with pytest.raises(Rejected) as refused:
        prepare(incoming("大きい.pdf", big))
    assert refused.value.code == "size"


def test_declared_size_is_not_trusted(settings):
    """A sender claiming a small size still cannot pass more than the limit through ``prepare``."""
    settings.ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(Rejected) as refused:
        prepare(Incoming(name="嘘.pdf", file=io.BytesIO(pdf_of(5000)), size=100))
    assert refused.value.message == "「嘘.pdf」は大きすぎます（1ファイル1000 Bまで）。"


def test_empty(settings):
    assert check([incoming("空.pdf", b"")]) == ["「空.pdf」は空のファイルです。"]
    with pytest.raises(Rejected) as refused:
        prepare(incoming("空.pdf", b""))
    assert refused.value.code == "size"


def test_per_entry_total(settings):
    settings.ATTACHMENT_MAX_BYTES = 600 * 1024
    settings.ATTACHMENT_MAX_ENTRY_BYTES = 1024 * 1024
    files = [incoming(f"{n}.pdf", pdf_of(400 * 1024)) for n in range(3)]
    assert check(files[:2]) == []
    assert check(files) == ["添付ファイルの合計が大きすぎます（1件の記録につき1 MBまで）。"]


def test_count(settings):
    settings.ATTACHMENT_MAX_FILES = 2
    files = [incoming(f"{n}.pdf", PDF) for n in range(3)]
    assert check(files[:2]) == []
    assert check(files) == ["添付できるファイルは1件の記録につき2件までです（3件あります）。"]


def test_every_problem_is_told_at_once(settings):
    settings.ATTACHMENT_MAX_FILES = 2
    messages = check([incoming("a.exe", b"MZ" + bytes(10)), incoming("b.pdf", b""), incoming("c.pdf", PDF)])
    assert len(messages) == 3
    assert messages[1].startswith("「a.exe」") and messages[2] == "「b.pdf」は空のファイルです。"
