"""API throttles. Counts live in the default cache: give production a shared cache (``CACHE_URL``) so that every
worker counts together.

- ``ApiKeyRateThrottle``: requests per API key (or per session user), at ``settings.API_THROTTLE_RATE``; over it,
  429 with Retry-After.
- ``AuthFailureThrottle``: failed authentications (bogus, expired or revoked keys, no credentials at all) per client
  address, at ``settings.API_AUTH_FAILURE_RATE``, checked *before* any key is looked up. An address that has used
  up its failures in the current window is answered 429 with Retry-After until the window ends, whatever it sends.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from agencies.models import ApiKey
from tsunagu.middleware import client_ip

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _now() -> float:
    return time.time()


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` → (20, 60). The value is checked when settings load (``tsunagu.env.env_rate``)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


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


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


class AuthFailureThrottle:
    """Failed authentications from one client address, in fixed windows of the rate's period."""

    def __init__(self, request):
        self.limit, self.period = parse_rate(settings.API_AUTH_FAILURE_RATE)
        now = _now()
        window = int(now // self.period)
        self.wait = max(1, math.ceil((window + 1) * self.period - now))
        self._failures = f"throttle_authfail:{client_ip(request) or '-'}:{window}"
        self._refused = f"{self._failures}:refused"

    def refused(self) -> int:
        """0 when the address may try to authenticate; otherwise how many attempts this window has refused,
        this one included."""
        if (cache.get(self._failures) or 0) < self.limit:
            return 0
        return _incr(self._refused, self.period + 1)

    def failed(self) -> None:
        _incr(self._failures, self.period + 1)
