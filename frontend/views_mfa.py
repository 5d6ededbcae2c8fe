"""The second-factor pages: the code step after the password, and enrolment (QR code, the secret for manual
entry, the first code, then the recovery codes, shown once)."""

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from agencies import mfa
from agencies.actors import Actor
from agencies.signals import LOGIN_CHANNEL_KEY
from tsunagu.errors import InvalidInput
from tsunagu.middleware import client_ip

from .mfa import needs_second_factor, safe_next, step_url
from .web import FORM_ERROR_STATUS

_BAD_CODE = _("確認コードが正しくありません。もう一度入力してください。")


class CodeForm(forms.Form):
    code = forms.CharField(label=_("確認コード"), max_length=32, strip=True)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(
        request.user,
        channel=request.session.get(LOGIN_CHANNEL_KEY, "web"),
        request_id=getattr(request, "request_id", None),
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


def _signed_in(request: HttpRequest, device) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the now fully signed-in session


def _throttled(request: HttpRequest, template: str, context: dict, exc: mfa.MfaThrottled) -> HttpResponse:
    response = render(request, template, {**context, "throttled": exc}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _qr_svg(data: str) -> str:
    """The QR code as inline SVG markup (a path, no inline style: the page's CSP allows none)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg") :]


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not needs_second_factor(request.user):
        return HttpResponseRedirect(next_url)
    if mfa.mfa_device(request.user) is None:
        return HttpResponseRedirect(step_url(request, next_url))
    form = CodeForm(request.POST or None)
    context = {"form": form, "next": next_url}
    if request.method == "POST" and form.is_valid():
        try:
            device = mfa.mfa_verify(actor=_actor(request), user=request.user, code=form.cleaned_data["code"])
        except mfa.MfaThrottled as exc:
            return _throttled(request, "frontend/mfa_verify.html", context, exc)
        except InvalidInput as exc:
            form.add_error("code", _BAD_CODE if "code" in exc.errors else exc.message)
        else:
            _signed_in(request, device)
            return HttpResponseRedirect(next_url)
    status = FORM_ERROR_STATUS if request.method == "POST" else 200
    return render(request, "frontend/mfa_verify.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not needs_second_factor(request.user):
        return HttpResponseRedirect(next_url)
    enrolment = mfa.mfa_enrolment_begin(user=request.user)
    if enrolment is None:  # enrolled already: give the code instead (an operator resets a lost device)
        return HttpResponseRedirect(step_url(request, next_url))
    form = CodeForm(request.POST or None)
    secret = enrolment.secret
    context = {
        "form": form,
        "next": next_url,
        "qr_svg": _qr_svg(enrolment.config_url),
        "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = mfa.mfa_enrolment_confirm(
                actor=_actor(request), user=request.user, code=form.cleaned_data["code"]
            )
        except mfa.MfaThrottled as exc:
            return _throttled(request, "frontend/mfa_enrol.html", context, exc)
        except InvalidInput as exc:
            form.add_error(
                "code", exc.errors["code"][0] if mfa.BAD_CODE not in exc.errors.get("code", []) else _BAD_CODE
            )
        else:
            _signed_in(request, device)
            return render(request, "frontend/mfa_recovery_codes.html", {"codes": codes, "next": next_url})
    status = FORM_ERROR_STATUS if request.method == "POST" else 200
    return render(request, "frontend/mfa_enrol.html", context, status=status)
