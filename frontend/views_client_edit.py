"""基本情報を編集 and 状態を変更: plain form pages (no script needed) for those whose agency manages the client.

The buttons and the forms are offered by the read model's flag (``ClientView.can_edit``, the rule the services
enforce). A POST goes straight to the service, which checks access and writes the audit event (or the audited
refusal: not found for a hidden client, forbidden below ``manage``); bad input comes back as field errors and
changes nothing.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cases import selectors, services
from cases.models import ClientStatus
from tsunagu.errors import InvalidInput

from .auth import web_login_required
from .forms import ClientEditForm, StatusChangeForm
from .web import FORM_ERROR_STATUS, error_page, page, web_actor


def _form_page(
    request: HttpRequest, actor, client_id: str, template: str, form=None, *, blank=None, status: int = 200
) -> HttpResponse:
    """The form page with the client's head (an audited read): ``form`` (posted, with its errors) or
    ``blank(client)``. A viewer who may not edit the client gets the 403 page."""
    client = selectors.client_get(actor=actor, client_id=client_id)
    if not client.can_edit:
        message = _("基本情報の編集と状態の変更は、この支援対象者を管理する機関（管理権限）の職員のみが行えます。")
        return error_page(request, status=403, actor=actor, message=message)
    if form is None:
        form = blank(client)
    elif isinstance(form, StatusChangeForm):
        form.offer_other_than(client.status)  # the posted form, shown again: as the blank one offered it
    return page(request, template, {"client": client, "form": form, "head_back": True}, actor=actor, status=status)


def _back_to_client(client_id: str, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("frontend:client_detail", args=[client_id]) + anchor)


@web_login_required
@require_http_methods(["GET", "POST"])
def client_edit(request: HttpRequest, client_id: str) -> HttpResponse:
    actor = web_actor(request)
    template = "frontend/client_edit.html"
    if request.method == "GET":
        return _form_page(request, actor, client_id, template, blank=lambda client: ClientEditForm(client=client))
    # The form left the address out (a confidential address of another agency's): keep it out of the changes.
    form = ClientEditForm(request.POST, address_masked="address" not in request.POST)
    if form.is_valid():
        try:
            services.client_update(actor=actor, client_id=client_id, changes=form.changes())
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("基本情報を保存しました。"))
            return _back_to_client(client_id)
    return _form_page(request, actor, client_id, template, form, status=FORM_ERROR_STATUS)


@web_login_required
@require_http_methods(["GET", "POST"])
def client_status(request: HttpRequest, client_id: str) -> HttpResponse:
    actor = web_actor(request)
    template = "frontend/client_status.html"
    if request.method == "GET":
        return _form_page(
            request, actor, client_id, template, blank=lambda client: StatusChangeForm(current=client.status)
        )
    form = StatusChangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.client_status_change(
                actor=actor, client_id=client_id, status=data["status"], reason=data["reason"]
            )
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("状態を「%(status)s」に変更しました。理由は支援記録に残りました。")
                % {"status": ClientStatus(data["status"]).label},
            )
            return _back_to_client(client_id, "#timeline")
    return _form_page(request, actor, client_id, template, form, status=FORM_ERROR_STATUS)
