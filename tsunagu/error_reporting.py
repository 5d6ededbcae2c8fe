"""Optional error reporting to a Sentry-compatible endpoint (``SENTRY_DSN``; empty: off, the default).

What leaves the server is an exception's type and stack trace (file, function, line and the source lines around
it), the request's method and path, the request id, the release and environment, and the signed-in user's id.
Never case data: no request body, query string, cookies or headers beyond ``SAFE_HEADERS``, no local variables, no
exception message (a database error quotes the value it refused), no SQL or HTTP breadcrumb text, no ``extra``.
``scrub`` enforces this on every event, whatever the integrations collected.
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

SAFE_HEADERS = {"content-type", "content-length", "accept", "x-request-id"}
# Breadcrumbs whose message or data may hold a query's parameters, a URL's query string or a command's arguments.
SCRUBBED_BREADCRUMBS = ("query", "http", "httplib", "redis", "subprocess", "django.db")
REDACTED = "[scrubbed]"


def _path_only(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def scrub_breadcrumb(crumb: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    category = str(crumb.get("category") or "")
    if crumb.get("type") in ("http", "query") or category.startswith(SCRUBBED_BREADCRUMBS):
        if "message" in crumb:
            crumb["message"] = REDACTED
        crumb.pop("data", None)
    return crumb


def scrub(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """``before_send``: keep what locates the error, drop everything that could carry case data."""
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers") or {}
        event["request"] = {
            "method": request.get("method"),
            "url": _path_only(str(request.get("url") or "")),
            "headers": {k: v for k, v in headers.items() if str(k).lower() in SAFE_HEADERS},
        }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if user.get("id") is not None else {}
    event.pop("extra", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = REDACTED
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in values or []:
        scrub_breadcrumb(crumb)
    return event


def sentry_options(*, dsn: str, environment: str, release: str | None) -> dict[str, Any]:
    """The SDK's options: case data never collected, and scrubbed again before sending."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        "dsn": dsn,
        "environment": environment,
        "release": release or None,
        # send_default_pii is left unset: unset means off, and sentry-sdk 2.75 deprecates setting it (its
        # replacement, data_collection, would switch off the SDK's own event scrubber, which stays on this way).
        "include_local_variables": False,
        "max_request_body_size": "never",
        "traces_sample_rate": None,  # errors only: no performance tracing (spans would carry SQL text)
        "before_send": scrub,
        "before_breadcrumb": scrub_breadcrumb,
        "integrations": [DjangoIntegration(transaction_style="url"), CeleryIntegration()],
    }


def init_error_reporting(*, dsn: str, environment: str, release: str | None) -> None:
    import sentry_sdk

    sentry_sdk.init(**sentry_options(dsn=dsn, environment=environment, release=release))
