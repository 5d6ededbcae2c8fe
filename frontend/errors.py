"""Domain errors raised by a browser view, mapped to pages in one place (as ``api/problems.py`` does for the API).

- ``NotFound`` → the one not-found page: 404, the same bytes for a missing and a hidden client, never more than
  "not found".
- ``Forbidden`` → the 403 page, with the error's message (safe to show: services write it for the actor).
- ``Gone`` → 410, the object's content was removed (an attachment past its retention), with the error's message.
- ``Unavailable`` → 503, it cannot be done now (a file failed its integrity check, a scanner or storage is out of
  reach), with the error's message.

For an htmx request the error card replaces ``#main`` (``frontend.web.error_page``). The denied attempt has been
audited already, by ``cases.access.client_access`` or ``audit.refusals.refuse``, before the error was raised:
this only chooses the page. A view that answers an error differently (a form that shows "not found" as a field
error) catches it itself; anything it lets through ends here.

Only the browser's own routes (the ``frontend`` URL namespace) are mapped. The API turns the same errors into
problem+json in its DRF exception handler, and nothing under ``/api/``, the admin or ``/i18n/`` is touched here.
"""

from django.http import HttpRequest, HttpResponse

from tsunagu.errors import Forbidden, Gone, NotFound, Unavailable

from .web import error_page

BROWSER_NAMESPACE = "frontend"  # frontend/urls.py's app_name


def is_browser_route(request: HttpRequest) -> bool:
    """Whether the request was routed to a browser view (resolved before any view runs).

    A safeguard, not a guard anything needs today: an API view's domain errors never reach this middleware (DRF's
    exception handler, ``api.problems.exception_handler``, answers them first), and the admin and ``/i18n/``
    raise none. It keeps a view added outside the ``frontend`` namespace from being answered with a browser page
    should one ever let a domain error through."""
    match = getattr(request, "resolver_match", None)
    return match is not None and BROWSER_NAMESPACE in match.namespaces


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_browser_route(request):
            return None
        if isinstance(exception, NotFound):
            return error_page(request, status=404)
        if isinstance(exception, Forbidden):
            return error_page(request, status=403, message=exception.message)
        if isinstance(exception, Gone):
            return error_page(request, status=410, message=exception.message)
        if isinstance(exception, Unavailable):
            return error_page(request, status=503, message=exception.message)
        return None
