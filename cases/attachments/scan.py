"""The malware scan: ClamAV's ``clamd`` over its INSTREAM protocol when ``ATTACHMENT_SCANNER = "clamd"``.

Fail closed: with a scanner configured, a scanner that cannot be reached, times out or answers with an error
raises ``Unavailable`` and nothing is stored. A finding raises ``Rejected(code="malware")``; the signature
name goes to the log for the operators, not to the user (it helps nobody who uploaded a file by mistake, and
tells someone probing the scanner which signature caught them).
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import IO
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext

from .errors import Rejected, Unavailable

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
REPLY_MAX = 4096


def scan(file: IO[bytes], name: str) -> None:
    """Scan ``file`` from position 0 (left at 0) with the configured scanner; no scanner configured: nothing."""
    scanner = settings.ATTACHMENT_SCANNER
    if not scanner:
        return
    if scanner != "clamd":
        logger.error("ATTACHMENT_SCANNER=%r is not a known scanner: uploads are refused", scanner)
        raise Unavailable(f"unknown scanner {scanner!r}")
    file.seek(0)
    try:
        reply = clamd_instream(file, settings.ATTACHMENT_CLAMD_ADDRESS, settings.ATTACHMENT_CLAMD_TIMEOUT)
    finally:
        file.seek(0)
    if reply == "stream: OK":
        return
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        logger.warning("malware refused: %s", reply.removeprefix("stream: ").removesuffix(" FOUND"))
        raise Rejected(
            gettext("「%(name)s」からウイルスなどの不正なプログラムが見つかったため、受け付けられません。")
            % {"name": name},
            code="malware",
        )
    logger.error("clamd answered %r", reply)
    raise Unavailable(f"the scanner answered with an error: {reply}")


def _connect(address: str, timeout: float) -> socket.socket:
    """``unix:///path/to/clamd.ctl`` or ``tcp://host:port``."""
    parts = urlsplit(address)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(parts.path)
        except BaseException:
            sock.close()
            raise
        return sock
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    raise Unavailable(f"ATTACHMENT_CLAMD_ADDRESS must be unix:///path or tcp://host:port, not {address!r}")


def clamd_instream(file: IO[bytes], address: str, timeout: float) -> str:
    """Send ``file`` to clamd (``zINSTREAM``: chunks each preceded by its length as 4 bytes big-endian, a zero
    length to end) and return its one-line reply, e.g. ``stream: OK`` or ``stream: Eicar-Test-Signature FOUND``.
    Raises ``Unavailable`` when clamd cannot be reached or stops answering."""
    try:
        with _connect(address, timeout) as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                while chunk := file.read(CHUNK_BYTES):
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            except BrokenPipeError:
                pass  # clamd hung up early (e.g. its StreamMaxLength): its reply says why
            reply = b""
            while b"\0" not in reply and len(reply) < REPLY_MAX:
                data = sock.recv(REPLY_MAX)
                if not data:
                    break
                reply += data
    except OSError as exc:  # refused, missing socket, timeout, reset
        logger.error("clamd at %s is unreachable: %s", address, exc)
        raise Unavailable(f"the scanner at {address} is unreachable") from exc
    return reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
