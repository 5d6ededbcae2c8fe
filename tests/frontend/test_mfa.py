"""Two-factor sign-in: who needs it, enrolment, codes, recovery codes, throttling, the gate on every page."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.actors import Actor
from agencies.services import apikey_issue
from audit.models import AuditEvent
from tests.cast import PASSWORD
from tests.frontend.conftest import text
from tests.mfa import current_code, enrol, fresh_code, secret_for

VERIFY = reverse("frontend:mfa_verify")
ENROL = reverse("frontend:mfa_enrol")


def password_step(username: str, next_url: str = "") -> tuple[Client, object]:
    client = Client()
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client, client.post(reverse("frontend:login"), data)


def events(action: str, username: str):
    return AuditEvent.objects.filter(action=action, actor_username=username).order_by("seq")


@pytest.fixture(autouse=True)
def _no_code_throttle(settings):
    # Each wrong code otherwise makes the next attempt wait a second (2^n): tests of the throttle turn it back on.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


# --- who needs a second factor ------------------------------------------------------------------------------


def test_a_caseworker_signs_in_with_a_password_only(cast):
    client, response = password_step("alice")
    assert response.status_code == 302 and response["Location"] == reverse("frontend:home")
    assert client.get(reverse("frontend:client_list")).status_code == 200


@pytest.mark.parametrize("username", ["penny", "ada"])
def test_officers_and_administrators_without_a_device_are_sent_to_enrolment(cast, username):
    client, response = password_step(username)
    assert response.status_code == 302 and response["Location"].startswith(ENROL)
    # Every page sends them back there until they have enrolled.
    page = client.get(reverse("frontend:client_list"))
    assert page.status_code == 302 and page["Location"].startswith(ENROL)


def test_the_all_staff_setting_extends_the_requirement_to_caseworkers(cast, settings):
    settings.MFA_REQUIRED_FOR_ALL_STAFF = True
    client, response = password_step("alice")
    assert response.status_code == 302 and response["Location"].startswith(ENROL)
    assert client.get(reverse("frontend:inbox"))["Location"].startswith(ENROL)


def test_the_all_staff_setting_is_read_from_the_environment(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from tsunagu.env import env_bool

    monkeypatch.setenv("MFA_REQUIRED_FOR_ALL_STAFF", "ture")
    with pytest.raises(ImproperlyConfigured):
        env_bool("MFA_REQUIRED_FOR_ALL_STAFF", False)
    from django.conf import settings

    assert settings.MFA_REQUIRED_FOR_ALL_STAFF is False  # the default


def test_a_promotion_takes_effect_on_the_next_request(cast):
    from agencies.models import Staff

    client, _ = password_step("alice")
    assert client.get(reverse("frontend:client_list")).status_code == 200
    Staff.objects.filter(user__username="alice").update(role="agency_admin")
    assert client.get(reverse("frontend:client_list"))["Location"].startswith(ENROL)


# --- enrolment ----------------------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_then_issues_recovery_codes_once(cast):
    client, _ = password_step("penny", next_url=reverse("frontend:privacy_dashboard"))
    page = client.get(ENROL + "?next=" + reverse("frontend:privacy_dashboard"))
    body = text(page)
    assert page.status_code == 200
    assert "<svg" in body and "<?xml" not in body and "style=" not in body.split("<svg", 1)[1].split("</svg>")[0]
    device = TOTPDevice.objects.get(user=cast.users["penny"], confirmed=False)
    import base64

    secret = base64.b32encode(device.bin_key).decode()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in body  # for typing it into an app by hand
    # The same device (and secret) on a reload, not a new one each time.
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=cast.users["penny"]).count() == 1

    wrong = client.post(ENROL, {"code": "000000" if current_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 400 and "確認コードが正しくありません" in text(wrong)
    assert events("auth.mfa_failed", "penny").get().outcome == "denied"
    assert client.get(reverse("frontend:client_list"))["Location"].startswith(ENROL)

    done = client.post(ENROL, {"code": current_code(secret), "next": reverse("frontend:privacy_dashboard")})
    assert done.status_code == 200
    codes = re.findall(r'<li class="recovery-code"><code>([a-z0-9]+)</code></li>', text(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert reverse("frontend:privacy_dashboard") in text(done)
    enrolled = events("auth.mfa_enrol", "penny").get()
    assert (
        enrolled.outcome == "allowed"
        and enrolled.channel == "web"
        and enrolled.target_id == str(cast.users["penny"].pk)
    )
    assert not any(code in str(enrolled.details) for code in codes) and secret not in str(enrolled.details)
    # Signed in with the second factor now.
    assert client.get(reverse("frontend:privacy_dashboard")).status_code == 200
    # Enrolling again is not possible while a device exists (an operator resets it).
    assert client.get(ENROL).status_code == 302


# --- the code step ------------------------------------------------------------------------------------------


def test_the_code_step_accepts_the_current_code_and_is_audited(cast):
    enrol(cast.users["ada"])
    client, response = password_step("ada", next_url=reverse("frontend:agency_admin"))
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    page = client.get(response["Location"])
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in text(page)
    ok = client.post(VERIFY, {"code": fresh_code(cast.users["ada"]), "next": reverse("frontend:agency_admin")})
    assert ok.status_code == 302 and ok["Location"] == reverse("frontend:agency_admin")
    assert client.get(reverse("frontend:agency_admin")).status_code == 200
    event = events("auth.mfa_verify", "ada").get()
    assert (event.outcome, event.channel, event.details["method"]) == ("allowed", "web", "totp")


def test_a_wrong_code_is_refused_and_audited(cast):
    enrol(cast.users["ada"])
    client, _ = password_step("ada")
    wrong = "123456" if current_code(secret_for("ada")) != "123456" else "654321"
    response = client.post(VERIFY, {"code": wrong})
    assert response.status_code == 400 and "確認コードが正しくありません" in text(response)
    failed = events("auth.mfa_failed", "ada").get()
    assert failed.outcome == "denied" and failed.reason == "bad_code" and wrong not in str(failed.details)
    assert client.get(reverse("frontend:agency_admin"))["Location"].startswith(VERIFY)


def test_a_used_code_cannot_be_replayed(cast):
    enrol(cast.users["ada"])
    code = fresh_code(cast.users["ada"])
    first, _ = password_step("ada")
    assert first.post(VERIFY, {"code": code}).status_code == 302
    second, _ = password_step("ada")
    assert second.post(VERIFY, {"code": code}).status_code == 400


def test_wrong_codes_are_throttled(cast, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    enrol(cast.users["ada"])
    client, _ = password_step("ada")
    wrong = "123456" if current_code(secret_for("ada")) != "123456" else "654321"
    assert client.post(VERIFY, {"code": wrong}).status_code == 400
    assert client.post(VERIFY, {"code": wrong}).status_code in (400, 429)
    # While throttled even the right code is refused, unchecked, with a clear message and Retry-After.
    refused = client.post(VERIFY, {"code": fresh_code(cast.users["ada"])})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "確認コードの入力に続けて失敗しました" in text(refused)
    throttled = events("auth.mfa_verify", "ada").filter(outcome="denied")
    assert throttled.exists() and throttled.last().reason == "throttled"
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        assert client.post(VERIFY, {"code": fresh_code(cast.users["ada"])}).status_code == 302


# --- recovery codes -----------------------------------------------------------------------------------------


def _enrol_through_the_page(client, user) -> list[str]:
    import base64

    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(ENROL, {"code": current_code(base64.b32encode(device.bin_key).decode())})
    return re.findall(r'<li class="recovery-code"><code>([a-z0-9]+)</code></li>', text(done))


def test_a_recovery_code_works_once_only(cast):
    client, _ = password_step("penny")
    codes = _enrol_through_the_page(client, cast.users["penny"])
    client.post(reverse("frontend:logout"))

    again, _ = password_step("penny")
    ok = again.post(VERIFY, {"code": codes[0].upper()})  # as typed from paper: case does not matter
    assert ok.status_code == 302
    used = events("auth.mfa_recovery_used", "penny").get()
    assert used.outcome == "allowed" and used.details["remaining"] == 9 and codes[0] not in str(used.details)
    assert again.get(reverse("frontend:privacy_dashboard")).status_code == 200
    again.post(reverse("frontend:logout"))

    third, _ = password_step("penny")
    refused = third.post(VERIFY, {"code": codes[0]})
    assert refused.status_code == 400
    assert events("auth.mfa_failed", "penny").last().details["method"] == "recovery"
    assert third.post(VERIFY, {"code": codes[1]}).status_code == 302


# --- nothing is reachable with an unverified session --------------------------------------------------------


def _frontend_paths(cast) -> list[str]:
    ids = {
        "client_id": str(cast.client.id),
        "share_id": str(cast.shares["reader"].id),
        "key_id": "00000000-0000-0000-0000-000000000000",
        "username": "alice",
        "flag_id": "1",
        "export_id": "1",
        "filter_id": "00000000-0000-0000-0000-000000000000",
        "assignment_id": "00000000-0000-0000-0000-000000000000",
        "meeting_id": "00000000-0000-0000-0000-000000000000",
        "task_id": "00000000-0000-0000-0000-000000000000",
        "inquiry_id": "00000000-0000-0000-0000-000000000000",
        "attachment_id": "00000000-0000-0000-0000-000000000000",
        "run_id": "00000000-0000-0000-0000-000000000000",
    }
    paths = []
    for pattern in get_resolver("frontend.urls").url_patterns:
        assert isinstance(pattern, URLPattern), pattern
        if pattern.name in {"login", "logout", "mfa_verify", "mfa_enrol"}:
            continue
        kwargs = {name: ids[name] for name in pattern.pattern.converters}
        paths.append(reverse(f"frontend:{pattern.name}", kwargs=kwargs))
    return paths


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unverified_session_reaches_no_page(cast, method):
    enrol(cast.users["penny"])
    client, _ = password_step("penny")
    before = AuditEvent.objects.exclude(action__startswith="auth.").count()
    paths = _frontend_paths(cast)
    assert len(paths) > 20
    for path in paths:
        response = getattr(client, method)(path)
        assert response.status_code == 302 and response["Location"].startswith(VERIFY), path
    fragment = client.get(reverse("frontend:inbox"), HTTP_HX_REQUEST="true")
    assert fragment["HX-Redirect"].startswith(VERIFY)
    # Nothing was read or written on the way.
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == before


def test_an_unverified_session_is_refused_by_the_api(cast):
    enrol(cast.users["penny"])
    client, _ = password_step("penny")
    for path in ("/api/v1/me/", "/api/v1/audit/events/", f"/api/v1/clients/{cast.client.id}/"):
        response = client.get(path)
        assert response.status_code == 401 and response["Content-Type"] == "application/problem+json", path
        assert "二要素認証" in response.json()["detail"]
    # Another scheme would fall through to the session: refused the same way. A bearer key is the key's call.
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Basic cGVubnk6eA==").status_code == 401
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer tsg_nope_nope").status_code == 401
    client.post(VERIFY, {"code": fresh_code(cast.users["penny"])})
    assert client.get("/api/v1/me/").status_code == 200


def test_api_keys_need_no_second_factor(cast):
    penny = cast.users["penny"]  # an officer's key is issued by the officer herself
    _key, secret = apikey_issue(actor=Actor.for_user(penny, channel="web"), user=penny, name="監査連携")
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200 and response.json()["username"] == "penny"


def test_the_code_step_only_redirects_to_this_site(cast):
    enrol(cast.users["ada"])
    client, _ = password_step("ada")
    response = client.post(VERIFY, {"code": fresh_code(cast.users["ada"]), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("frontend:home")


def test_the_code_step_without_a_session_goes_to_the_login_page(db):
    assert Client().get(VERIFY)["Location"].startswith(reverse("frontend:login"))
    assert Client().post(ENROL, {"code": "123456"})["Location"].startswith(reverse("frontend:login"))


def test_the_code_pages_speak_english_too(cast):
    enrol(cast.users["ada"])
    client, _ = password_step("ada")
    client.cookies["django_language"] = "en"
    assert "Verification code" in text(client.get(VERIFY))


# --- operator reset -----------------------------------------------------------------------------------------


def test_the_reset_command_removes_the_devices_and_is_audited(cast):
    client, _ = password_step("penny")
    _enrol_through_the_page(client, cast.users["penny"])
    assert client.get(reverse("frontend:privacy_dashboard")).status_code == 200
    call_command("reset_mfa", "penny")
    assert not TOTPDevice.objects.filter(user=cast.users["penny"]).exists()
    assert not StaticDevice.objects.filter(user=cast.users["penny"]).exists()
    event = AuditEvent.objects.get(action="auth.mfa_reset")
    assert (event.channel, event.actor_username, event.target_id) == ("cli", "system", str(cast.users["penny"].pk))
    # The session verified by the removed device is verified no more: enrol again.
    assert client.get(reverse("frontend:privacy_dashboard"))["Location"].startswith(ENROL)


def test_the_reset_command_rejects_an_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        call_command("reset_mfa", "nobody")
    assert not AuditEvent.objects.filter(action="auth.mfa_reset").exists()


def test_the_paths_helper_covers_every_frontend_url(cast):
    patterns = get_resolver("frontend.urls").url_patterns
    assert not any(isinstance(p, URLResolver) for p in patterns)
