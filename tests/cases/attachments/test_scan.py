"""The malware scan through a real clamd (INSTREAM over its Unix socket), failing closed."""

import io
import uuid

import pytest

from cases.attachments import Rejected, Unavailable, prepare, store
from cases.attachments.scan import clamd_instream

from .conftest import EICAR
from .samples import PDF, image, incoming


@pytest.fixture
def scanning(settings, clamd):
    settings.ATTACHMENT_SCANNER = "clamd"
    settings.ATTACHMENT_CLAMD_ADDRESS = clamd.address
    settings.ATTACHMENT_CLAMD_TIMEOUT = 10
    return clamd


def test_clamd_answers(scanning):
    assert clamd_instream(io.BytesIO(PDF), scanning.address, 10) == "stream: OK"
    found = clamd_instream(io.BytesIO(EICAR), scanning.address, 10)
    assert found.startswith("stream: Eicar-Test-Signature") and found.endswith(" FOUND")


def test_eicar_is_refused_as_malware(scanning, caplog):
    with pytest.raises(Rejected) as refused:
        prepare(incoming("請求書.pdf", EICAR))
    assert refused.value.code == "malware"
    assert (
        refused.value.message
        == "「請求書.pdf」からウイルスなどの不正なプログラムが見つかったため、受け付けられません。"
    )
    assert "Eicar" not in refused.value.message  # the signature goes to the log, not to the user
    assert "Eicar-Test-Signature" in caplog.text


def test_eicar_inside_an_accepted_type_is_refused(scanning):
    """A file that passes the type check is scanned too: the scan is not only for what is refused anyway."""
    with pytest.raises(Rejected) as refused:
        prepare(incoming("同意書.pdf", PDF + EICAR + b"\n%%EOF\n"))
    assert refused.value.code == "malware"


def test_clean_files_pass(scanning):
    with prepare(incoming("同意書.pdf", PDF)) as prepared:
        assert prepared.content_type == "application/pdf"
        assert prepared.content.read() == PDF
    with prepare(incoming("photo.jpg", image("JPEG", size=(400, 300)))) as prepared:
        assert prepared.content_type == "image/jpeg"


def test_large_file_is_streamed_to_clamd(scanning, settings):
    settings.ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    data = PDF + b"%" * (3 * 1024 * 1024)
    with prepare(incoming("big.pdf", data)) as prepared:
        assert prepared.size == len(data)


def test_unreachable_scanner_fails_closed(settings, tmp_path, clamd):
    """Configured but not answering: Unavailable, and nothing reaches the storage."""
    settings.ATTACHMENT_SCANNER = "clamd"
    clamd.stop()
    try:
        settings.ATTACHMENT_CLAMD_ADDRESS = clamd.address  # the socket of the stopped clamd
        with pytest.raises(Unavailable):
            prepare(incoming("同意書.pdf", PDF))
        settings.ATTACHMENT_CLAMD_ADDRESS = f"unix://{tmp_path}/none.sock"
        with pytest.raises(Unavailable):
            prepare(incoming("同意書.pdf", PDF))
        settings.ATTACHMENT_CLAMD_ADDRESS = "tcp://127.0.0.1:9"  # discard port: refused
        with pytest.raises(Unavailable):
            prepare(incoming("同意書.pdf", PDF))
    finally:
        clamd.start()
    settings.ATTACHMENT_CLAMD_ADDRESS = clamd.address
    with prepare(incoming("同意書.pdf", PDF)) as prepared:  # back again
        store(prepared, attachment_id=uuid.uuid4())


def test_a_scanner_that_hangs_times_out(settings, tmp_path):
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "silent.sock"))
    listener.listen(1)  # accepts the connection, never answers
    try:
        settings.ATTACHMENT_SCANNER = "clamd"
        settings.ATTACHMENT_CLAMD_ADDRESS = f"unix://{tmp_path}/silent.sock"
        settings.ATTACHMENT_CLAMD_TIMEOUT = 1
        with pytest.raises(Unavailable):
            prepare(incoming("同意書.pdf", PDF))
    finally:
        listener.close()


def test_unknown_scanner_fails_closed(settings):
    settings.ATTACHMENT_SCANNER = "antivirus9000"
    with pytest.raises(Unavailable):
        prepare(incoming("同意書.pdf", PDF))
