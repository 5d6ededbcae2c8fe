"""緊急アクセス: a caseworker opens a client their agency cannot see, by the exact フリガナ and birth date and a
stated reason (PRODUCT §4.6). ``cases.services.break_glass_open`` grants the time-boxed read access, audits it as
``break_glass`` (flagged for the privacy officer) and writes the system entry on the timeline; this page only asks
and answers. No match is the one "not found" answer, whoever the person is and whether or not they exist."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cases import services
from tsunagu.errors import InvalidInput, NotFound

from .auth import web_login_required
from .forms import BreakGlassForm
from .web import FORM_ERROR_STATUS, page, web_actor

TEMPLATE = "frontend/break_glass.html"


@web_login_required
@require_http_methods(["GET", "POST"])
def break_glass(request: HttpRequest) -> HttpResponse:
    actor = web_actor(request)
    hours = settings.BREAK_GLASS_HOURS
    if request.method == "GET":
        return page(request, TEMPLATE, {"form": BreakGlassForm(), "hours": hours}, actor=actor)
    form = BreakGlassForm(request.POST)
    status = FORM_ERROR_STATUS
    if form.is_valid():
        data = form.cleaned_data
        try:
            opened = services.break_glass_open(
                actor=actor, name_kana=data["name_kana"], birth_date=data["birth_date"], reason=data["reason"]
            )
        except NotFound:
            # Not the not-found page: "no match" is this form's answer, so the search can be corrected (still
            # 404, and the same for everyone). A refusal (Forbidden) goes on to the 403 page.
            form.add_error(None, _("該当する支援対象者が見つかりません。フリガナと生年月日を確認してください。"))
            status = 404
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            done = _("緊急アクセスを記録しました。%(hours)s 時間、閲覧できます。") % {"hours": hours}
            if len(opened) == 1:
                messages.warning(request, done)
                return HttpResponseRedirect(reverse("frontend:client_detail", args=[opened[0].id]))
            # Several people share the フリガナ and birth date: each was opened (and audited); let them choose.
            context = {"opened": opened, "hours": hours, "done": done}
            return page(request, "frontend/break_glass_choose.html", context, actor=actor)
    return page(request, TEMPLATE, {"form": form, "hours": hours}, actor=actor, status=status)
