"""Request plumbing: the request id, the input guard, and the client address.

``RequestIdMiddleware``: a well-formed ``X-Request-ID`` header is kept, anything else replaced; echoed in the
response, on every log line of the request (``tsunagu.logs``) and in its access-log line.

``InputGuardMiddleware``: bytes that no field can ever accept are refused once, here, before any view runs — a NUL
(PostgreSQL text cannot hold one) or anything that is not UTF-8 (Django would quietly turn it into U+FFFD) in the
path, a header, the query string or a form body. The refusal goes through the project's ``handler400``: a 400
(problem+json under /api/, naming the parameter), or for a path the not-found answer, so no view, form or service
ever sees such a value.
"""

import re
import time
import uuid
from urllib.parse import unquote_to_bytes

from django.core.exceptions import BadRequest
from django.http import HttpRequest

from tsunagu.logs import channel_of, log_access, request_context

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NEVER_VALID = "使用できない文字（NUL や UTF-8 でないバイト列）が含まれています。"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        with request_context(request.request_id, channel_of(request.path)):
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            log_access(request, response, started)
        return response


class HostileInput(BadRequest):
    """Input that can never be valid. ``errors`` names where it was, as field errors do. ``status`` is 400, or 404
    for a path: no page or resource has such a name, so "not found" is the true answer (and the one the API
    schema documents for a path)."""

    def __init__(self, where: str):
        self.errors = {where: [NEVER_VALID]}
        self.status = 404 if where == "path" else 400
        super().__init__(f"never-valid input in {where!r}")


def _clean_text(raw: bytes) -> str | None:
    """``raw`` as text, or None when it holds a NUL or is not UTF-8."""
    if b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_urlencoded(data: str | bytes) -> None:
    """Raise ``HostileInput`` for the first name or value of an ``a=1&b=2`` string that is never valid."""
    if isinstance(data, str):
        data = data.encode("latin-1", "replace")  # WSGI hands the query string over as latin-1
    for pair in data.split(b"&"):
        name, _, value = pair.partition(b"=")
        name_text = _clean_text(unquote_to_bytes(name.replace(b"+", b" ")))
        if name_text is None:
            raise HostileInput("non_field_errors")
        if _clean_text(unquote_to_bytes(value.replace(b"+", b" "))) is None:
            raise HostileInput(name_text if name_text.isprintable() else "non_field_errors")


def _utf8_path(request) -> bool:
    """Whether the path's bytes were UTF-8. Django keeps bytes that are not as literal escapes (``%FF``); our
    routes never contain a ``%``, so an escape left in the decoded path is such a byte (or a ``%25``-encoded one)."""
    path = request.path_info
    return "%" not in path or _clean_text(unquote_to_bytes(path)) is not None


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _CONTROL.search(request.path_info) or not _utf8_path(request):
            raise HostileInput("path")
        check_urlencoded(request.META.get("QUERY_STRING", ""))
        for key, value in request.META.items():
            if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                raise HostileInput(key.removeprefix("HTTP_").replace("_", "-").lower())  # e.g. a User-Agent
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            content_type = request.content_type or ""
            if content_type == "application/x-www-form-urlencoded":
                check_urlencoded(request.body)  # over DATA_UPLOAD_MAX_MEMORY_SIZE: RequestDataTooBig, a 413
            elif content_type == "multipart/form-data" and not request.path_info.startswith("/api/"):
                # Django has decoded these already (not-UTF-8 became U+FFFD); a NUL survives that.
                for name, values in request.POST.lists():
                    if "\x00" in name or any("\x00" in v for v in values):
                        raise HostileInput(name.replace("\x00", "") or "non_field_errors")
        return self.get_response(request)


def client_ip(request: HttpRequest) -> str | None:
    """The peer address. Behind a proxy, configure the proxy to set REMOTE_ADDR (we never trust X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR") or None
