"""Settings come from the environment through helpers that refuse values they do not understand."""

import subprocess
import sys
import tempfile
from datetime import date

import pytest
from django.core.exceptions import ImproperlyConfigured

from tsunagu.env import env_bool, env_int, env_list, env_str


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("False", False), ("1", True), ("off", False)])
def test_env_bool_accepts_clear_values(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["ture", "yes please", "2"])
def test_env_bool_rejects_anything_else(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False)


def test_env_int_and_list(monkeypatch):
    monkeypatch.setenv("N", "abc")
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 1, minimum=1)
    monkeypatch.setenv("HOSTS", "a.example,,b")
    with pytest.raises(ImproperlyConfigured):
        env_list("HOSTS", [])
    monkeypatch.setenv("HOSTS", "a.example, b.example")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_secret_from_file(monkeypatch, tmp_path):
    path = tmp_path / "secret"
    path.write_text("from-a-file\n")
    monkeypatch.setenv("TOKEN_FILE", str(path))
    assert env_str("TOKEN") == "from-a-file"


def _load_settings(env, code=None):
    code = code or (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
        "TSUNAGU_VAR_DIR": tempfile.mkdtemp(prefix="tsunagu-settings-"),
    }
    return subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=False
    )


def test_production_requires_a_secret_key():
    result = _load_settings({"DEBUG": "false"})
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


def test_quick_start_defaults_to_sqlite_and_postgres_comes_from_database_url():
    assert _load_settings({"DEBUG": "true"}).stdout.strip() == "django.db.backends.sqlite3"
    pg = _load_settings({"DEBUG": "true", "DATABASE_URL": "postgres://u@127.0.0.1:5432/x"})
    assert pg.stdout.strip() == "django.db.backends.postgresql"
    bad = _load_settings({"DEBUG": "true", "DATABASE_URL": "nosuchdb://x"})
    assert bad.returncode != 0 and "DATABASE_URL" in bad.stderr


def test_celery_runs_eagerly_without_a_broker():
    from django.conf import settings

    assert settings.CELERY_TASK_ALWAYS_EAGER is (settings.CELERY_BROKER_URL == "memory://localhost/")
    assert settings.LANGUAGE_CODE == "ja" and settings.TIME_ZONE == "Asia/Tokyo" and settings.USE_TZ


def test_postgres_connections_turn_jit_off():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS'].get('options'))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
        "DEBUG": "true",
        "TSUNAGU_VAR_DIR": tempfile.mkdtemp(prefix="tsunagu-settings-"),
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
    }
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "-c jit=off"


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "production-secret-key-for-tests-0123456789",
    "ALLOWED_HOSTS": "tsunagu.example.jp",
    "AUDIT_HMAC_KEYS": "k1:audit-hmac-key-for-the-settings-tests-0123456789",
    "AUDIT_SIGNING_KEYS": "k1:audit-signing-key-for-the-settings-tests-0123456789",
    "ATTACHMENT_KEYS": "k1:attachment-master-key-for-the-settings-tests-0123456789",
}


def test_production_requires_an_audit_hmac_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "AUDIT_HMAC_KEYS"}
    result = _load_settings(env)
    assert result.returncode != 0 and "AUDIT_HMAC_KEYS is required" in result.stderr
    assert _load_settings(PRODUCTION).returncode == 0


def test_production_requires_an_audit_signing_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "AUDIT_SIGNING_KEYS"}
    result = _load_settings(env)
    assert result.returncode != 0 and "AUDIT_SIGNING_KEYS is required" in result.stderr


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("k1:short", "at least 32"),
        ("no-colon-here-0123456789abcdefghijklmnopq", "<id>:<secret>"),
        ("K1:0123456789abcdefghijklmnopqrstuvwxyz", "<id>:<secret>"),
        ("k1:0123456789abcdefghijklmnopqrstuvwxyz,k1:abcdefghijklmnopqrstuvwxyz0123456789", "appears twice"),
    ],
)
def test_audit_hmac_keys_are_validated_without_echoing_secrets(monkeypatch, raw, message):
    from tsunagu.env import env_keyring

    monkeypatch.setenv("AUDIT_HMAC_KEYS", raw)
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        env_keyring("AUDIT_HMAC_KEYS")
    secret = raw.split(",")[0].partition(":")[2]
    assert len(secret) < 8 or secret not in str(caught.value)


def test_audit_hmac_keys_from_a_file_current_first(monkeypatch, tmp_path):
    from tsunagu.env import env_keyring

    path = tmp_path / "keys"
    path.write_text("k2:second-key-0123456789abcdefghijklmnop, k1:first-key-0123456789abcdefghijklmnopq\n")
    monkeypatch.setenv("AUDIT_HMAC_KEYS_FILE", str(path))
    assert [key_id for key_id, _secret in env_keyring("AUDIT_HMAC_KEYS")] == ["k2", "k1"]


