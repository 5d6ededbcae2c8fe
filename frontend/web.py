"""What every browser view shares: the actor, the page frame (header counts) and the error pages.

Domain errors map to responses in one place, ``frontend.errors.DomainErrorMiddleware``: ``NotFound`` → the one
not-found page (404, the same for a missing and a hidden client), ``Forbidden`` → the 403 page, both rendered by
``error_page`` below. A view lets them propagate. ``InvalidInput`` is a form's business (field errors).
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject
from django_htmx.http import reswap, retarget

from agencies import selectors as agency_selectors
from agencies.actors import Actor
from cases import inquiry_selectors, notifications, selectors
from tsunagu.middleware import client_ip

from .auth import session_timer

# Form errors: a full page is re-rendered with 400; an htmx fragment answers 422 (htmx-config swaps it).
FORM_ERROR_STATUS = 400
FRAGMENT_ERROR_STATUS = 422


_ACTOR_ATTR = "_tsunagu_web_actor"

ERROR_TEMPLATES = {
    404: "frontend/404.html",
    403: "frontend/403.html",
    410: "frontend/410.html",
    503: "frontend/503.html",
}


def web_actor(request: HttpRequest) -> Actor:
    """The request's actor, built once per request and kept on it (an error page reuses the view's). Built again
    only if the request's user has changed since (sign-in, sign-out)."""
    actor = getattr(request, _ACTOR_ATTR, None)
    if actor is None or actor.user is not request.user:
        actor = Actor.for_user(
            request.user,
            channel="web",
            request_id=getattr(request, "request_id", None),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        setattr(request, _ACTOR_ATTR, actor)
    return actor


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def frame(request: HttpRequest, actor: Actor | None) -> dict:
    """Context for the page frame: who is signed in (``me``, the read model with what they may open), how many
    notices they have not read, how many inquiries to their agency await an answer (``open_inquiries``: the
    header's 照会 badge), and their open emergency grants (``emergency_grants``: the header's 緊急アクセス中 link).
    ``me``, the inquiry count and the grants are read only when a template uses them (htmx fragments never do)."""
    if actor is None or actor.user is None:
        return {"actor": actor, "me": None, "unread_count": 0, "open_inquiries": 0, "emergency_grants": ()}
    return {
        "actor": actor,
        "session_timer": session_timer(request),
        "me": SimpleLazyObject(lambda: agency_selectors.profile_get(actor=actor)),
        "unread_count": notifications.notification_unread_count(actor=actor),
        "open_inquiries": SimpleLazyObject(lambda: inquiry_selectors.open_received_inquiry_count(actor)),
        "emergency_grants": SimpleLazyObject(lambda: selectors.break_glass_open_grants(actor=actor)),
    }


def page(
    request: HttpRequest, template: str, context: dict, *, actor: Actor | None = None, status: int = 200
) -> HttpResponse:
    return render(request, template, {**frame(request, actor), **context}, status=status)


def error_page(request: HttpRequest, *, status: int, actor: Actor | None = None, message: str = "") -> HttpResponse:
    """The not-found (404), forbidden (403), gone (410) or unavailable (503) page. For an htmx request the card
    replaces the page's main area."""
    template = ERROR_TEMPLATES.get(status, "frontend/403.html")
    if status == 404:
        message = ""  # the not-found page never says more than "not found"
    if is_htmx(request):
        response = render(request, "frontend/_error_card.html", {"status": status, "message": message}, status=status)
        return reswap(retarget(response, "#main"), "innerHTML")
    if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
        actor = web_actor(request)
    return page(request, template, {"message": message, "status": status}, actor=actor, status=status)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: the one not-found page, for a missing client and a hidden one alike."""
    return error_page(request, status=404)


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    """handler403."""
    return error_page(request, status=403)
