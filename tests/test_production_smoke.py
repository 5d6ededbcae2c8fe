"""The production smoke test: docs/operations.md followed on this machine, with the deploy/ configurations.

A copy of the clone (as tests/test_readme.py makes it) stands in for ``/srv/tsunagu/app``. The test creates what the
guide's environment-specific steps create (two PostgreSQL roles and a database owned by the owner role, an
environment file, a Redis of its own, a self-signed certificate), runs every ``sh`` block of the guide with the
paths and role names substituted, then starts gunicorn, a Celery worker and beat exactly as the systemd units do
(their ``ExecStart``) and nginx with deploy/nginx/tsunagu.conf in front. Over HTTPS through nginx it signs the
first administrator in (password, then the second factor's enrolment with a computed TOTP code) and a
supervisor in, registers a client and shares it with a partner agency through the API, appends an entry with the
partner's API key, waits for the notice the real worker delivers, and reads ``/health/``; then it runs the guide's
``sh running`` blocks (an upgrade's migrate while serving, a backup, the restore drill, ``verify_audit``,
``health``, key rotation). Everything it started is stopped, and its databases and roles dropped, however it ends.
Every wait is bounded.
"""

import base64
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
from django.conf import settings
from django_otp.oath import totp

from tests.test_readme import _copy_clone

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("processes")]

BASE = Path(settings.BASE_DIR)
GUIDE = BASE / "docs" / "operations.md"
BLOCK = re.compile(r"^```(sh(?: [\w-]+)?)\n(.*?)^```", re.M | re.S)
HOST = "tsunagu.example.jp"
PASSWORD = "Kenkou-Sanjo-2026-smoke"  # what the operator types for --password-stdin
OWNER_URL = "postgres://tsunagu_owner@127.0.0.1:5432/tsunagu"
DRILL_URL = "postgres://postgres@scratch.example.internal:5432/tsunagu_drill"
UNITS = ("tsunagu-web", "tsunagu-worker", "tsunagu-beat")