def test_the_development_audit_key_or_the_secret_key_fails_the_system_check(settings):
    from audit.checks import audit_hmac_keys

    settings.DEBUG = False
    assert audit_hmac_keys() == []
    settings.AUDIT_HMAC_KEYS = [settings.AUDIT_HMAC_DEV_KEY]
    assert [e.id for e in audit_hmac_keys()] == ["audit.E002"]
    settings.DEBUG = True
    assert audit_hmac_keys() == []  # `make run`: the labelled development key is fine
    settings.AUDIT_HMAC_KEYS = [("k1", settings.SECRET_KEY)]
    assert [e.id for e in audit_hmac_keys()] == ["audit.E003"]
    settings.AUDIT_HMAC_KEYS = []
    assert [e.id for e in audit_hmac_keys()] == ["audit.E001"]


def test_the_audit_signing_key_and_anchor_directory_are_checked(settings, tmp_path):
    from audit.checks import audit_signing_and_anchor

    settings.DEBUG = False
    settings.AUDIT_ANCHOR_DIR = str(tmp_path)
    assert audit_signing_and_anchor() == []
    settings.AUDIT_ANCHOR_DIR = None
    assert [e.id for e in audit_signing_and_anchor()] == ["audit.W002"]
    settings.AUDIT_ANCHOR_DIR = str(tmp_path)
    settings.AUDIT_SIGNING_KEYS = [settings.AUDIT_SIGNING_DEV_KEY]
    assert [e.id for e in audit_signing_and_anchor()] == ["audit.E004"]
    settings.AUDIT_SIGNING_KEYS = [("k1", settings.AUDIT_HMAC_KEYS[0][1])]
    assert [e.id for e in audit_signing_and_anchor()] == ["audit.E005"]


# --- production: HTTPS, the proxy, mail; `check --deploy` -------------------------------------------------------


def _setting(env, expression):
    code = f"import django; django.setup(); from django.conf import settings as s; print(repr({expression}))"
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
        "TSUNAGU_VAR_DIR": tempfile.mkdtemp(prefix="tsunagu-settings-"),
    }
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else result.stderr


def test_production_defaults_turn_on_hsts_and_the_https_redirect():
    assert _setting(PRODUCTION, "(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)") == (
        "(31536000, True, None)"
    )
    assert _setting({"DEBUG": "true"}, "(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)") == "(0, False)"


