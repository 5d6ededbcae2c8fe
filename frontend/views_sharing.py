"""共有設定: who may see a client, and on which basis. For supervisors and agency administrators of an agency
that manages the client; every change has a confirmation step and goes through ``cases.services``."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from agencies import selectors as agency_selectors
from cases import selectors, services
from tsunagu.errors import InvalidInput, NotFound

from .auth import web_login_required
from .forms import ShareGrantForm
from .web import FORM_ERROR_STATUS, page, web_actor


def _manager_context(actor, client_id) -> dict:
    """The client and its shares, for a share manager only: NotFound when hidden, Forbidden (audited by the
    selector) when visible to someone who may not manage its shares."""
    shares = selectors.share_list(actor=actor, client_id=client_id, for_management=True)
    client = selectors.client_get(actor=actor, client_id=client_id)
    return {"client": client, "shares": shares}


def _grant_form(actor, client, data=None) -> ShareGrantForm:
    agencies = [a for a in agency_selectors.agency_choices(actor=actor) if a.code != client.owner_agency_code]
    return ShareGrantForm(data, agencies=agencies)


def _render(request, actor, context, *, form=None, status=200) -> HttpResponse:
    context.setdefault("form", form or _grant_form(actor, context["client"]))
    return page(request, "frontend/shares.html", context, actor=actor, status=status)


@web_login_required
@require_GET
def share_page(request: HttpRequest, client_id: str) -> HttpResponse:
    actor = web_actor(request)
    context = _manager_context(actor, client_id)
    return _render(request, actor, context)


@web_login_required
@require_http_methods(["POST"])
def share_grant(request: HttpRequest, client_id: str) -> HttpResponse:
    """Step 1 (no ``confirm``): check the form and show what will happen. Step 2 (``confirm=1``): grant."""
    actor = web_actor(request)
    context = _manager_context(actor, client_id)
    client = context["client"]
    form = _grant_form(actor, client, request.POST)
    if not form.is_valid() or request.POST.get("edit") == "1":
        return _render(request, actor, context, form=form, status=200 if form.is_valid() else FORM_ERROR_STATUS)
    data = form.cleaned_data
    if request.POST.get("confirm") != "1":
        choices = form.fields["agency"].choices  # type: ignore[attr-defined]  # a ChoiceField, typed as its base Field
        agency_name = dict(choices).get(data["agency"], data["agency"])
        replacing = next((s for s in context["shares"] if s.is_active and s.agency_code == data["agency"]), None)
        context.update(form=form, agency_name=agency_name, replacing=replacing, expires_at=form.expires_at())
        return page(request, "frontend/share_confirm.html", context, actor=actor)
    try:
        share = services.share_grant(
            actor=actor,
            client_id=client_id,
            agency_code=data["agency"],
            level=data["level"],
            basis=data["basis"],
            basis_note=data["basis_note"],
            expires_at=form.expires_at(),
        )
    except InvalidInput as exc:
        form.add_service_errors(exc)
        return _render(request, actor, context, form=form, status=FORM_ERROR_STATUS)
    messages.success(request, _("%(agency)s との共有を設定しました。") % {"agency": share.agency_name})
    return HttpResponseRedirect(reverse("frontend:share_page", args=[client_id]))


@web_login_required
@require_http_methods(["GET", "POST"])
def share_revoke(request: HttpRequest, client_id: str, share_id: str) -> HttpResponse:
    """GET: the confirmation page. POST: revoke (takes effect on the agency's next request)."""
    actor = web_actor(request)
    context = _manager_context(actor, client_id)
    share = next((s for s in context["shares"] if str(s.id) == share_id), None)
    if share is None:
        raise NotFound
    if request.method == "GET":
        context["share"] = share
        return page(request, "frontend/share_revoke.html", context, actor=actor)
    try:
        services.share_revoke(actor=actor, client_id=client_id, share_id=share_id)
    except InvalidInput as exc:
        context["errors"] = [m for msgs in exc.errors.values() for m in msgs]
        return _render(request, actor, context, status=FORM_ERROR_STATUS)
    messages.success(request, _("%(agency)s との共有を解除しました。") % {"agency": share.agency_name})
    return HttpResponseRedirect(reverse("frontend:share_page", args=[client_id]))
