"""The deployment kit's static parts: .env.example lists exactly the settings read from the environment, and the
gunicorn configuration logs no query string and takes the client's address only from the proxy."""

import re
import runpy
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
# Read from the environment but deliberately not offered in .env.example, each with its reason.
NOT_LISTED = {
    "MAIL_BACKEND": "refused when set, with a pointer to EMAIL_URL",
    "SQLITE_TEST_NAME": "the test suite's SQLite file, never a deployment's",
}
ENV_CALL = re.compile(r"\benv_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]*)\"")
GUNICORN_CALL = re.compile(r"(?:_int|os\.environ\.get)\(\s*\"([A-Z][A-Z0-9_]*)\"")
LISTED = re.compile(r"^#? ?([A-Z][A-Z0-9_]*)=", re.M)


def _read_by(path: Path, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(path.read_text(encoding="utf-8")))


def test_env_example_lists_every_setting_and_nothing_else():
    from_settings = set()
    for path in (BASE / "tsunagu").glob("*.py"):
        from_settings |= _read_by(path, ENV_CALL)
    from_gunicorn = _read_by(BASE / "deploy" / "gunicorn.conf.py", GUNICORN_CALL)
    listed = _read_by(BASE / ".env.example", LISTED)
    assert {"SECRET_KEY", "DATABASE_URL", "EMAIL_URL", "PROXY_SSL_HEADER"} <= from_settings  # the parse works
    assert {"GUNICORN_BIND", "GUNICORN_WORKERS"} <= from_gunicorn
    missing = (from_settings | from_gunicorn) - listed - set(NOT_LISTED)
    assert not missing, f"add to .env.example (with default and meaning): {sorted(missing)}"
    unknown = listed - from_settings - from_gunicorn
    assert not unknown, f".env.example lists variables nothing reads: {sorted(unknown)}"


def test_env_example_says_what_each_setting_means():
    lines = (BASE / ".env.example").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if LISTED.match(line):
            above = lines[number - 1]
            assert above.startswith("#"), f".env.example line {number + 1}: {line!r} has no comment above it"


def _gunicorn(monkeypatch, **environ: str) -> dict:
    for name in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_access_log_has_the_path_but_never_the_query_string(monkeypatch):
    config = _gunicorn(monkeypatch)
    assert "%(U)s" in config["access_log_format"]
    for leak in ("%(r)s", "%(q)s", "%(f)s", "%(a)s", "{cookie}"):
        assert leak not in config["access_log_format"], leak
    assert config["bind"] == ["127.0.0.1:8000"]
    assert 3 <= config["workers"] <= 12


def test_gunicorn_settings_from_the_environment(monkeypatch):
    config = _gunicorn(monkeypatch, GUNICORN_BIND="127.0.0.1:9001", GUNICORN_WORKERS="3")
    assert config["bind"] == ["127.0.0.1:9001"] and config["workers"] == 3


def test_gunicorn_takes_the_client_address_from_the_proxy_only(monkeypatch):
    config = _gunicorn(monkeypatch, GUNICORN_FORWARDED_ALLOW_IPS="10.0.0.5")
    seen = []
    application = config["_client_address"](lambda environ, start_response: seen.append(environ["REMOTE_ADDR"]))
    application({"REMOTE_ADDR": "10.0.0.5", "HTTP_X_REAL_IP": "203.0.113.7"}, None)  # from the proxy
    application({"REMOTE_ADDR": "198.51.100.1", "HTTP_X_REAL_IP": "203.0.113.7"}, None)  # straight from a client
    application({"REMOTE_ADDR": "10.0.0.5", "HTTP_X_REAL_IP": "not-an-address"}, None)
    application({"REMOTE_ADDR": "10.0.0.5"}, None)
    assert seen == ["203.0.113.7", "198.51.100.1", "10.0.0.5", "10.0.0.5"]


def test_nginx_takes_the_largest_upload_the_application_accepts():
    """client_max_body_size is twice ATTACHMENT_MAX_ENTRY_BYTES (where tsunagu/uploads.py stops a request) plus
    room for the form, so the application, not nginx, answers an upload that is too large."""
    text = (BASE / "deploy" / "nginx" / "tsunagu.conf").read_text(encoding="utf-8")
    limit = int(re.search(r"client_max_body_size (\d+)m;", text).group(1)) * 1024 * 1024
    bound = 2 * settings.ATTACHMENT_MAX_ENTRY_BYTES
    assert bound < limit <= bound + 2 * 1024 * 1024
