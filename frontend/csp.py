"""The Content-Security-Policy exceptions: the interactive API docs, and the pages that frame a preview.

Every page of ours carries the strict ``SECURE_CSP``. Swagger UI (drf-spectacular's ``SpectacularSwaggerView``)
initialises itself with an inline script and inline styles, so under ``API_DOCS_PATHS`` — and only there — the
policy additionally allows inline script and style. The docs page shows the OpenAPI schema, no case data. Serving
the docs through ``SpectacularSwaggerSplitView`` (init script as a separate file) would make this unnecessary.

No page frames anything (``frame-src 'none'``), except the client page: its attachment preview shows a PDF in an
``<iframe>`` of our own preview URL, so that page alone allows ``frame-src 'self'`` (``allow_own_frames``).
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils.csp import CSP

API_DOCS_PATHS = ("/api/docs/",)


class ApiDocsCspMiddleware:
    """List right after ``ContentSecurityPolicyMiddleware``: it marks the docs responses before that one runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_DOCS_PATHS):
            policy = {key: list(values) for key, values in settings.SECURE_CSP.items()}
            for directive in ("script-src", "style-src"):
                policy[directive] = [*policy.get(directive, [CSP.SELF]), CSP.UNSAFE_INLINE]
            response._csp_config = policy
        return response


def allow_own_frames(response: HttpResponse) -> HttpResponse:
    """``response`` with the site's policy, except that it may frame pages of our own origin (``frame-src
    'self'``): the client page, whose preview dialog frames ``/attachments/<id>/preview/``."""
    policy = {key: list(values) for key, values in settings.SECURE_CSP.items()}
    policy["frame-src"] = [CSP.SELF]
    response._csp_config = policy  # type: ignore[attr-defined]
    return response
