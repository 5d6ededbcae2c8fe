"""Browser views: thin adapters over the audited selectors and services (channel ``web``)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from agencies.actors import Actor
from cases import selectors
from tsunagu.errors import InvalidInput, NotFound
from tsunagu.middleware import client_ip


def web_actor(request: HttpRequest) -> Actor:
    return Actor.for_user(
        request.user,
        channel="web",
        request_id=getattr(request, "request_id", None),
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


@login_required
def client_list(request: HttpRequest) -> HttpResponse:
    actor = web_actor(request)
    q = request.GET.get("q", "")
    errors = None
    try:
        page = selectors.client_list(
            actor=actor,
            q=q,
            status=request.GET.get("status", ""),
            tag=request.GET.get("tag", ""),
            cursor=request.GET.get("cursor") or None,
        )
    except InvalidInput as exc:
        errors, page = exc.errors, None
    return render(request, "frontend/client_list.html", {"actor": actor, "page": page, "q": q, "errors": errors})


@login_required
def client_detail(request: HttpRequest, client_id: str) -> HttpResponse:
    actor = web_actor(request)
    try:
        client = selectors.client_get(actor=actor, client_id=client_id)
        timeline = selectors.timeline_list(actor=actor, client_id=client_id, cursor=request.GET.get("cursor") or None)
    except NotFound:
        raise Http404 from None
    except InvalidInput:
        raise Http404 from None
    return render(request, "frontend/client_detail.html", {"actor": actor, "client": client, "timeline": timeline})


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """The one not-found page, for a missing client and a hidden one alike."""
    return render(request, "frontend/404.html", status=404)
