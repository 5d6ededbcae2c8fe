"""Tsunagu settings: one module, configured by the environment.

Defaults let ``make run`` work with nothing installed (SQLite, Celery eager). Production differs only by the
environment: ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DEBUG=false``.
"""

import ipaddress
import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from tsunagu.env import (
    env_bool,
    env_email_url,
    env_int,
    env_list,
    env_proxy_ssl_header,
    env_rate,
    env_required_keyring,
    env_str,
    load_dotenv,
)
from tsunagu.keyset import MAX_PAGE_SIZE

# Django's generic classes (admin.ModelAdmin[Model], ...) are subscriptable at run time too, as in annotations.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# A quick-start clone's local settings (git-ignored, written by `make run`: DEBUG=true), never over the environment.
# Production takes nothing from it: with DEBUG off, a value read from .env is refused.
DOTENV = load_dotenv(BASE_DIR / ".env")
VAR_DIR = Path(env_str("TSUNAGU_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
if DOTENV and not DEBUG:
    raise ImproperlyConfigured(
        f"{BASE_DIR / '.env'} set {', '.join(DOTENV)}: with DEBUG off every setting comes from the environment "
        "(the file is for local development: remove it)"
    )
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (set DEBUG=true for local development)")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "guardian",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit",
    "agencies",
    "cases",
    "api",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "frontend.csp.ApiDocsCspMiddleware",  # Swagger UI needs inline script and style; only under /api/docs/
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tsunagu.middleware.RequestIdMiddleware",
    "tsunagu.middleware.InputGuardMiddleware",  # NUL or not-UTF-8 anywhere in the request: 400 before any view
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with the second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # NotFound / Forbidden raised by a browser view: the not-found or forbidden page (never under /api/).
    "frontend.errors.DomainErrorMiddleware",
    # A session that needs the second factor and has not given it reaches nothing but the code pages.
    "frontend.mfa.MfaRequiredMiddleware",
    # Last: turns a sign-in refused by the login throttle (flagged during authentication) into the 429 page.
    "frontend.auth.LoginThrottleMiddleware",
]

ROOT_URLCONF = "tsunagu.urls"
WSGI_APPLICATION = "tsunagu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: DATABASE_URL, default a SQLite file under var/ so the quick-start needs nothing installed. Each process
# keeps its connection CONN_MAX_AGE seconds (0: one per request), and checks it is still alive before a request
# reuses it: a connection cut by a database restart or failover costs a reconnect, not an error page.
_default_db = f"sqlite:///{VAR_DIR / 'tsunagu.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", _default_db),
            conn_max_age=env_int("CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The quick start serves a page and the requests it starts (thumbnails, the boxes htmx loads) at once, and each
    # writes its audit event. A transaction that begins as a reader and then writes fails at once with "database is
    # locked" when another wrote meanwhile (SQLite cannot wait there): every transaction takes the write lock when
    # it begins instead (IMMEDIATE) and waits for it up to `timeout` seconds; WAL lets pages read meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME") or None}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Request queries are short; PostgreSQL's JIT compiler spent ~400 ms compiling a 30 ms search whose cost the
    # planner over-estimated (see BENCHMARKS.md). Off unless DATABASE_URL's options say otherwise.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
# A PostgreSQL streaming replica for the privacy officer's read-only searches and dashboard (tsunagu.db_router):
# DATABASE_REPLICA_URL (unset: everything on the primary). A replica that does not answer within connect_timeout
# (2 s unless the URL says otherwise), or lags more than DATABASE_REPLICA_MAX_LAG_SECONDS, is passed over for the
# primary; an unreachable one is tried again after DATABASE_REPLICA_RETRY_SECONDS.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 30, minimum=0)
DATABASE_REPLICA_RETRY_SECONDS = env_int("DATABASE_REPLICA_RETRY_SECONDS", 30, minimum=1)
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs PostgreSQL in DATABASE_URL (a streaming replica)")
    try:
        DATABASES["replica"] = dj_database_url.parse(
            DATABASE_REPLICA_URL, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is not a valid database URL: {exc}") from exc
    if DATABASES["replica"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a PostgreSQL URL")
    _replica_options = DATABASES["replica"].setdefault("OPTIONS", {})
    _replica_options.setdefault("connect_timeout", 2)
    _replica_options.setdefault("options", "-c jit=off")
    # Tests read "the replica" from the test database itself (it is then not a standby: the searches use the
    # primary); the replica test starts a real one.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# Without a replica there is nothing to route: no router, every query as before.
DATABASE_ROUTERS = ["tsunagu.db_router.ReplicaRouter"] if DATABASE_REPLICA_URL else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # The login throttle first: it refuses a held-back attempt before the password is even checked.
    "frontend.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_USER_OBJ_PERMS_MODEL = "guardian.UserObjectPermission"
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous requests see nothing

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:home"  # each role's own home (frontend.views_caseload.home)
LOGOUT_REDIRECT_URL = "frontend:login"

SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
# The page warns this long before the idle timeout, with a button to stay signed in (frontend/static/frontend/).
SESSION_WARNING_SECONDS = env_int("SESSION_WARNING_MINUTES", 5, minimum=1) * 60
if SESSION_WARNING_SECONDS >= SESSION_COOKIE_AGE:
    raise ImproperlyConfigured("SESSION_WARNING_MINUTES must be shorter than SESSION_IDLE_MINUTES")
SESSION_SAVE_EVERY_REQUEST = True  # the timeout counts from the last request: an inactivity timeout
SESSION_COOKIE_HTTPONLY = True
# Flash messages can name a client ("山田 太郎 さんを登録しました"): keep them in the server-side session, not in
# the signed but readable cookie that Django uses by default.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Failed logins (agencies/login_throttle.py). Per account: LOGIN_FAILURE_LIMIT failures are free, then each
# further attempt waits 1, 2, 4 … minutes after the last failure, at most LOGIN_DELAY_MAX_MINUTES (a delay, never a
# lockout: one mistyping colleague behind a shared office address locks nobody out). Per address:
# LOGIN_ADDRESS_FAILURE_LIMIT failures within LOGIN_ADDRESS_WINDOW_MINUTES block that address until the window
# ends. Every failure and every refusal is in the audit log.
LOGIN_ACCOUNT_FREE_FAILURES = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_ACCOUNT_MAX_DELAY_MINUTES = env_int("LOGIN_DELAY_MAX_MINUTES", 15, minimum=1)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 50, minimum=1)
LOGIN_ADDRESS_WINDOW_MINUTES = env_int("LOGIN_ADDRESS_WINDOW_MINUTES", 15, minimum=1)

# Second factor (TOTP with one-time recovery codes, django-otp; frontend/mfa.py): always required of operators
# (Django admin), privacy officers and agency administrators; MFA_REQUIRED_FOR_ALL_STAFF=true extends it to every
# staff member who signs in with a password. API keys are not browser sign-ins and are unaffected.
MFA_REQUIRED_FOR_ALL_STAFF = env_bool("MFA_REQUIRED_FOR_ALL_STAFF", False)
OTP_TOTP_ISSUER = env_str("MFA_ISSUER", "Tsunagu")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a TOTP secret or a recovery code
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
# Our own date formats per language (tsunagu/formats/<lang>/formats.py): 2026年11月23日 14:05 / 2026-11-23 14:05.
FORMAT_MODULE_PATH = ["tsunagu.formats"]
# Birth dates in the Japanese era (和暦: 昭和23年3月2日) instead of the Western year, on the Japanese pages.
WAREKI_BIRTH_DATES = env_bool("WAREKI_BIRTH_DATES", False)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve app static files straight from the apps when collectstatic has not been run (quick-start, tests).
WHITENOISE_USE_FINDERS = True
# With DEBUG off, collectstatic writes each file under a name with its content's hash (app.3f2a….css) and a
# compressed copy, and {% static %} links those names: WhiteNoise serves them with a year's cache lifetime, and a
# new release's files never meet an old cached copy. It needs `collectstatic` before the server starts (a page
# naming a file missing from the manifest fails). Debug (`make run`) and the tests serve the files unhashed.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env_str(
            "STATICFILES_BACKEND",
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        ),
    },
}