def test_the_proxy_header_is_opt_in_and_checked():
    env = {**PRODUCTION, "PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    assert _setting(env, "s.SECURE_PROXY_SSL_HEADER") == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert "PROXY_SSL_HEADER" in _setting({**PRODUCTION, "PROXY_SSL_HEADER": "X Forwarded: https"}, "1")


# --- production defaults: static files, database connections, sessions -----------------------------------------

MANIFEST = "'whitenoise.storage.CompressedManifestStaticFilesStorage'"
PLAIN = "'django.contrib.staticfiles.storage.StaticFilesStorage'"


def test_production_serves_static_files_under_hashed_names_and_debug_does_not():
    assert _setting(PRODUCTION, "s.STORAGES['staticfiles']['BACKEND']") == MANIFEST
    assert _setting({"DEBUG": "true"}, "s.STORAGES['staticfiles']['BACKEND']") == PLAIN  # make run
    chosen = {**PRODUCTION, "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
    assert _setting(chosen, "s.STORAGES['staticfiles']['BACKEND']").endswith(".ManifestStaticFilesStorage'")


def test_the_test_run_serves_static_files_unhashed():
    """The suite runs with DEBUG off but without collectstatic (tests/pytest_env.py)."""
    from django.conf import settings

    assert not settings.DEBUG and repr(settings.STORAGES["staticfiles"]["BACKEND"]) == PLAIN


def test_database_connections_are_kept_and_checked_before_reuse():
    postgres = {**PRODUCTION, "DATABASE_URL": "postgres://tsunagu@127.0.0.1:5432/tsunagu"}
    expression = "(s.DATABASES['default']['CONN_MAX_AGE'], s.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    assert _setting(postgres, expression) == "(60, True)"
    assert _setting({**postgres, "CONN_MAX_AGE": "0"}, expression) == "(0, True)"
    assert _setting({**postgres, "CONN_MAX_AGE": "600"}, expression) == "(600, True)"
    assert "CONN_MAX_AGE" in _setting({**postgres, "CONN_MAX_AGE": "-1"}, "1")
    assert "CONN_MAX_AGE" in _setting({**postgres, "CONN_MAX_AGE": "forever"}, "1")
    # SQLite (the quick start) opens a connection per request whatever CONN_MAX_AGE says.
    assert _setting({"DEBUG": "true", "CONN_MAX_AGE": "600"}, expression) == "(0, True)"


def test_sessions_go_through_the_shared_cache_when_there_is_one():
    expression = "(s.CACHES['default']['BACKEND'], s.SESSION_ENGINE)"
    assert _setting({**PRODUCTION, "CACHE_URL": "redis://127.0.0.1:6379/1"}, expression) == (
        "('django.core.cache.backends.redis.RedisCache', 'django.contrib.sessions.backends.cached_db')"
    )
    assert _setting(PRODUCTION, expression) == (
        "('django.core.cache.backends.locmem.LocMemCache', 'django.contrib.sessions.backends.db')"
    )


@pytest.mark.django_db
def test_a_cached_session_is_read_from_the_cache_and_survives_losing_it(settings, django_assert_num_queries):
    """What cached_db gives production: reads from Redis without a query; Redis restarted empty signs nobody out."""
    from importlib import import_module

    from django.core.cache import cache

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    store = import_module(settings.SESSION_ENGINE).SessionStore
    session = store()
    session["_auth_user_id"] = "42"
    session.create()
    session.save()
    with django_assert_num_queries(0):
        assert store(session_key=session.session_key).load()["_auth_user_id"] == "42"
    cache.clear()  # the cache restarted without its data
    with django_assert_num_queries(1):
        assert store(session_key=session.session_key).load()["_auth_user_id"] == "42"
    with django_assert_num_queries(0):  # and it is back in the cache
        assert store(session_key=session.session_key).load()["_auth_user_id"] == "42"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp+tls://tsunagu%40city.example.jp:p%40ss@mail.example.jp:587",
            "('django.core.mail.backends.smtp.EmailBackend', {'host': 'mail.example.jp', 'port': 587, "
            "'username': 'tsunagu@city.example.jp', 'password': 'p@ss', 'use_tls': True, 'use_ssl': False, "
            "'timeout': 10})",
        ),
        (
            "smtps://mail.example.jp",
            "('django.core.mail.backends.smtp.EmailBackend', {'host': 'mail.example.jp', 'port': 465, "
            "'username': '', 'password': '', 'use_tls': False, 'use_ssl': True, 'timeout': 10})",
        ),
        ("console://", "('django.core.mail.backends.console.EmailBackend', {})"),
    ],
)
def test_email_url_configures_the_mailer(url, expected):
    env = {**PRODUCTION, "EMAIL_URL": url}
    got = _setting(env, "(s.MAILERS['default']['BACKEND'], s.MAILERS['default'].get('OPTIONS', {}))")
    assert got == expected


def test_production_mail_defaults_to_a_local_smtp_relay_and_bad_urls_are_refused():
    got = _setting(PRODUCTION, "(s.MAILERS['default']['BACKEND'], s.MAILERS['default']['OPTIONS']['host'])")
    assert got == "('django.core.mail.backends.smtp.EmailBackend', 'localhost')"
    assert _setting({"DEBUG": "true"}, "s.MAILERS['default']['BACKEND']").endswith("console.EmailBackend'")
    for bad in ("mailto://x", "smtp://", "smtp://host:notaport"):
        assert "EMAIL_URL" in _setting({**PRODUCTION, "EMAIL_URL": bad}, "1"), bad


