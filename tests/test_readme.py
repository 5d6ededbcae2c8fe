"""Every command the README shows runs as written after ``make run``, for a new user in another terminal.

The test copies the clone (its tracked and new files) to a temporary directory with the virtual environment linked
in, runs what ``make run`` runs before it serves (``make demo``: the local ``.env``, the SQLite database, the demo
data), starts the server as ``make run`` would (on a free port instead of 8000, which the API quick start's
commands are pointed at), and then runs each ``sh`` block of README.md in a fresh shell with nothing but a plain
``PATH`` in the environment. Each command must exit 0. Commands that start servers or need servers of their own
are the exceptions listed in ``NOT_RUN``, each with its reason; the long schemathesis profile is collected, not run.
"""

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [
    # Runs once per CI run: in the PostgreSQL pass, on the worker that runs the tests starting processes of their
    # own (it needs no test database: the copy has its own SQLite file).
    pytest.mark.postgres,
    pytest.mark.xdist_group("processes"),
]

README = Path(settings.BASE_DIR) / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

NOT_RUN = {
    r"^make run\b": "starts the server (what it does before serving, make demo, is run first)",
    r"^make test\b": "is the CI run itself, this test included",
    r"celery -A tsunagu (worker|beat)\b": "starts a Celery worker or beat (servers, with Redis)",
    r"manage\.py restore_drill\b": "needs PostgreSQL and a scratch PostgreSQL server (tests/audit/test_restore.py)",
    r"^(BENCH_\w+=\S+ +)*make bench\b": "the benchmark: PostgreSQL, Redis, minutes to an hour (its smoke profile runs "
    "in tests/test_bench_smoke.py)",
}
COLLECT_ONLY = {r"tests/api/test_schemathesis\.py": "the long schemathesis profile: ≈ 13,000 requests"}
PASSWORD = "Kenkou-Sanjo-2026-readme"  # what a user would type for --password-stdin


def readme_blocks() -> list[list[str]]:
    """The commands of each ``sh`` block (continuation lines joined, comments and blank lines left out)."""
    blocks = []
    for lang, body in BLOCK.findall(README.read_text(encoding="utf-8")):
        if lang != "sh":
            continue
        commands = []
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
        blocks.append(commands)
    return blocks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _copy_clone(target: Path) -> None:
    base = Path(settings.BASE_DIR)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git from PATH
        cwd=base,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = base / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))


def _wait_until_served(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped: {server.stdout.read() if server.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the server did not answer at {url}")


def _shell_line(command: str, port: int) -> str | None:
    """The command as the test runs it, or None if it is not run."""
    if any(re.search(pattern, command) for pattern in NOT_RUN):
        return None
    command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    if any(re.search(pattern, command) for pattern in COLLECT_ONLY):
        command += " --collect-only -q"
    stdin = f"<<< '{PASSWORD}'" if "--password-stdin" in command else "< /dev/null"
    quoted = command.replace("'", "'\\''")
    return f"{command} {stdin} || {{ echo 'README command failed (exit '$?'): {quoted}' >&2; exit 1; }}"


def test_the_readme_lists_its_commands():
    commands = [c for block in readme_blocks() for c in block]
    assert "source .venv/bin/activate" in commands
    assert any(c.startswith("python manage.py seal_audit") for c in commands)
    assert any(c.startswith("python manage.py verify_audit --expect") for c in commands)


def test_every_readme_command_runs_as_written_after_make_run(tmp_path):
    for tool in ("git", "make", "curl", "oathtool"):
        assert shutil.which(tool), f"{tool} is needed to run the README's commands (.ci/run installs it)"
    clone = tmp_path / "tsunagu"
    _copy_clone(clone)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}

    demo = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True)  # noqa: S607
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (clone / ".env").read_text(encoding="utf-8").splitlines()[-1] == "DEBUG=true"

    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - this interpreter, the clone's manage.py
        [str(clone / ".venv" / "bin" / "python"), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_served(f"http://127.0.0.1:{port}/login/", server)
        ran = 0
        for number, block in enumerate(readme_blocks(), start=1):
            lines = [line for line in (_shell_line(c, port) for c in block) if line]
            if not lines:
                continue
            # Each block in a new terminal: activate the virtual environment first, as the README says.
            script = "\n".join(["set -o pipefail", "source .venv/bin/activate", *lines])
            result = subprocess.run(  # noqa: S603 - bash with a script built from README.md
                ["/bin/bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"README block {number}:\n{result.stdout}\n{result.stderr}"
            ran += len(lines)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert ran >= 20

    # Production takes nothing from the clone's .env: the deployment check passes beside it (the environment's
    # DEBUG=false wins over the file's DEBUG=true), and a value the settings would take from it is refused.
    production = {
        **env,
        "DEBUG": "false",
        "SECRET_KEY": "readme-test-" + "x" * 50,
        "ALLOWED_HOSTS": "tsunagu.example.jp",
        "AUDIT_HMAC_KEYS": "k1:" + "h" * 40,
        "AUDIT_SIGNING_KEYS": "k1:" + "s" * 40,
        "ATTACHMENT_KEYS": "k1:" + "f" * 40,
        "AUDIT_ANCHOR_DIR": str(tmp_path / "anchors"),
        "TSUNAGU_VAR_DIR": str(tmp_path / "production-var"),
    }
    check = [".venv/bin/python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    deploy = subprocess.run(check, cwd=clone, env=production, capture_output=True, text=True)  # noqa: S603
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    with (clone / ".env").open("a", encoding="utf-8") as dotenv:
        dotenv.write("EMAIL_URL=console://\n")
    setup = [".venv/bin/python", "-c", "import django; django.setup()"]
    production["DJANGO_SETTINGS_MODULE"] = "tsunagu.settings"
    refused = subprocess.run(setup, cwd=clone, env=production, capture_output=True, text=True)  # noqa: S603
    assert refused.returncode != 0
    assert "set EMAIL_URL: with DEBUG off every setting comes from the environment" in refused.stderr