# Celery: with no broker configured, tasks run in-process (quick-start and unit tests).
_broker = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = _broker is None
CELERY_BROKER_URL = _broker or "memory://localhost/"  # never contacted while tasks run eagerly
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
# Fail fast when the broker is down: the outbox keeps the message and the periodic relay publishes it later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# The worker and beat log through LOGGING above (JSON lines with the request id), not Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The outbox, not the broker, holds a message until its consumer has done the work: one published but not finished
# within the lease is published again (a broker restarted without persistence, a killed worker, a consumer that
# failed while the database was down). Keep it above the longest consumer run plus its retries' first minutes.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 120, minimum=1)
# Redis hands a task held by a vanished worker to another after this long (kombu's default is an hour). Keep it
# above the longest task run and the longest retry countdown (60 s), or tasks run twice.
# max_retries 0: a publish whose connection is refused fails at once. Without it kombu retries the connection, with
# sleeps, until CELERY_BROKER_CONNECTION_TIMEOUT: 2 s added to every request while the broker is away. (A worker
# reconnects by broker_connection_max_retries; publishes that retry follow CELERY_TASK_PUBLISH_RETRY_POLICY.)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=120),
    "max_retries": 0,
}
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "cases.tasks.relay_outbox", "schedule": 10.0},
    "sweep-expired-shares": {"task": "cases.tasks.sweep_expired_shares", "schedule": 300.0},
    "retry-webhooks": {"task": "cases.tasks.retry_webhooks", "schedule": 30.0},
    "purge-idempotency-keys": {"task": "api.tasks.purge_idempotency_keys", "schedule": 3600.0},
}

