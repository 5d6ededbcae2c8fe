"""Signing in and out of the browser UI: throttled logins (``agencies.login_throttle``), the second factor for
those who need it (``frontend.mfa``), the idle timeout. (Logins, failures and refusals are audited in
``agencies.signals``.)

The session expires after ``SESSION_IDLE_MINUTES`` without a request (``SESSION_COOKIE_AGE`` with
``SESSION_SAVE_EVERY_REQUEST``). Two details make that an honest *inactivity* timeout with a clear message:

- Background polls (the timeline cue, the unread badge) would otherwise keep a forgotten tab signed in forever.
  Every page records the time of the last *user* request in the session; a poll does not, and once that time is
  older than the idle limit the poll signs the user out.
- After a timeout the browser has usually dropped the session cookie itself, so the server cannot tell "expired"
  from "never signed in". A small marker cookie (no personal data) set at login and removed at logout tells the
  login page to say "セッションの有効期限が切れました".
"""

import functools
import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse

from agencies.login_throttle import LoginRefusal, login_refusal
from tsunagu.middleware import client_ip

from . import mfa

MARKER_COOKIE = "tsunagu_signed_in"
LAST_SEEN_KEY = "tsunagu_last_seen"


class LoginThrottleBackend:
    """First in ``AUTHENTICATION_BACKENDS``: refuses an attempt that the login throttle holds back, before any
    password is compared. The refusal is left on the request (``login_refusal``) for ``LoginThrottleMiddleware``
    to answer with 429, and for the audit receiver to record it as a refusal rather than a failure.

    ``authenticate()`` called without a request (a management command, a test client's ``login()``) is not a
    login over the network: there is no address to throttle, so it is left to the next backend.

    Deliberately no ``get_user``: the backend never signs anyone in, so ``force_login`` and session lookups pass
    over it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        refusal = login_refusal(username=str(username or ""), ip=client_ip(request))
        if refusal is not None:
            request.login_refusal = refusal
            raise PermissionDenied  # stops authenticate(); it then sends user_login_failed
        return None


def refusal_response(request: HttpRequest, refusal: LoginRefusal) -> HttpResponse:
    """The login page with the reason and the wait (429 with Retry-After), whichever login form was used."""
    context = {
        "form": AuthenticationForm(request),
        "refusal": refusal,
        "next": request.POST.get("next", ""),
    }
    response = TemplateResponse(request, "frontend/login.html", context, status=429).render()
    response["Retry-After"] = str(refusal.retry_after)
    return response


class LoginThrottleMiddleware:
    """Turns a refusal flagged during authentication into the 429 page (last in ``MIDDLEWARE``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        refusal = getattr(request, "login_refusal", None)
        return refusal_response(request, refusal) if refusal is not None else response


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        request = self.request
        # Signed in before, not any more, and not by logging out: the session timed out.
        context["session_expired"] = (
            request.method == "GET" and not request.user.is_authenticated and request.COOKIES.get(MARKER_COOKIE) == "1"
        )
        # After a wrong password the user name is kept: the cursor goes where the retyping is.
        form = context.get("form")
        context["focus_password"] = bool(form is not None and form.errors and form.data.get("username"))
        return context

    def get_success_url(self):
        # After the password, whoever needs a second factor gives it (or enrols one) before going on.
        url = super().get_success_url()
        return mfa.second_factor_url(self.request, url) or url

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session[LAST_SEEN_KEY] = int(time.time())
        response.set_cookie(
            MARKER_COOKIE,
            "1",
            max_age=60 * 60 * 24 * 30,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
        return response

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        if context.get("session_expired"):
            response.delete_cookie(MARKER_COOKIE, samesite="Lax")  # say it once
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        response.delete_cookie(MARKER_COOKIE, samesite="Lax")
        return response


def _login_url(request: HttpRequest) -> str:
    # For an htmx request, come back to the page it was made from, not to the fragment it asked for.
    target = request.headers.get("HX-Current-URL") if getattr(request, "htmx", False) else None
    if target:
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        target = request.get_full_path()
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target}, safe='/')}"


def _to_login(request: HttpRequest) -> HttpResponse:
    url = _login_url(request)
    if getattr(request, "htmx", False):
        # A fragment request must not swap the login page into the page: send the whole window there.
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def web_login_required(view=None, *, activity: bool = True):
    """``login_required`` for the browser views, with the idle timeout described above.

    ``activity=False`` marks background requests (polls): they neither count as activity nor keep the user
    signed in past the idle limit.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                return _to_login(request)
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY, now)
            if now - last_seen > settings.SESSION_COOKIE_AGE:
                auth.logout(request)  # audited as auth.logout; the marker cookie stays, so the login page explains
                return _to_login(request)
            if activity:
                request.session[LAST_SEEN_KEY] = now
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