def _check_deploy(fail_level: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py check --deploy`` in a process of its own, with the production settings and ``env``."""
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", fail_level],
        env={
            **PRODUCTION,
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
            "TSUNAGU_VAR_DIR": tempfile.mkdtemp(prefix="tsunagu-settings-"),
            "AUDIT_ANCHOR_DIR": tempfile.mkdtemp(prefix="tsunagu-anchors-"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_passes_with_the_production_defaults():
    """What CI runs (Makefile `check-deploy`): production settings raise no warning at all."""
    result = _check_deploy("WARNING", SECRET_KEY="Kx7#pQ2!vR9$mW4&zT6*bY1^nL8@cH3%fJ5+gD0=sA2-eU7~iO9q")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def two_clients_api(cast):
    from rest_framework.test import APIClient

    from cases import services
    from tests.api.conftest import issue_key

    services.client_create(
        actor=cast.actor("alice"), name="佐藤 花子", name_kana="サトウ ハナコ", birth_date=date(1950, 1, 2)
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(cast.users['alice'])[1]}")
    return api


def test_behind_the_proxy_pagination_links_stay_https(two_clients_api, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # As the proxy forwards it: the public Host, and the scheme it received in X-Forwarded-Proto.
    response = two_clients_api.get(
        "/api/v1/clients/?page_size=1", HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https"
    )
    assert response.json()["next"].startswith("https://testserver/api/v1/clients/?")


def test_without_the_opt_in_a_forwarded_proto_header_is_not_believed(two_clients_api, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    response = two_clients_api.get(
        "/api/v1/clients/?page_size=1", HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https"
    )
    assert response.json()["next"].startswith("http://testserver/")


def test_plain_http_is_redirected_to_https_unless_the_proxy_says_https(two_clients_api, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = two_clients_api.get("/api/v1/me/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/api/v1/me/"
    secure = two_clients_api.get("/api/v1/me/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200 and secure["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("API_THROTTLE_RATE", "600 per minute", "not a rate"),
        ("API_THROTTLE_RATE", "0/min", "not a rate"),
        ("API_AUTH_FAILURE_RATE", "20/fortnight", "not a rate"),
        ("API_PAGE_SIZE", "201", "above the maximum 200"),
    ],
)
def test_a_bad_api_setting_stops_every_process_at_start(name, raw, message):
    """Checked when settings load, so gunicorn and the Celery worker refuse to start too (not only manage.py)."""
    result = _load_settings({**PRODUCTION, name: raw})
    assert result.returncode != 0 and message in result.stderr and name in result.stderr


def test_env_rate_and_maximum(monkeypatch):
    from tsunagu.env import env_rate

    assert env_rate("RATE", "600/min") == "600/min"
    monkeypatch.setenv("RATE", "10/s")
    assert env_rate("RATE", "600/min") == "10/s"
    monkeypatch.setenv("N", "201")
    with pytest.raises(ImproperlyConfigured, match="above the maximum"):
        env_int("N", 50, maximum=200)


def test_a_local_env_file_fills_in_only_what_the_environment_does_not_set(monkeypatch, tmp_path):
    from tsunagu.env import load_dotenv

    path = tmp_path / ".env"
    path.write_text("# written by make run\n\nDOTENV_TEST_A=from-the-file\nDOTENV_TEST_B=from-the-file\n")
    monkeypatch.delenv("DOTENV_TEST_A", raising=False)
    monkeypatch.setenv("DOTENV_TEST_B", "from-the-environment")
    assert load_dotenv(path) == ["DOTENV_TEST_A"]
    assert (env_str("DOTENV_TEST_A"), env_str("DOTENV_TEST_B")) == ("from-the-file", "from-the-environment")
    monkeypatch.delenv("DOTENV_TEST_A")
    assert load_dotenv(tmp_path / "absent") == []
    path.write_text("export DEBUG=true\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:1: expected NAME=value"):
        load_dotenv(path)


def test_the_session_warning_comes_before_the_idle_timeout():
    code = "from django.conf import settings; print(settings.SESSION_WARNING_SECONDS)"
    assert _load_settings({"DEBUG": "true"}, code=code).stdout.strip() == "300"
    assert _load_settings({"DEBUG": "true", "SESSION_WARNING_MINUTES": "2"}, code=code).stdout.strip() == "120"
    refused = _load_settings({"DEBUG": "true", "SESSION_IDLE_MINUTES": "5", "SESSION_WARNING_MINUTES": "5"}, code=code)
    assert refused.returncode != 0 and "SESSION_WARNING_MINUTES must be shorter" in refused.stderr


def test_the_attachment_keys_are_checked(settings):
    from cases.checks import attachment_keys

    real = ("k1", "attachment-master-key-0123456789abcdefghijklmn")
    settings.DEBUG = False
    settings.ATTACHMENT_KEYS = [real]
    assert attachment_keys() == []
    settings.ATTACHMENT_KEYS = [real, settings.ATTACHMENT_DEV_KEY]
    assert [e.id for e in attachment_keys()] == ["cases.E001"]
    settings.DEBUG = True
    assert attachment_keys() == []  # `make run`: the labelled development key is fine
    settings.DEBUG = False
    for other in (settings.SECRET_KEY, settings.AUDIT_HMAC_KEYS[0][1], settings.AUDIT_SIGNING_KEYS[0][1], real[1]):
        settings.ATTACHMENT_KEYS = [("k2", other), real] if other == real[1] else [("k2", other)]
        assert [e.id for e in attachment_keys()] == ["cases.E002"]


def test_check_deploy_reports_the_attachment_development_key():
    result = _check_deploy(
        "ERROR", ATTACHMENT_KEYS="dev:development-only-attachment-master-key-never-use-in-production"
    )
    assert result.returncode != 0 and "cases.E001" in result.stderr, result.stderr