# Cache: per-process memory by default; set CACHE_URL (redis://…) in production so that API throttling counts
# across every worker process (the login throttle counts in the database).
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions: in the database, and with a shared cache (CACHE_URL) read through it: a request reads its session from
# Redis, every write goes to both, and a Redis restart (or flush) signs nobody out. Without CACHE_URL the cache is
# per process, so the database alone.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if CACHE_URL else "django.contrib.sessions.backends.db"

REST_FRAMEWORK = {
    # The API key first: its WWW-Authenticate header makes a missing credential a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNICODE_JSON": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tsunagu API",
    "DESCRIPTION": (
        "REST API v1. Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 "
        "`application/problem+json`. Lists use cursor pagination (`next`, `previous`, `results`)."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ClientStatusEnum": "cases.models.ClientStatus",
        "ShareLevelEnum": "cases.models.ShareLevel",
        "ShareBasisEnum": "cases.models.ShareBasis",
        "AgencyKindEnum": "agencies.models.AgencyKind",
        "RoleEnum": "agencies.models.Role",
        "ActionItemStatusEnum": "cases.models.ActionItemStatus",
        "MeetingShareLevelEnum": "api.serializers.MEETING_SHARE_LEVEL_CHOICES",  # a 支援会議: read or append
        "EntryCreateInKindEnum": "api.serializers.USER_ENTRY_KIND_CHOICES",  # what a person may write (its name kept)
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
}
# API knobs: requests per key or session user ("600/min", "10/s"), the default
# page size (at most 200), how long idempotency keys are kept (hours, at least 24) and how long a retry waits
# for the first request with the same key to finish (seconds).
API_THROTTLE_RATE = env_rate("API_THROTTLE_RATE", "600/min")
# Failed API authentications (bad, expired or revoked keys, no credentials) per client address; past it, 429.
API_AUTH_FAILURE_RATE = env_rate("API_AUTH_FAILURE_RATE", "20/min")
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1, maximum=MAX_PAGE_SIZE)
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24, minimum=24)
API_IDEMPOTENCY_WAIT_SECONDS = env_int("API_IDEMPOTENCY_WAIT_SECONDS", 10, minimum=1)

# Domain knobs.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Mail: EMAIL_URL (smtp://, smtp+tls://, smtps://, console://). Production defaults to the host's own relay
# (smtp://localhost:25); development prints mail to the console.
if env_str("MAIL_BACKEND"):
    raise ImproperlyConfigured("MAIL_BACKEND is replaced by EMAIL_URL (e.g. smtp+tls://user:password@host:587)")
MAILERS = {
    "default": env_email_url(
        "EMAIL_URL", "console://" if DEBUG else "smtp://localhost:25", timeout=env_int("EMAIL_TIMEOUT", 10, minimum=1)
    )
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tsunagu@localhost")
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)  # plain http only for local development and tests
# Webhooks never reach loopback, private, link-local or other internal addresses, except ranges listed here for an
# on-premises partner (comma-separated CIDRs, e.g. "10.20.0.0/16").
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.20.0.0/16)"
        ) from None
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_HOURS = env_int("WEBHOOK_RETRY_HOURS", 24, minimum=1)
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 20, minimum=1)
CASE_NUMBER_PREFIX = env_str("CASE_NUMBER_PREFIX", "SJ")
CLIENT_PAGE_SIZE = env_int("CLIENT_PAGE_SIZE", 50, minimum=1)
BREAK_GLASS_HOURS = env_int("BREAK_GLASS_HOURS", 4, minimum=1)
# How often an open client page asks whether another agency has added to the timeline (the "新しい記録があります" cue).
TIMELINE_POLL_SECONDS = env_int("TIMELINE_POLL_SECONDS", 15, minimum=1)

