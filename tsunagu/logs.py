"""Application logs: the request id on every line, an access line per request, JSON when ``LOG_FORMAT=json``.

``request_context`` holds the request id (and channel) for the duration of a request (``RequestIdMiddleware``) or
of a Celery task (``tsunagu.celery``: the id of the request that started it, carried in the task's headers or,
through the outbox, in the message's payload). ``RequestContextFilter`` puts it on every record, so every line a
request or its tasks log can be found by the ``X-Request-ID`` the client saw and the audit events carry.

No case data: the access line holds the method, the path without its query string, the status, the duration and
the signed-in user's id; never a body, a query string or a name. ``JsonFormatter`` writes one JSON object per line.
"""

import contextlib
import json
import logging
import time
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
channel_var: ContextVar[str | None] = ContextVar("channel", default=None)

access_log = logging.getLogger("tsunagu.access")

# Attributes every LogRecord has; anything else on a record was passed with ``extra=`` and is written as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Never written: the request object Django's loggers attach, and the SQL and parameters of django.db.backends (a
# query's parameters are case data; that logger is kept at WARNING anyway).
_NEVER = {"request", "server_time", "sql", "params"}


def current_request_id() -> str | None:
    return request_id_var.get()


@contextlib.contextmanager
def request_context(request_id: str, channel: str) -> Iterator[None]:
    """Within the block, every log line carries ``request_id`` and ``channel``."""
    rid, ch = request_id_var.set(request_id), channel_var.set(channel)
    try:
        yield
    finally:
        channel_var.reset(ch)
        request_id_var.reset(rid)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``channel`` to every record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        if not hasattr(record, "channel"):
            record.channel = channel_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, channel, the record's extra
    fields, and for an exception its type and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "channel": getattr(record, "channel", None) or channel_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _NEVER and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc_type"] = type(record.exc_info[1]).__name__
            entry["exc_info"] = exception_text(record.exc_info[1])
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


# Exceptions whose message says what failed in the infrastructure (a refused connection, a lost server), never a
# value: their message is written. Any other exception's message may quote data (a database error quotes the value
# it refused, a ValueError the input it could not read): only its type is written, with the stack.
MESSAGE_KEPT = (OSError,)
MESSAGE_KEPT_NAMES = {"OperationalError", "InterfaceError"}


def _keeps_message(exc: BaseException) -> bool:
    return isinstance(exc, MESSAGE_KEPT) or type(exc).__name__ in MESSAGE_KEPT_NAMES


def exception_text(exc: BaseException) -> str:
    """The traceback (files, lines, functions, source lines) of ``exc`` and the exceptions it was raised from,
    each ending with its type, and its message only where ``_keeps_message`` says it holds no data."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for item in reversed(chain):
        kind = type(item)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        last = f"{name}: {item}" if _keeps_message(item) and str(item) else name
        parts.append("Traceback (most recent call last):\n" + "".join(traceback.format_tb(item.__traceback__)) + last)
    return "\n\nThe above exception led to the following one:\n\n".join(parts)


def channel_of(path: str) -> str:
    return "api" if path.startswith("/api/") else "web"


def log_access(request, response, started: float) -> None:
    """One line per request. A healthy load-balancer probe of /health/ is logged at DEBUG only."""
    user = getattr(request, "user", None)
    fields = {
        "method": request.method,
        "path": request.path,  # never the query string: search terms are case data
        "status": response.status_code,
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "user_id": user.pk if user is not None and getattr(user, "is_authenticated", False) else None,
    }
    level = logging.DEBUG if request.path == "/health/" and response.status_code == 200 else logging.INFO
    access_log.log(level, "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields)
