"""Django admin needs a verified second factor; operators reset a user's second factor there, audited."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.cast import PASSWORD
from tests.mfa import enrol, fresh_code


@pytest.fixture
def oscar(cast, django_user_model):
    return django_user_model.objects.create_superuser("oscar", password=PASSWORD)


def admin_password_step(client):
    response = client.post(reverse("admin:login"), {"username": "oscar", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    return client.get("/admin/")


def test_an_operator_without_a_device_is_sent_to_enrolment(oscar, client):
    response = admin_password_step(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:mfa_enrol"))
    assert "next=/admin/" in response["Location"]
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 302


def test_the_admin_requires_a_verified_device(oscar, client):
    enrol(oscar)
    response = admin_password_step(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:mfa_verify"))
    ok = client.post(reverse("frontend:mfa_verify"), {"code": fresh_code(oscar), "next": "/admin/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    verified = AuditEvent.objects.filter(action="auth.mfa_verify", actor_username="oscar").get()
    assert verified.channel == "admin" and verified.outcome == "allowed"


def test_the_admin_site_itself_refuses_an_unverified_operator(oscar, rf):
    from django.contrib import admin

    request = rf.get("/admin/")
    request.user = oscar
    oscar.is_verified = lambda: False
    assert admin.site.has_permission(request) is False
    oscar.is_verified = lambda: True
    assert admin.site.has_permission(request) is True


def test_an_operator_resets_a_users_second_factor_in_the_admin_audited(oscar, cast, client):
    enrol(oscar)
    enrol(cast.users["ada"])
    admin_password_step(client)
    client.post(reverse("frontend:mfa_verify"), {"code": fresh_code(oscar)})
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_mfa", "_selected_action": [cast.users["ada"].pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=cast.users["ada"]).exists()
    event = AuditEvent.objects.get(action="auth.mfa_reset")
    assert (event.channel, event.actor_username, event.target_id, event.outcome) == (
        "admin",
        "oscar",
        str(cast.users["ada"].pk),
        "allowed",
    )


def test_totp_secrets_are_not_shown_in_the_admin(oscar, cast, client):
    enrol(oscar)
    enrol(cast.users["ada"])
    admin_password_step(client)
    client.post(reverse("frontend:mfa_verify"), {"code": fresh_code(oscar)})
    device = TOTPDevice.objects.get(user=cast.users["ada"])
    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200 and device.key not in page.content.decode()