# Application logs on standard error (journald under systemd): one JSON object per line (LOG_FORMAT=json, the
# default when DEBUG is off) or text (LOG_FORMAT=text, the default with DEBUG). Every line carries the request id
# (also in the Celery tasks a request started) and the channel; one access line per request (tsunagu.access):
# method, path without query string, status, duration, user id. No case data (tests/audit/test_canary.py).
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "tsunagu.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "tsunagu.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},  # one line per eager task drowns the quick-start console
    },
}

# Content-Security-Policy: the pages carry no inline script, style or event handler, so everything comes from
# our own origin (htmx is served from static; its indicator styles are turned off in the page's htmx-config).
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    # No page frames anything, except the client page's attachment preview, which frames our own preview URL
    # (frontend.csp.allow_own_frames); the preview itself has a policy of its own (frontend.views_attachments).
    "frame-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# HTTPS. Production redirects plain HTTP and sends HSTS (a year, subdomains included, "preload" offered: the
# preload list only takes a registrable domain whose own apex sends the header, so on Tsunagu's host name it
# enrols nothing by itself). Behind a TLS-terminating proxy, PROXY_SSL_HEADER (e.g. X-Forwarded-Proto) names the header
# the proxy sets: only then are requests it received over HTTPS seen as secure (redirects and the API's
# pagination links stay https://). Opt-in, because a client could otherwise claim HTTPS itself.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer probes each node's /health/ over plain HTTP: answered, not redirected (it carries no session).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("PROXY_SSL_HEADER")

# Audit log: sealing every few seconds, verification nightly (03:15 JST); retention in days (0 = keep forever),
# purged by `manage.py purge_audit` run as the database owner role.
from celery.schedules import crontab  # noqa: E402 - kept with the audit settings it serves

# Keys of the HMAC that records search terms, tag filters and attempted usernames (never the terms themselves):
# "k2:<secret>,k1:<older secret>", the first current, the others kept so that the privacy officer's console still
# matches what they made. Separate from SECRET_KEY; required when DEBUG is off (checked again by audit.checks).
AUDIT_HMAC_DEV_KEY = ("dev", "development-only-audit-hmac-key-never-use-in-production")
AUDIT_HMAC_KEYS = env_required_keyring("AUDIT_HMAC_KEYS", debug=DEBUG, dev_key=AUDIT_HMAC_DEV_KEY)

# Key of the MAC every audit event carries and of the signed daily digest (audit.signing): held by the application,
# never by the database, so a database superuser cannot forge or silently edit an event. "k1:<secret>", rotation
# like AUDIT_HMAC_KEYS (first current). Required when DEBUG is off.
AUDIT_SIGNING_DEV_KEY = ("dev", "development-only-audit-signing-key-never-use-in-production")
AUDIT_SIGNING_KEYS = env_required_keyring("AUDIT_SIGNING_KEYS", debug=DEBUG, dev_key=AUDIT_SIGNING_DEV_KEY)
# Append-only directory outside the database where every seal's head is published (audit.anchors): put it on a
# separate volume or WORM storage that the database's operating-system user cannot write. Empty: not published.
AUDIT_ANCHOR_DIR = env_str("AUDIT_ANCHOR_DIR", "") or None
# Who receives the daily signed digest ("the audit log up to seq N has hash H"), besides the console.
AUDIT_DIGEST_EMAILS = env_list("AUDIT_DIGEST_EMAILS", [])

AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 3 * 365, minimum=0)
AUDIT_SEAL_BATCH_SIZE = env_int("AUDIT_SEAL_BATCH_SIZE", 10000, minimum=1)
AUDIT_SEAL_INTERVAL_SECONDS = env_int("AUDIT_SEAL_INTERVAL_SECONDS", 5, minimum=1)
# verify_audit on PostgreSQL: a log of at least AUDIT_VERIFY_PARALLEL_MIN_EVENTS sealed events is walked by this many
# processes (audit.verification; the nightly run at 03:15 and the command). 1: one process.
AUDIT_VERIFY_WORKERS = env_int("AUDIT_VERIFY_WORKERS", os.cpu_count() or 1, minimum=1)
AUDIT_VERIFY_PARALLEL_MIN_EVENTS = env_int("AUDIT_VERIFY_PARALLEL_MIN_EVENTS", 200_000, minimum=0)
CELERY_BEAT_SCHEDULE["audit-seal"] = {"task": "audit.tasks.seal_audit", "schedule": float(AUDIT_SEAL_INTERVAL_SECONDS)}
# PostgreSQL: the events table is partitioned by month (audit.partitions); next month's partition is made ahead.
CELERY_BEAT_SCHEDULE["audit-partitions"] = {"task": "audit.tasks.ensure_audit_partitions", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["audit-digest"] = {"task": "audit.tasks.publish_digest", "schedule": crontab(hour=7, minute=0)}
CELERY_BEAT_SCHEDULE["audit-verify"] = {
    "task": "audit.tasks.verify_audit",
    "schedule": crontab(hour=3, minute=15),
}

# Privacy officer review: anomaly rules (JST working hours, thresholds), detection every 15 minutes over a
# lookback window, and CSV exports of audit searches.
AUDIT_WORK_START_HOUR = env_int("AUDIT_WORK_START_HOUR", 8, minimum=0)
AUDIT_WORK_END_HOUR = env_int("AUDIT_WORK_END_HOUR", 19, minimum=1)
if not AUDIT_WORK_START_HOUR < AUDIT_WORK_END_HOUR <= 24:
    raise ImproperlyConfigured("AUDIT_WORK_START_HOUR must be below AUDIT_WORK_END_HOUR (at most 24)")
AUDIT_MANY_CLIENTS_PER_HOUR = env_int("AUDIT_MANY_CLIENTS_PER_HOUR", 30, minimum=1)
AUDIT_DENIED_THRESHOLD = env_int("AUDIT_DENIED_THRESHOLD", 5, minimum=1)
AUDIT_DENIED_WINDOW_MINUTES = env_int("AUDIT_DENIED_WINDOW_MINUTES", 10, minimum=1)
AUDIT_AFTER_SHARE_END_HOURS = env_int("AUDIT_AFTER_SHARE_END_HOURS", 24, minimum=1)
AUDIT_ANOMALY_LOOKBACK_HOURS = env_int("AUDIT_ANOMALY_LOOKBACK_HOURS", 48, minimum=1)
AUDIT_ANOMALY_INTERVAL_MINUTES = env_int("AUDIT_ANOMALY_INTERVAL_MINUTES", 15, minimum=1)
AUDIT_EXPORT_DIR = Path(env_str("AUDIT_EXPORT_DIR", str(VAR_DIR / "exports")))
CELERY_BEAT_SCHEDULE["audit-detect-anomalies"] = {
    "task": "audit.tasks.detect_anomalies",
    "schedule": float(AUDIT_ANOMALY_INTERVAL_MINUTES * 60),
}

# Attachments (files on timeline entries, cases.attachments). Stored encrypted (AES-GCM, a key per file wrapped by
# a master key from ATTACHMENT_KEYS) in STORAGES["attachments"]: files under var/attachments by default, or any
# S3-compatible object store (ATTACHMENT_STORAGE=s3). Never served from a public URL: every download goes through
# the permission-checked, audited views.
ATTACHMENT_DEV_KEY = ("dev", "development-only-attachment-master-key-never-use-in-production")
# "k2:<secret>,k1:<older secret>": the first wraps new files' keys; the others only open older ones until
# `manage.py rotate_attachment_keys` has re-wrapped them. Required when DEBUG is off.
ATTACHMENT_KEYS = env_required_keyring("ATTACHMENT_KEYS", debug=DEBUG, dev_key=ATTACHMENT_DEV_KEY)
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, minimum=1)  # per file
ATTACHMENT_MAX_ENTRY_BYTES = env_int("ATTACHMENT_MAX_ENTRY_BYTES", 50 * 1024 * 1024, minimum=1)  # per entry
ATTACHMENT_MAX_FILES = env_int("ATTACHMENT_MAX_FILES", 10, minimum=1, maximum=100)  # per entry
ATTACHMENT_MAX_PIXELS = env_int("ATTACHMENT_MAX_PIXELS", 60_000_000, minimum=1)  # per image (decompression bombs)
# Malware scan before a file is stored: "" (none) or "clamd" at ATTACHMENT_CLAMD_ADDRESS
# (unix:///run/clamav/clamd.ctl or tcp://host:3310). With a scanner configured, an unreachable one refuses uploads.
ATTACHMENT_SCANNER = env_str("ATTACHMENT_SCANNER", "")
ATTACHMENT_CLAMD_ADDRESS = env_str("ATTACHMENT_CLAMD_ADDRESS", "unix:///run/clamav/clamd.ctl")
ATTACHMENT_CLAMD_TIMEOUT = env_int("ATTACHMENT_CLAMD_TIMEOUT", 30, minimum=1)
# Files of a client closed (終結) longer ago than this many days are removed by `purge_attachments` (the entries and
# the attachments' names, sizes and hashes stay). 0 keeps them for good.
ATTACHMENT_RETENTION_DAYS = env_int("ATTACHMENT_RETENTION_DAYS", 0, minimum=0)
ATTACHMENT_STORAGE = env_str("ATTACHMENT_STORAGE", "filesystem")
if ATTACHMENT_STORAGE == "filesystem":
    STORAGES["attachments"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("ATTACHMENT_DIR", str(VAR_DIR / "attachments")), "base_url": None},
    }
