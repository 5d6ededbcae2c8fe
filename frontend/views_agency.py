"""機関管理: the agency administrator's page — the agency's staff and its API keys (issued and revoked through
agencies.services; a new key is shown once, on the page that answers the issuing request)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from agencies import selectors as agency_selectors
from agencies import services
from tsunagu.errors import InvalidInput, NotFound

from .auth import web_login_required
from .forms import ApiKeyForm
from .web import FORM_ERROR_STATUS, page, web_actor


@web_login_required
@require_GET
def agency_admin(request: HttpRequest) -> HttpResponse:
    actor = web_actor(request)
    staff = agency_selectors.staff_of_agency(actor=actor)
    keys = agency_selectors.apikey_list(actor=actor)
    return page(request, "frontend/agency.html", {"staff": staff, "keys": keys}, actor=actor)


@web_login_required
@require_http_methods(["GET", "POST"])
def apikey_issue(request: HttpRequest) -> HttpResponse:
    """Issue a key: an agency administrator for themselves or the agency's integration users, anyone else for
    themselves. The form offers only those; the service decides (and audits a refusal) whatever is posted."""
    actor = web_actor(request)
    holders = agency_selectors.apikey_holders(actor=actor)
    form = ApiKeyForm(request.POST if request.method == "POST" else None, staff=holders)
    context = {"form": form}
    if request.method == "GET" or not form.is_valid():
        status = 200 if request.method == "GET" else FORM_ERROR_STATUS
        return page(request, "frontend/apikey_form.html", context, actor=actor, status=status)
    data = form.cleaned_data
    try:
        key, secret = services.apikey_issue(
            actor=actor,
            user=data["user"],
            name=data["name"],
            expires_in_days=data["expires_in_days"],
            read_only=data["read_only"],
        )
    except NotFound:
        # The chosen holder is a field of this form: say so there rather than answer with the not-found page.
        form.add_error("user", _("職員が見つかりません。"))
        return page(request, "frontend/apikey_form.html", context, actor=actor, status=FORM_ERROR_STATUS)
    except InvalidInput as exc:
        form.add_service_errors(exc)
        return page(request, "frontend/apikey_form.html", context, actor=actor, status=FORM_ERROR_STATUS)
    response = page(
        request, "frontend/apikey_issued.html", {"key": key, "secret": secret, "holder": key.user}, actor=actor
    )
    response["Cache-Control"] = "no-store"  # the key is shown once: keep it out of every cache
    return response


@web_login_required
@require_http_methods(["GET", "POST"])
def apikey_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    actor = web_actor(request)
    keys = agency_selectors.apikey_list(actor=actor)
    key = next((k for k in keys if str(k.id) == key_id), None)
    if key is None:
        raise NotFound
    if request.method == "GET":
        return page(request, "frontend/apikey_revoke.html", {"key": key}, actor=actor)
    services.apikey_revoke(actor=actor, key_id=key.id)
    messages.success(request, _("APIキー「%(name)s」を無効にしました。") % {"name": key.name})
    return HttpResponseRedirect(reverse("frontend:agency_admin"))
