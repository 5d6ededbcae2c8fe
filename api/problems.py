"""RFC 9457 problem details for every API error, and the one mapping from domain errors to HTTP.

Bodies carry ``type``, ``title``, ``status``, ``detail`` and, for 400, ``errors`` by field. Nothing request-specific
goes into the body (the request id travels in ``X-Request-ID``), so "not found" for a hidden client is the same
bytes as for a missing one. Unexpected exceptions become a plain 500 with no trace; the trace goes to the log.
"""

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import get_resolver
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from agencies.actions import AgencyAction
from audit.services import audit_denied
from tsunagu.errors import Conflict, DomainError, Forbidden, Gone, InvalidInput, NotFound, Unavailable

from .authentication import anonymous_actor
from .throttling import AuthFailureThrottle

logger = logging.getLogger("tsunagu.api")

CONTENT_TYPE = "application/problem+json"

# status → (type slug, title). Titles are fixed per type (in the request's language); ``detail`` says what
# happened this time.
PROBLEMS = {
    400: ("invalid-input", _("入力内容に誤りがあります")),
    401: ("unauthenticated", _("認証が必要です")),
    403: ("forbidden", _("この操作を行う権限がありません")),
    404: ("not-found", _("見つかりません")),
    405: ("method-not-allowed", _("このメソッドは使えません")),
    406: ("not-acceptable", _("応答形式が対応していません")),
    409: ("conflict", _("競合しています")),
    410: ("gone", _("削除されています")),
    413: ("too-large", _("リクエストが大きすぎます")),
    415: ("unsupported-media-type", _("リクエストの形式が対応していません")),
    429: ("throttled", _("リクエストが多すぎます")),
    500: ("server-error", _("サーバーでエラーが発生しました")),
    503: ("unavailable", _("現在利用できません")),
}

DETAILS = {
    400: _("リクエストが正しくありません。"),
    401: _("認証情報がありません。Authorization: Bearer <APIキー> を指定してください。"),
    404: NotFound.default_message,
    413: _("リクエストが大きすぎます。送信する内容を小さくしてください。"),
    500: _("サーバーでエラーが発生しました。時間をおいて再度お試しください。"),
}


def problem(status: int, detail: str | Promise = "", errors: dict | None = None) -> dict:
    slug, title = PROBLEMS.get(status, ("error", _("エラー")))
    body = {
        "type": f"urn:tsunagu:problem:{slug}",
        "title": str(title),
        "status": status,
        "detail": str(detail or title),
    }
    if status == 400:
        body["errors"] = errors or {"non_field_errors": [body["detail"]]}
    return body


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail (``{"tags": {0: [...]}}``) as ``{"tags.0": [...]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _text(detail) -> str:
    if isinstance(detail, list | dict):
        messages = [m for ms in _flatten(detail).values() for m in ms]
        return messages[0] if messages else ""
    return str(detail)


def _audit_missing_credentials(request) -> None:
    # A rejected key is audited where it is rejected (api.authentication); no credentials at all, here.
    if request is not None:
        AuthFailureThrottle(request).failed()
        audit_denied(actor=anonymous_actor(request), action=AgencyAction.AUTH_API_KEY, reason="missing")


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception from an API view becomes a problem response."""
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidInput):
        status, body = 400, problem(400, exc.message, exc.errors)
    elif isinstance(exc, NotFound):
        status, body = 404, problem(404, exc.message)
    elif isinstance(exc, Forbidden):
        status, body = 403, problem(403, exc.message)
    elif isinstance(exc, Conflict):
        status, body = 409, problem(409, exc.message)
    elif isinstance(exc, Gone):
        status, body = 410, problem(410, exc.message)
    elif isinstance(exc, Unavailable):
        status, body = 503, problem(503, exc.message)
    elif isinstance(exc, DomainError):
        status, body = 400, problem(400, exc.message)
    elif isinstance(exc, Http404):
        status, body = 404, problem(404, DETAILS[404])
    elif isinstance(exc, PermissionDenied):
        status, body = 403, problem(403)
    elif isinstance(exc, RequestDataTooBig):  # reading a body over DATA_UPLOAD_MAX_MEMORY_SIZE
        status, body = 413, problem(413, DETAILS[413])
    elif isinstance(exc, BadRequest | SuspiciousOperation):
        status, body = 400, problem(400, DETAILS[400], getattr(exc, "errors", None))
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        if isinstance(exc, drf.ValidationError):
            body = problem(400, InvalidInput.default_message, _flatten(exc.detail))
        elif isinstance(exc, drf.NotAuthenticated):
            body = problem(status, DETAILS[401])
            _audit_missing_credentials(context.get("request"))
        else:
            body = problem(status, _text(exc.detail))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            if isinstance(exc, drf.AuthenticationFailed):
                auth_header += ', error="invalid_token"'
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)  # Throttled
        if wait:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    else:
        request = context.get("request")
        logger.error(
            "API error on %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        status, body = 500, problem(500, DETAILS[500])
    set_rollback()
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)


def problem_response(status: int, detail: str | Promise = "", errors: dict | None = None) -> JsonResponse:
    """A problem response outside DRF (URL not found, errors raised before or after a view)."""
    return JsonResponse(
        problem(status, detail or DETAILS.get(status, ""), errors),
        status=status,
        content_type=CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
    )


@csrf_exempt
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """The catch-all at the end of the API URLconf: an unknown path under /api/ is a problem 404."""
    return problem_response(404)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def handler400(request: HttpRequest, exception=None):
    """Bad requests caught outside a view: the input guard's refusals (with ``errors``; 404 for a path), a body
    over the upload limit (413), too many fields, a bad Host."""
    status = 413 if isinstance(exception, RequestDataTooBig) else getattr(exception, "status", 400)
    if _is_api(request):
        return problem_response(status, DETAILS[status], getattr(exception, "errors", None))
    if status == 404:  # a path that can name nothing: the site's own not-found page
        not_found: Callable[..., HttpResponse] = get_resolver(getattr(request, "urlconf", None)).resolve_error_handler(
            404
        )
        return not_found(request, exception)
    response = defaults.bad_request(request, exception)
    response.status_code = status
    return response


def handler500(request: HttpRequest):
    if _is_api(request):
        return problem_response(500)
    return defaults.server_error(request)
