"""Domain errors map to pages in one place (``frontend.errors.DomainErrorMiddleware``): a ``NotFound`` or
``Forbidden`` raised anywhere below a browser view is the not-found or the 403 page, for a full request and for
htmx alike, and never touches an API response."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from agencies.services import apikey_issue
from audit.models import AuditEvent
from cases import selectors
from frontend.errors import DomainErrorMiddleware
from tests.frontend.conftest import strip_tokens, text
from tsunagu.errors import Forbidden, InvalidInput, NotFound

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "この文言は画面に出てはならない"


def detail_url(client_id) -> str:
    return reverse("frontend:client_detail", args=[client_id])


def timeline_url(client_id) -> str:
    return reverse("frontend:timeline", args=[client_id])


def raising(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def template_names(response) -> list[str]:
    return [t.name for t in response.templates]


# --- raised deep inside a view -----------------------------------------------------------------------------


def test_not_found_deep_inside_a_view_is_the_one_not_found_page(cast, as_user, monkeypatch):
    """Raised by the page's read: the same page as a missing client, saying nothing of what the error said."""
    client = as_user("alice")
    missing = client.get(detail_url(uuid.uuid4()))
    monkeypatch.setattr(selectors, "client_page", raising(NotFound(SECRET)))
    response = client.get(detail_url(cast.client.id))
    assert response.status_code == missing.status_code == 404
    assert "frontend/404.html" in template_names(response)
    assert strip_tokens(response.content) == strip_tokens(missing.content)
    assert SECRET not in text(response) and "山田" not in text(response)


def test_not_found_deep_inside_an_htmx_view_is_the_error_card_in_main(cast, as_user, monkeypatch):
    client = as_user("alice")
    monkeypatch.setattr(selectors, "timeline_list", raising(NotFound(SECRET)))
    response = client.get(timeline_url(cast.client.id), **HTMX)
    assert response.status_code == 404
    assert template_names(response) == ["frontend/_error_card.html"]
    assert response["HX-Retarget"] == "#main" and response["HX-Reswap"] == "innerHTML"
    assert "ページが見つかりません" in text(response) and SECRET not in text(response)


@pytest.mark.parametrize("htmx", [False, True], ids=["full", "htmx"])
def test_forbidden_deep_inside_a_view_is_the_forbidden_page_with_its_message(cast, as_user, monkeypatch, htmx):
    client = as_user("alice")
    # The page is one read (client_page); the fragment reads the shares on their own.
    refused = "share_list" if htmx else "client_page"
    monkeypatch.setattr(selectors, refused, raising(Forbidden("テストの理由で許可されません。")))
    response = client.get(
        timeline_url(cast.client.id) if htmx else detail_url(cast.client.id), **(HTMX if htmx else {})
    )
    assert response.status_code == 403
    assert "テストの理由で許可されません。" in text(response)
    if htmx:
        assert template_names(response) == ["frontend/_error_card.html"]
        assert response["HX-Retarget"] == "#main" and response["HX-Reswap"] == "innerHTML"
    else:
        assert "frontend/403.html" in template_names(response)
        assert "HX-Retarget" not in response


# --- the real refusals: audited once, by the service, and shown as the pages -------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["full", "htmx"])
def test_a_hidden_client_is_not_found_and_audited_once(cast, as_user, htmx):
    response = as_user("charlie").get(
        timeline_url(cast.client.id) if htmx else detail_url(cast.client.id), **(HTMX if htmx else {})
    )
    assert response.status_code == 404 and "山田" not in text(response)
    assert ("HX-Retarget" in response) is htmx
    denied = AuditEvent.objects.filter(actor_username="charlie", outcome="denied")
    assert list(denied.values_list("action", flat=True)) == ["client.view"]


@pytest.mark.parametrize("htmx", [False, True], ids=["full", "htmx"])
def test_a_refused_append_is_the_forbidden_page_and_audited_once(cast, as_user, htmx):
    url = reverse("frontend:entry_append", args=[cast.client.id])
    data = {"kind": "call", "occurred_at": "2026-11-01T10:30", "body": "電話で近況を確認。"}
    response = as_user("bob").post(url, data, **(HTMX if htmx else {}))
    assert response.status_code == 403
    assert ("HX-Retarget" in response) is htmx
    denied = AuditEvent.objects.filter(actor_username="bob", outcome="denied")
    assert list(denied.values_list("action", flat=True)) == ["timeline.append"]


def test_the_share_pages_say_who_may_manage_shares(cast, as_user):
    """A caseworker of the managing agency is refused for the role: the page names the roles that may."""
    response = as_user("alice").get(reverse("frontend:share_page", args=[cast.client.id]))
    assert response.status_code == 403
    assert "管理職・主任または機関管理者のみが行えます" in text(response)
    assert AuditEvent.objects.filter(actor_username="alice", outcome="denied", action="share.manage").count() == 1


# --- only browser routes -----------------------------------------------------------------------------------


def test_the_api_answers_its_own_problem_even_when_the_browser_would_map_the_error(cast, monkeypatch):
    _, secret = apikey_issue(actor=cast.actor("alice"), user=cast.users["alice"], name="test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    monkeypatch.setattr(selectors, "client_get", raising(NotFound()))
    response = api.get(f"/api/v1/clients/{cast.client.id}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:tsunagu:problem:not-found"


def _request(path: str):
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path)
    return request


@pytest.mark.parametrize("error", [NotFound(), Forbidden()], ids=["not_found", "forbidden"])
@pytest.mark.parametrize("path", ["/api/v1/clients/", "/api/v1/nothing-here/", "/i18n/setlang/"])
def test_the_middleware_leaves_everything_but_browser_routes_alone(path, error):
    middleware = DomainErrorMiddleware(lambda request: None)
    assert middleware.process_exception(_request(path), error) is None


def test_the_middleware_maps_only_not_found_and_forbidden(db):
    middleware = DomainErrorMiddleware(lambda request: None)
    request = _request(reverse("frontend:client_list"))
    request.user = AnonymousUser()
    request.htmx = False
    assert middleware.process_exception(request, InvalidInput({"q": ["x"]})) is None
    assert middleware.process_exception(request, ValueError()) is None
    assert middleware.process_exception(request, NotFound()).status_code == 404


def test_a_form_wide_error_is_announced_by_an_element_that_may_carry_the_alert_role():
    """axe's aria-allowed-role: a list (``ul``) may not be an alert; the alert wraps the list."""
    import re

    from django import forms
    from django.template.loader import render_to_string

    form = forms.Form(data={})
    form.is_valid()
    form.add_error(None, "同時に別の操作が行われました。")
    html = render_to_string("frontend/_nonfield.html", {"form": form})
    assert "同時に別の操作が行われました。" in html and 'role="alert"' in html
    assert not re.search(r"<(ul|ol|li)\b[^>]*\brole=", html)
