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

Typing is not a request, so a note being written can outlive the session. The page therefore keeps the entry form's
text as a draft in the browser and counts the idle time down itself (``frontend/static/frontend/session.js``): it
learns the limit and the time left from ``session_timer`` (rendered into every signed-in page) and from the
``Tsunagu-Idle-Remaining`` header on every response of these views (a poll's answer tells what is left without
resetting it), warns ``SESSION_WARNING_SECONDS`` before the end with a button that POSTs to ``session_keepalive``,
and at the end sends the window to the login page with the way back, where the draft is restored. The keep-alive
touches no case data and is not audited (like any page view that shows none); signing in and out are.
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
from django.utils.crypto import salted_hmac
from django.views.decorators.http import require_POST

from agencies.login_throttle import LoginRefusal, login_refusal
from tsunagu.middleware import client_ip

from . import mfa

MARKER_COOKIE = "tsunagu_signed_in"
LAST_SEEN_KEY = "tsunagu_last_seen"
IDLE_HEADER = "Tsunagu-Idle-Remaining"  # seconds until the idle timeout, on every response of a signed-in view


_REMAINING_ATTR = "_tsunagu_idle_remaining"


def idle_remaining(request: HttpRequest) -> int:
    """Seconds left before the idle timeout (negative once it has passed). Within a signed-in view, the count
    taken when the request came in, so that every part of one answer says the same."""
    known = getattr(request, _REMAINING_ATTR, None)
    if known is not None:
        return known
    now = int(time.time())
    return settings.SESSION_COOKIE_AGE - (now - request.session.get(LAST_SEEN_KEY, now))


def idle_expired(request: HttpRequest) -> bool:
    return idle_remaining(request) < 0


def draft_owner_key(user) -> str:
    """A stable, non-secret tag for the user's drafts in the browser (``session.js`` keys drafts by it and removes
    other users' drafts on a shared computer). Derived from the user id with the site's secret, so it names nobody
    and cannot be guessed for another user."""
    return salted_hmac("frontend.drafts.owner", str(user.pk), algorithm="sha256").hexdigest()[:20]


def session_timer(request: HttpRequest) -> dict | None:
    """What a signed-in page tells its script about the idle timeout (None when nobody is signed in)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return {
        "limit": settings.SESSION_COOKIE_AGE,
        "warning": settings.SESSION_WARNING_SECONDS,
        "remaining": max(idle_remaining(request), 0),
        "owner": draft_owner_key(user),
    }


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

    def dispatch(self, request, *args, **kwargs):
        # A page that counted the idle time down sends the window here. A session past the idle limit is over
        # (as on any other page), rather than sent straight back to where it came from.
        if request.user.is_authenticated and idle_expired(request):
            auth.logout(request)  # audited as auth.logout; the marker cookie stays, so the page explains
        return super().dispatch(request, *args, **kwargs)

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
            if idle_expired(request):
                auth.logout(request)  # audited as auth.logout; the marker cookie stays, so the login page explains
                return _to_login(request)
            remaining = idle_remaining(request)
            if activity:
                request.session[LAST_SEEN_KEY] = int(time.time())
                remaining = settings.SESSION_COOKIE_AGE
            setattr(request, _REMAINING_ATTR, remaining)
            response = func(request, *args, **kwargs)
            if request.user.is_authenticated:  # not after a view that signed the user out
                response[IDLE_HEADER] = str(remaining)
            return response

        return wrapper

    return decorate(view) if view is not None else decorate


@web_login_required
@require_POST
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """「ログインを続ける」: one request that counts as activity and nothing else (204 with the time left). Reads
    no case data, so nothing to audit; after the idle limit it is refused like any page (``web_login_required``)."""
    return HttpResponse(status=204)
