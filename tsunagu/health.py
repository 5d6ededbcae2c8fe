"""``/health/``: the service's health as JSON, for load balancers and monitoring (``cases.health`` grades it).

Outside the API and the sign-in: no session, no key; answers GET and HEAD. 200 when the status is ``ok`` or
``degraded``, 503 when ``fail``. Not audited: it carries counts and ages, nothing about any client.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cases.health import FAIL, health_report


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=503 if report["status"] == FAIL else 200)
