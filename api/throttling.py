"""Requests per API key (or per session user), at ``settings.API_THROTTLE_RATE``; over it, 429 with Retry-After.

Counts live in the default cache: give production a shared cache so that every worker counts together.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from agencies.models import ApiKey
from tsunagu.middleware import client_ip


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read at request time (not class-definition time) so that the setting can change under test.
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{client_ip(request)}"  # the peer address; X-Forwarded-For is not trusted
        return self.cache_format % {"scope": self.scope, "ident": ident}
