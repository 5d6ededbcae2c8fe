"""The second-factor gate for browser sessions (``agencies.mfa`` decides who needs one and checks the codes).

After the password, a user who needs a second factor is signed in but not *verified* (django-otp's
``OTPMiddleware`` tells): ``MfaRequiredMiddleware`` then lets that session reach only the code pages and logout.
Every other page, htmx fragment, the session-authenticated API and Django admin are refused — pages and admin
with a redirect to the code step (or to enrolment when the user has no device yet), the API with a 401
problem. A request that carries ``Authorization: Bearer …`` is an API-key call, not a browser sign-in: the API
authenticates it by its key alone and never falls back to the session.
"""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from agencies.mfa import mfa_device, mfa_required
from api.problems import problem_response

UNVERIFIED_API_DETAIL = "二要素認証が完了していません。ブラウザで確認コードを入力してからお試しください。"


def is_verified(user) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def needs_second_factor(user) -> bool:
    """Signed in with a password, required to give a second factor, and has not given it in this session."""
    return bool(getattr(user, "is_authenticated", False)) and not is_verified(user) and mfa_required(user)


def safe_next(request: HttpRequest, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


def step_url(request: HttpRequest, next_url: str) -> str:
    """The code page, or the enrolment page for a user without a device, returning to ``next_url``."""
    name = "frontend:mfa_verify" if mfa_device(request.user) is not None else "frontend:mfa_enrol"
    return f"{reverse(name)}?{urlencode({'next': next_url}, safe='/')}"


def second_factor_url(request: HttpRequest, next_url: str) -> str | None:
    """Where the password step continues: the second-factor step when one is needed, else None."""
    return step_url(request, next_url) if needs_second_factor(request.user) else None


def _is_bearer(request: HttpRequest) -> bool:
    # The same test as api.authentication: any other scheme would fall through to the session.
    return request.headers.get("Authorization", "").strip().lower().startswith("bearer ")


def _open_paths() -> tuple[str, ...]:
    return (
        reverse("frontend:mfa_verify"),
        reverse("frontend:mfa_enrol"),
        reverse("frontend:logout"),
        reverse("admin:logout"),
        reverse("health"),
        "/i18n/",
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}",
    )


class MfaRequiredMiddleware:
    """After ``OTPMiddleware`` and ``HtmxMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and _is_bearer(request):
            return self.get_response(request)  # an API key (valid or refused by the API), not this session
        if request.path.startswith(_open_paths()) or not needs_second_factor(request.user):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            response: HttpResponse = problem_response(401, UNVERIFIED_API_DETAIL)
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        if getattr(request, "htmx", False):
            # Send the whole window to the code step, then back to the page the fragment was asked from.
            parts = urlsplit(request.headers.get("HX-Current-URL", ""))
            target = parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else reverse("frontend:home")
            response = HttpResponse(status=200)
            response["HX-Redirect"] = step_url(request, target)
            return response
        target = request.get_full_path() if request.method == "GET" else reverse(settings.LOGIN_REDIRECT_URL)
        return HttpResponseRedirect(step_url(request, target))


class VerifiedAdminSite(AdminSite):
    """Django admin for operators who have given their second factor (django-otp's ``OTPAdminSite`` check,
    keeping the ordinary admin login form: the code step is ours, the same as for the browser UI)."""

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and is_verified(request.user)
