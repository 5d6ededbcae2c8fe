"""API authentication: ``Authorization: Bearer <key>``. A key acts as its user and never exceeds the user's rights.

Every rejected key is audited (``auth.api_key``, denied, with the reason); the caller only learns that the key is
not valid, never why. Failures are throttled per client address before any key is looked up
(``api.throttling.AuthFailureThrottle``): past the limit the address gets 429 with Retry-After, and the audit log
grows by one ``auth.api_key`` row (reason ``throttled``, with the count so far) at the 1st, 10th, 100th … refusal of
each window, so a long attack is recorded in a handful of rows.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from agencies.actions import AgencyAction
from agencies.actors import Actor
from agencies.models import ApiKey
from agencies.services import KeyRejected, apikey_authenticate
from audit.services import audit_denied
from tsunagu.middleware import client_ip

from .throttling import AuthFailureThrottle

KEYWORD = "bearer"
REALM = 'Bearer realm="api"'


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_detail = _("APIキーが無効です（形式の誤り、未登録、期限切れまたは失効）。")
    default_code = "invalid_token"


def _request_facts(request) -> dict:
    return {
        "request_id": getattr(request, "request_id", None),
        "ip": client_ip(request),
        "user_agent": request.headers.get("User-Agent", ""),
    }


def anonymous_actor(request, *, api_key_id: str = "") -> Actor:
    """Whoever called without valid credentials: no user, no agency, on the API channel."""
    return Actor(
        user=None,
        agency=None,
        role="",
        is_privacy_officer=False,
        channel="api",
        api_key_id=api_key_id,
        **{k: v for k, v in _request_facts(request).items() if v is not None},
    )


def api_actor(request: Request) -> Actor:
    """The actor for an authenticated API request (built once per request)."""
    actor = getattr(request, "_tsunagu_actor", None)
    if actor is None:
        key = request.auth if isinstance(request.auth, ApiKey) else None
        actor = Actor.for_user(
            request.user, channel="api", api_key_id=str(key.pk) if key else "", **_request_facts(request)
        )
        request._tsunagu_actor = actor  # type: ignore[attr-defined]  # memo for the request; DRF's Request declares no such attribute
    return actor


class TooManyFailures(exceptions.Throttled):
    default_detail = _("認証の失敗が多すぎます。しばらく待ってから再度お試しください。")


def refuse_if_throttled(request, throttle: AuthFailureThrottle) -> None:
    """429 for an address that has used up its authentication failures (audited at each power of ten)."""
    refused = throttle.refused()
    if not refused:
        return
    if str(refused).rstrip("0") == "1":  # 1, 10, 100, …
        audit_denied(
            actor=anonymous_actor(request),
            action=AgencyAction.AUTH_API_KEY,
            reason="throttled",
            details={"failures": throttle.limit, "refused": refused, "window_seconds": throttle.period},
        )
    raise TooManyFailures(wait=throttle.wait)


class ApiKeyAuthentication(BaseAuthentication):
    """Bearer API keys. Other schemes are left to the next authenticator (the browser session)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != KEYWORD:
            if not request._request.user.is_authenticated:  # no key and no browser session: would be a 401
                refuse_if_throttled(request, AuthFailureThrottle(request))
            return None
        throttle = AuthFailureThrottle(request)
        refuse_if_throttled(request, throttle)
        raw = credentials.strip()
        try:
            if not raw or any(ch.isspace() for ch in raw):
                raise KeyRejected("malformed")
            key = apikey_authenticate(raw)
        except KeyRejected as rejected:
            throttle.failed()
            audit_denied(
                actor=anonymous_actor(request, api_key_id=rejected.key_id),
                action=AgencyAction.AUTH_API_KEY,
                reason=rejected.reason,
                target_type="apikey" if rejected.key_id else "",
                target_id=rejected.key_id,
            )
            raise InvalidApiKey() from None
        return key.user, key

    def authenticate_header(self, request) -> str:
        return REALM
