"""The Content-Security-Policy exception for the interactive API docs.

Every page of ours carries the strict ``SECURE_CSP``. Swagger UI (drf-spectacular's ``SpectacularSwaggerView``)
initialises itself with an inline script and inline styles, so under ``API_DOCS_PATHS`` — and only there — the
policy additionally allows inline script and style. The docs page shows the OpenAPI schema, no case data. Serving
the docs through ``SpectacularSwaggerSplitView`` (init script as a separate file) would make this unnecessary.
"""

from django.conf import settings
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
