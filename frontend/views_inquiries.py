"""照会 (inquiries) in the browser: the 受信照会 / 送信照会 boxes, one inquiry with its thread, asking from the client
page, replying and closing. Thin adapters over ``cases.inquiry_selectors`` and ``cases.services`` (which check
access, write the audit event and refuse as not found what the agency may not see)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import inquiry_selectors, notifications, selectors, services
from cases.inquiry_selectors import Box, InquirySort
from cases.models import InquiryStatus
from tsunagu.errors import InvalidInput

from .auth import web_login_required
from .forms import InquiryForm, InquiryReplyForm
from .web import FORM_ERROR_STATUS, error_page, page, web_actor

BOX_PAGE_SIZE = 30


@web_login_required
@require_GET
def inquiry_boxes(request: HttpRequest) -> HttpResponse:
    """受信照会 (the default) and 送信照会: open ones first, then the oldest due date first."""
    actor = web_actor(request)
    box = request.GET.get("box") or Box.RECEIVED
    status = request.GET.get("status", "")
    errors: dict = {}
    found = None
    try:
        found = inquiry_selectors.inquiry_list(
            actor=actor,
            box=box,
            status=status,
            sort=InquirySort.DUE,
            cursor=request.GET.get("cursor") or None,
            limit=BOX_PAGE_SIZE,
        )
    except InvalidInput as exc:
        errors = exc.errors
    context = {
        "box": box if box in Box.values else Box.RECEIVED,
        "status": status,
        "inquiries": found,
        "errors": errors,
        "status_choices": InquiryStatus.choices,
    }
    return page(request, "frontend/inquiries.html", context, actor=actor, status=FORM_ERROR_STATUS if errors else 200)


def _detail_page(request, actor, inquiry_id: str, *, form=None, status: int = 200) -> HttpResponse:
    inquiry = inquiry_selectors.inquiry_detail(actor=actor, inquiry_id=inquiry_id)
    notifications.notification_mark_read(actor=actor, inquiry_id=inquiry.id)  # opened: its notices are read
    context = {"inquiry": inquiry, "form": form if form is not None else InquiryReplyForm()}
    return page(request, "frontend/inquiry_detail.html", context, actor=actor, status=status)


@web_login_required
@require_GET
def inquiry_detail(request: HttpRequest, inquiry_id: str) -> HttpResponse:
    return _detail_page(request, web_actor(request), inquiry_id)


@web_login_required
@require_POST
def inquiry_reply(request: HttpRequest, inquiry_id: str) -> HttpResponse:
    actor = web_actor(request)
    form = InquiryReplyForm(request.POST)
    if form.is_valid():
        try:
            services.inquiry_reply(actor=actor, inquiry_id=inquiry_id, body=form.cleaned_data["body"])
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("回答を送信しました。相手の機関にお知らせが届きます。"))
            return HttpResponseRedirect(reverse("frontend:inquiry_detail", args=[inquiry_id]) + "#thread")
    return _detail_page(request, actor, inquiry_id, form=form, status=FORM_ERROR_STATUS)


@web_login_required
@require_POST
def inquiry_close(request: HttpRequest, inquiry_id: str) -> HttpResponse:
    actor = web_actor(request)
    try:
        services.inquiry_close(actor=actor, inquiry_id=inquiry_id)
    except InvalidInput as exc:
        for msgs in exc.errors.values():
            for message in msgs:
                messages.error(request, message)
    else:
        messages.success(request, _("照会を終了しました。"))
    return HttpResponseRedirect(reverse("frontend:inquiry_detail", args=[inquiry_id]))


def _addressee_choices(actor, shares) -> list[tuple[str, str]]:
    """The other agencies that share the client now: whom an inquiry may be addressed to."""
    own = actor.agency.code if actor.agency is not None else ""
    return sorted({(s.agency_code, s.agency_name) for s in shares if s.is_active and s.agency_code != own})


@web_login_required
@require_http_methods(["GET", "POST"])
def inquiry_create(request: HttpRequest, client_id: str) -> HttpResponse:
    """照会する, from the client page: for an agency with ``append`` and a staff role (``client.can_append``)."""
    actor = web_actor(request)
    read = selectors.client_page(actor=actor, client_id=client_id, timeline=None)
    if not read.client.can_append:
        message = _("照会は、この支援対象者を「閲覧・追記」以上で共有している機関の職員のみが行えます。")
        return error_page(request, status=403, actor=actor, message=message)
    agencies = _addressee_choices(actor, read.shares)
    status = 200
    if request.method == "POST":
        form = InquiryForm(request.POST, agencies=agencies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                inquiry = services.inquiry_create(
                    actor=actor,
                    client_id=client_id,
                    to=data["to"],
                    subject=data["subject"],
                    body=data["body"],
                    due_on=data["due_on"],
                )
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("照会を送信しました。宛先の機関にお知らせが届きます。"))
                return HttpResponseRedirect(reverse("frontend:inquiry_detail", args=[inquiry.id]))
        status = FORM_ERROR_STATUS
    else:
        form = InquiryForm(agencies=agencies)
    context = {"client": read.client, "form": form, "agencies": agencies, "head_back": True}
    return page(request, "frontend/inquiry_form.html", context, actor=actor, status=status)