elif ATTACHMENT_STORAGE == "s3":
    _bucket = env_str("ATTACHMENT_S3_BUCKET", "")
    if not _bucket:
        raise ImproperlyConfigured("ATTACHMENT_STORAGE=s3 needs ATTACHMENT_S3_BUCKET")
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env_str("ATTACHMENT_S3_ENDPOINT_URL"),
            "region_name": env_str("ATTACHMENT_S3_REGION"),
            "access_key": env_str("ATTACHMENT_S3_ACCESS_KEY_ID"),
            "secret_key": env_str("ATTACHMENT_S3_SECRET_ACCESS_KEY"),
            "location": env_str("ATTACHMENT_S3_PREFIX", ""),
            "default_acl": None,  # the bucket's own (private) policy
            "querystring_auth": True,  # never a public URL (none is handed out anyway)
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"ATTACHMENT_STORAGE={ATTACHMENT_STORAGE!r}: use filesystem or s3")
CELERY_BEAT_SCHEDULE["attachments-verify"] = {
    "task": "cases.tasks.verify_attachments",
    "schedule": crontab(hour=3, minute=45),
}
CELERY_BEAT_SCHEDULE["attachments-purge"] = {
    "task": "cases.tasks.purge_attachments",
    "schedule": crontab(hour=4, minute=30),
}
# Moving in from kintone in the browser (機関管理 → kintone から移行): what one upload may hold in all (the export,
# the ZIP of comments and the mapping), and what the ZIP of comments may unpack to (entries, bytes). The files are
# kept encrypted (like attachments) until the import has run; a dry run not confirmed within
# IMPORT_DRY_RUN_KEEP_HOURS loses them (a beat task, hourly). tsunagu/uploads.py stops a larger request under
# /agency/imports/; a proxy in front must allow as much there (deploy/nginx: client_max_body_size).
IMPORT_MAX_UPLOAD = env_int("IMPORT_MAX_UPLOAD", 200 * 1024 * 1024, minimum=1)
IMPORT_ZIP_MAX_ENTRIES = env_int("IMPORT_ZIP_MAX_ENTRIES", 100_000, minimum=1)
IMPORT_ZIP_MAX_BYTES = env_int("IMPORT_ZIP_MAX_BYTES", 1024 * 1024 * 1024, minimum=1)
IMPORT_DRY_RUN_KEEP_HOURS = env_int("IMPORT_DRY_RUN_KEEP_HOURS", 24, minimum=1)
# A run still pending this long after it was created lost its task (a broker outage): beat queues it again.
IMPORT_REQUEUE_AFTER_SECONDS = env_int("IMPORT_REQUEUE_AFTER_SECONDS", 120, minimum=10)
CELERY_BEAT_SCHEDULE["import-requeue"] = {"task": "cases.tasks.requeue_imports", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["import-files-expire"] = {
    "task": "cases.tasks.expire_import_files",
    "schedule": crontab(minute=15),
}
FILE_UPLOAD_HANDLERS = [
    "tsunagu.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Error reporting to a Sentry-compatible endpoint: off unless SENTRY_DSN is set. Exception types and stack traces
# only, never case data (no request bodies, query strings, cookies, local variables or exception messages:
# tsunagu.error_reporting). SENTRY_ENVIRONMENT names the installation ("production", "staging"); SENTRY_RELEASE the
# version deployed (e.g. the git commit).
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_RELEASE = env_str("SENTRY_RELEASE", "") or None
if SENTRY_DSN:
    from tsunagu.error_reporting import init_error_reporting  # only when reporting is on

    init_error_reporting(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE)
