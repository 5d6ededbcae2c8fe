"""Request id: taken from a well-formed ``X-Request-ID`` header or generated, echoed in the response."""

import re
import uuid

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def client_ip(request) -> str | None:
    """The peer address. Behind a proxy, configure the proxy to set REMOTE_ADDR (we never trust X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR") or None
