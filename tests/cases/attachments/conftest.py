import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cases.processes import free_port, wait_for

KEY_1 = ("k1", "first-test-master-key-0123456789abcdef")


@pytest.fixture(autouse=True)
def attachment_settings(settings, tmp_path):
    """Each test stores into its own directory, under a known master key, with no scanner."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        },
    }
    settings.ATTACHMENT_KEYS = [KEY_1]
    settings.ATTACHMENT_SCANNER = ""
    return settings


# --- real processes (grouped on one worker: see PROCESS_FIXTURES in tests/conftest.py) -------------------------

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class Clamd:
    """A clamd on a Unix socket in a temporary directory, with a database of the EICAR test signature only
    (the whole-file MD5 in ``eicar.hdb`` and the string anywhere in a file in ``eicar.ndb``): starts in well
    under a second, needs no network and no freshclam."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.socket = directory / "clamd.sock"
        self.process: subprocess.Popen | None = None
        database = directory / "db"
        database.mkdir()
        md5 = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - the format of ClamAV's .hdb signatures
        (database / "eicar.hdb").write_text(f"{md5}:{len(EICAR)}:Eicar-Test-Signature\n")
        (database / "eicar.ndb").write_text(f"Eicar-Test-Signature-Body:0:*:{EICAR.hex()}\n")
        lines = [f"LocalSocket {self.socket}", f"DatabaseDirectory {database}", "Foreground yes"]
        if os.geteuid() == 0:
            lines.append("User root")  # clamd otherwise drops to the clamav user, who cannot read the tmp dir
        self.config = directory / "clamd.conf"
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        binary = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
        assert binary, "clamd is required (Debian package clamav-daemon; .ci/run installs it)"
        self.log = open(self.directory / "clamd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [binary, "--config-file", str(self.config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        if not wait_for(self._answers, timeout=15):
            self.stop()
            raise RuntimeError("clamd did not start: " + (self.directory / "clamd.log").read_text())

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError("clamd exited: " + (self.directory / "clamd.log").read_text())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                sock.connect(str(self.socket))
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None
            self.log.close()


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    server = Clamd(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


class MotoS3:
    """moto's S3 emulator as a server process on a spare port, with one bucket."""

    bucket = "tsunagu-attachments-test"

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = Path(sys.executable).with_name("moto_server")
        assert binary.exists(), "moto_server is required (the dev dependencies install moto[server])"
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for(self._answers, timeout=30):
            self.stop()
            raise RuntimeError("moto_server did not start")
        self.client().create_bucket(Bucket=self.bucket)

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def storage_settings(self) -> dict:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": self.bucket,
                "endpoint_url": self.endpoint_url,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "addressing_style": "path",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="module")
def moto_s3():
    server = MotoS3()
    server.start()
    yield server
    server.stop()