def guide_blocks(kind: str) -> list[list[str]]:
    """The commands of the guide's blocks of ``kind`` (``sh``, ``sh running``, ``sh env-specific``)."""
    blocks = []
    for lang, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        if lang != kind:
            continue
        lines = [line.strip() for line in body.replace("\\\n", " ").splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _psql(sql: str, *, database: str = "postgres") -> str:
    db = settings.DATABASES["default"]
    url = (
        f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"
    )
    result = subprocess.run(  # noqa: S603 - psql from PATH, fixed SQL
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-At", url, "-c", sql],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def nginx_config(tmp: Path, *, http_port: int, https_port: int, upstream_port: int) -> Path:
    """deploy/nginx/tsunagu.conf with this run's ports, certificate and log paths, inside a minimal nginx.conf (what
    Debian's /etc/nginx/nginx.conf provides around a site)."""
    cert, key = _self_signed(tmp)
    site = (BASE / "deploy" / "nginx" / "tsunagu.conf").read_text(encoding="utf-8")
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/ssl/tsunagu/fullchain.pem", str(cert)),
        ("/etc/ssl/tsunagu/privkey.pem", str(key)),
        ("/var/log/nginx/", f"{tmp}/"),
        ("/var/www/letsencrypt", str(tmp)),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
    ]:
        assert old in site, old
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)  # no IPv6 in every CI box
    (tmp / "site.conf").write_text(site, encoding="utf-8")
    main = tmp / "nginx.conf"
    temp = {name: tmp / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main.write_text(
        "worker_processes 1;\n"
        f"pid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/nginx-error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        f"  access_log {tmp}/nginx-default-access.log;\n"
        + "".join(f"  {name}_temp_path {path};\n" for name, path in temp.items())
        + f"  include {tmp}/site.conf;\n"
        "}\n",
        encoding="utf-8",
    )
    return main


def _unit_command(unit: str, *, app: Path, var: Path) -> list[str]:
    """The unit's ExecStart, with this run's checkout and state directory for /srv/tsunagu/app and /var/lib/tsunagu."""
    text = (BASE / "deploy" / "systemd" / f"{unit}.service").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    command = (
        line.removeprefix("ExecStart=").replace("/srv/tsunagu/app", str(app)).replace("/var/lib/tsunagu", str(var))
    )
    return shlex.split(command.replace("%H", socket.gethostname()))


class Processes:
    """Processes started by the test: all stopped (TERM, then KILL) by ``stop_all``, logs kept for failures."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)  # noqa: S603
        self.started.append((name, process))
        return process

    def check_running(self) -> None:
        for name, process in self.started:
            assert process.poll() is None, f"{name} stopped (exit {process.returncode}):\n{self.log(name)}"

    def log(self, name: str, *, tail: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-tail:] if path.exists() else ""

    def stop_all(self) -> None:
        for _name, process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _wait_for(what: str, check, *, timeout: float, processes: Processes) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        processes.check_running()
        try:
            result = last = check()
        except (OSError, requests.RequestException) as exc:
            result, last = None, exc
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_the_guide_marks_every_command():
    """Every fenced shell block is run by this test (``sh``, ``sh running``) or said to be environment-specific."""
    text = GUIDE.read_text(encoding="utf-8")
    kinds = set(re.findall(r"^```(sh[^\n]*)$", text, re.M))
    assert kinds <= {"sh", "sh running", "sh env-specific"}, kinds
    assert not re.search(r"^```(bash|shell|console)\b", text, re.M)
    setup = [c for block in guide_blocks("sh") for c in block]
    running = [c for block in guide_blocks("sh running") for c in block]
    assert any("migrate" in c for c in setup) and any("audit_db_roles" in c for c in setup)
    assert any("add_agency" in c for c in setup) and any("issue_api_key" in c for c in setup)
    drill = next(i for i, c in enumerate(running) if "manage.py restore_drill" in c)
    assert running[drill + 1].endswith("manage.py verify_audit")  # the restore drill ends with verify_audit


def test_the_units_start_what_the_guide_and_the_configs_say():
    for unit in UNITS:
        text = (BASE / "deploy" / "systemd" / f"{unit}.service").read_text(encoding="utf-8")
        for setting in (
            "User=tsunagu",
            "EnvironmentFile=/etc/tsunagu/tsunagu.env",
            "WorkingDirectory=/srv/tsunagu/app",
            "Restart=on-failure",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/tsunagu /var/lib/tsunagu-anchors",
            "CapabilityBoundingSet=\n",
            "UMask=0027",
        ):
            assert setting in text, f"{unit}: {setting!r}"
    assert "--config deploy/gunicorn.conf.py" in (BASE / "deploy/systemd/tsunagu-web.service").read_text()
    assert "--schedule=/var/lib/tsunagu/" in (BASE / "deploy/systemd/tsunagu-beat.service").read_text()


def test_systemd_accepts_the_units(tmp_path):
    """``systemd-analyze verify`` (systemd need not be running) on the units, paths pointed at this clone."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (.ci/run installs systemd)"
    venv = Path(sys.prefix)  # the environment running the tests has gunicorn and celery, like the server's venv
    assert (venv / "bin" / "gunicorn").exists(), venv
    for unit in UNITS:
        text = (BASE / "deploy" / "systemd" / f"{unit}.service").read_text(encoding="utf-8")
        (tmp_path / f"{unit}.service").write_text(text.replace("/srv/tsunagu/app/.venv", str(venv)))
    result = subprocess.run(  # noqa: S603
        [analyze, "verify", *(str(tmp_path / f"{unit}.service") for unit in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_production_smoke(tmp_path):
    for tool in ("psql", "pg_dump", "pg_restore", "dropdb", "redis-server"):
        assert shutil.which(tool), f"{tool} is needed (.ci/run installs it)"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is needed (.ci/run installs nginx-light)"
    from tests.cases.processes import RedisServer

    app, var, anchors, backups, logs = (tmp_path / name for name in ("app", "var", "anchors", "backups", "logs"))
    for directory in (var, anchors, backups, logs):
        directory.mkdir()
    _copy_clone(app)
    prefix = f"smoke_{secrets.token_hex(4)}"
    owner, app_role, database, drill = f"{prefix}_owner", f"{prefix}_app", prefix, f"{prefix}_drill"
    db = settings.DATABASES["default"]
    pg = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    owner_url = f"postgres://{owner}@{pg}/{database}"
    substitutions = [
        (OWNER_URL, owner_url),
        (DRILL_URL, f"postgres://{db.get('USER') or 'postgres'}@{pg}/{drill}"),
        ("tsunagu_app", app_role),
        ("/var/backups/tsunagu", str(backups)),
    ]
    redis = RedisServer()
    web_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    processes = Processes(logs)
    key = lambda: "k1:" + secrets.token_urlsafe(40)  # noqa: E731
    environment = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "AUDIT_HMAC_KEYS": key(),
        "AUDIT_SIGNING_KEYS": key(),
        "ATTACHMENT_KEYS": key(),
        "AUDIT_ANCHOR_DIR": str(anchors),
        "TSUNAGU_VAR_DIR": str(var),
        "DATABASE_URL": f"postgres://{app_role}@{pg}/{database}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis.port}/1",
        "PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "SITE_URL": f"https://{HOST}",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_WORKERS": "2",
        "AUDIT_SEAL_INTERVAL_SECONDS": "2",
    }
    env_file = tmp_path / "tsunagu.env"  # /etc/tsunagu/tsunagu.env
    env_file.write_text("".join(f"{name}={value}\n" for name, value in environment.items()), encoding="utf-8")
    process_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **environment}

    def run_blocks(kind: str) -> int:
        ran = 0
        for number, block in enumerate(guide_blocks(kind), start=1):
            lines = []
            for command in block:
                for old, new in substitutions:
                    command = command.replace(old, new)
                stdin = f"<<< '{PASSWORD}'" if "--password-stdin" in command else "< /dev/null"
                failed = shlex.quote(f"failed: {command}")
                lines.append(f"{command} {stdin} || {{ echo {failed} >&2; exit 1; }}")
            # The admin shell (guide 1.5): the checkout, the environment file loaded.
            script = "\n".join(["set -o pipefail", f"cd {app}", f"set -a; . {env_file}; set +a", *lines])
            result = subprocess.run(  # noqa: S603 - bash with the guide's commands
                ["/bin/bash", "-c", script],
                env={"PATH": process_env["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, (
                f"guide block {kind} #{number}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
            ran += len(lines)
        return ran

    try:
        # Guide 1.3, as `sudo -u postgres createuser/createdb` would (this cluster trusts local connections).
        _psql(f'CREATE ROLE "{owner}" LOGIN; CREATE ROLE "{app_role}" LOGIN')
        _psql(f'CREATE DATABASE "{database}" OWNER "{owner}"')
        redis.start()
        started = time.monotonic()
        assert run_blocks("sh") >= 10
        assert (app / "staticfiles" / "staticfiles.json").exists()  # DEBUG off: the manifest of hashed names
        setup_seconds = time.monotonic() - started

        # The units' ExecStart, in the checkout, with the environment file's variables (EnvironmentFile=).
        for unit in UNITS:
            processes.start(unit, _unit_command(unit, app=app, var=var), cwd=app, env=process_env)
        main_conf = nginx_config(tmp_path, http_port=http_port, https_port=https_port, upstream_port=web_port)
        test_conf = subprocess.run(  # noqa: S603
            [nginx, "-t", "-c", str(main_conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert test_conf.returncode == 0, test_conf.stderr
        processes.start("nginx", [nginx, "-c", str(main_conf), "-g", "daemon off;"])

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        site = f"https://127.0.0.1:{https_port}"
        browser = requests.Session()
        browser.verify = False  # the self-signed certificate
        browser.trust_env = False  # (REQUESTS_CA_BUNDLE in the environment would turn verification back on)
        browser.headers.update({"Host": HOST, "X-Real-IP": "198.51.100.99"})  # nginx must overwrite X-Real-IP
        _wait_for(
            "gunicorn behind nginx",
            lambda: browser.get(f"{site}/login/", timeout=5).ok,
            timeout=90,
            processes=processes,
        )

        # Plain HTTP is redirected to HTTPS by nginx; the application itself sees https (PROXY_SSL_HEADER).
        plain = requests.get(
            f"http://127.0.0.1:{http_port}/login/", headers={"Host": HOST}, allow_redirects=False, timeout=10
        )
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://{HOST}/login/"
        page = browser.get(f"{site}/login/", timeout=10)
        assert page.status_code == 200, page.status_code
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert len(page.raw.headers.getlist("Strict-Transport-Security")) == 1  # the application's, not twice
        assert re.fullmatch(r"[0-9a-f]{32}", page.headers["X-Request-ID"])  # made by nginx
        static = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page.text)
        assert static, "the login page links its stylesheet by its hashed name"
        stylesheet = browser.get(f"{site}{static.group(1)}", timeout=10)
        assert stylesheet.status_code == 200 and "immutable" in stylesheet.headers["Cache-Control"]

        # Sign in (a supervisor: password only) over HTTPS, with the CSRF token, as a browser does.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        origin = {"Origin": f"https://{HOST}", "Referer": f"https://{HOST}/login/"}
        signed_in = browser.post(
            f"{site}/login/",
            data={"username": "sasaki", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={**origin, "X-Request-ID": "smoke-login-1"},
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 302, signed_in.text[-2000:]
        assert signed_in.headers["X-Request-ID"] == "smoke-login-1"  # a well-formed id is passed through
        assert "sessionid" in browser.cookies
        assert "Secure" in signed_in.headers.get("Set-Cookie", "")
        # The client's address is what nginx saw (127.0.0.1), not what the client claimed in X-Real-IP.
        addresses = _psql("SELECT DISTINCT host(ip) FROM audit_auditevent WHERE ip IS NOT NULL", database=database)
        assert addresses.split() == ["127.0.0.1"], addresses

        # The guide's first administrator: the password, then the second factor's enrolment, as a browser does (the
        # key shown on the page, a code computed from it as an authenticator app would).
        admin = requests.Session()
        admin.verify, admin.trust_env = False, False
        admin.headers["Host"] = HOST
        form = admin.get(f"{site}/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        to_setup = admin.post(
            f"{site}/login/",
            data={"username": "kenkou-admin", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers=origin,
            allow_redirects=False,
            timeout=30,
        )
        assert to_setup.status_code == 302 and "/login/setup/" in to_setup.headers["Location"], to_setup.headers
        setup = admin.get(f"{site}{urlsplit(to_setup.headers['Location']).path}", timeout=10)
        secret = re.search(r'<code class="mfa-secret">([A-Z2-7 ]+)</code>', setup.text).group(1).replace(" ", "")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', setup.text).group(1)
        enrolled = admin.post(
            f"{site}/login/setup/",
            data={"code": f"{totp(base64.b32decode(secret)):06d}", "csrfmiddlewaretoken": token},
            headers={**origin, "Referer": f"https://{HOST}/login/setup/"},
            allow_redirects=False,
            timeout=30,
        )
        assert enrolled.status_code == 200 and "mfa-secret" not in enrolled.text, enrolled.text[-2000:]  # the codes
        staff_page = admin.get(f"{site}/", allow_redirects=False, timeout=10)
        assert staff_page.status_code in (200, 302), staff_page.status_code
        if staff_page.status_code == 302:
            assert "/login/" not in staff_page.headers["Location"], staff_page.headers["Location"]

        # The supervisor registers a client and shares it with the partner agency (the API, session-authenticated).
        api_headers = {**origin, "X-CSRFToken": browser.cookies["csrftoken"], "Content-Type": "application/json"}
        created = browser.post(
            f"{site}/api/v1/clients/",
            data=json.dumps({"name": "試験 花子", "name_kana": "しけん はなこ", "birth_date": "1950-04-01"}),
            headers=api_headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["id"]
        shared = browser.post(
            f"{site}/api/v1/clients/{client_id}/shares/",
            data=json.dumps({"agency": "sakura", "level": "append", "basis": "consent"}),
            headers=api_headers,
            timeout=30,
        )
        assert shared.status_code == 201, shared.text

        # The partner's system appends with its API key (issued by the guide's command).
        issued = subprocess.run(  # noqa: S603
            [
                "/bin/bash",
                "-c",
                f"set -a; . {env_file}; set +a; .venv/bin/python manage.py issue_api_key sakura-api --name smoke",
            ],
            cwd=app,
            env={"PATH": process_env["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert issued.returncode == 0, issued.stderr
        api_key = issued.stdout.strip().splitlines()[-1]
        partner = requests.Session()
        partner.verify, partner.trust_env = False, False
        appended = partner.post(
            f"{site}/api/v1/clients/{client_id}/timeline/",
            json={"kind": "visit", "body": "自宅を訪問した。"},
            headers={"Host": HOST, "Authorization": f"Bearer {api_key}", "Idempotency-Key": "smoke-visit-1"},
            timeout=30,
        )
        assert appended.status_code == 201, appended.text

        # The worker delivers the notice: the supervisor's unread badge counts it.
        _wait_for(
            "the notice delivered by the worker",
            lambda: 'class="count"' in browser.get(f"{site}/inbox/badge/", timeout=10).text,
            timeout=90,
            processes=processes,
        )
        # Beat seals the audit log (every 2 s here) through the worker.
        _wait_for(
            "an audit seal by beat and the worker",
            lambda: int(_psql("SELECT count(*) FROM audit_auditseal", database=database) or 0) > 0,
            timeout=60,
            processes=processes,
        )

        # /health/ as the load balancer reads it: anonymous, JSON, every component ok ("green").
        probe = requests.Session()
        probe.verify, probe.trust_env = False, False
        probe.headers["Host"] = HOST

        def green():
            response = probe.get(f"{site}/health/", timeout=10)
            return response if response.ok and response.json()["status"] == "ok" else None

        health = _wait_for("/health/ green", green, timeout=60, processes=processes)
        assert health.headers["Content-Type"].startswith("application/json")
        report = health.json()
        assert {name: part["status"] for name, part in report["components"].items()} == dict.fromkeys(
            report["components"], "ok"
        ), report
        assert {"database", "cache", "broker"} <= set(report["components"]), report

        # Upgrade while serving, backup, restore drill, verify_audit, health, key rotation (the guide's order).
        assert run_blocks("sh running") >= 6
        assert list(backups.glob("tsunagu-*.dump"))
        processes.check_running()

        # Logs: the access logs carry paths without query strings; no case data anywhere.
        browser.get(f"{site}/api/v1/clients/?q=しけん", timeout=10)
        time.sleep(1)
        access = (tmp_path / "tsunagu-access.log").read_text(encoding="utf-8")
        web_log = processes.log("tsunagu-web", tail=10**8)
        assert "/api/v1/clients/ " in access and "しけん" not in access and "q=" not in access
        assert "/health/" not in access
        assert "smoke-login-1" in web_log  # the request id the client sent, in the application's and gunicorn's lines
        for text in (
            access,
            web_log,
            processes.log("tsunagu-worker", tail=10**8),
            processes.log("tsunagu-beat", tail=10**8),
        ):
            assert "試験" not in text and "自宅を訪問" not in text and "%E3%81%97" not in text
        print(f"setup {setup_seconds:.0f} s, total {time.monotonic() - started:.0f} s")
    except BaseException:
        for name, _process in processes.started:
            print(f"--- {name}\n{processes.log(name)}")
        raise
    finally:
        processes.stop_all()
        redis.stop()
        for name in (database, drill):
            subprocess.run(  # noqa: S603
                ["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", db.get("USER") or "postgres", name],  # noqa: S607
                capture_output=True,
                timeout=60,
            )
        for role in (app_role, owner):
            subprocess.run(  # noqa: S603
                [  # noqa: S607
                    "psql",
                    "-X",
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    db.get("USER") or "postgres",
                    "-c",
                    f'DROP ROLE IF EXISTS "{role}"',
                    "postgres",
                ],
                capture_output=True,
                timeout=60,
            )
