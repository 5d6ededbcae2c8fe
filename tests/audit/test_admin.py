"""Django admin: operators only, and every action and every view of case data is audited (channel admin)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from agencies.models import Staff
from audit import services as audit_services
from audit.admin import AuditedAdminMixin
from audit.checks import admin_is_audited
from audit.models import AuditEvent, AuditExposure
from audit.services import terms_hash
from cases.models import Client, Share, TimelineEntry
from tests.cast import PASSWORD
from tests.mfa import enrol, fresh_code

from .test_coverage import events_after, last_seq


@pytest.fixture
def operator(cast, django_user_model, client):
    oscar = django_user_model.objects.create_superuser("oscar", password=PASSWORD)
    enrol(oscar)
    response = client.post(reverse("admin:login"), {"username": "oscar", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302, response.content[:500]
    # The admin needs the second factor: the code step, with a code from oscar's authenticator.
    response = client.post(reverse("frontend:mfa_verify"), {"code": fresh_code(oscar), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    return client


def only_event(before) -> AuditEvent:
    events = events_after(before)
    assert len(events) == 1, [(e.action, e.target_type) for e in events]
    return events[0]


def test_every_model_admin_is_audited():
    assert admin.site._registry
    unaudited = [m._meta.label for m, a in admin.site._registry.items() if not isinstance(a, AuditedAdminMixin)]
    assert unaudited == []
    assert admin_is_audited() == []


def test_operator_login_is_audited_on_the_admin_channel(operator):
    event = AuditEvent.objects.filter(action="auth.login").latest("seq")
    assert (event.actor_username, event.channel) == ("oscar", "admin")


@pytest.mark.parametrize("model", [Client, Share, TimelineEntry])
def test_case_data_lists_record_the_clients_they_show(operator, cast, model):
    url = reverse(f"admin:cases_{model._meta.model_name}_changelist")
    before = last_seq()
    response = operator.get(url)
    assert response.status_code == 200
    event = only_event(before)
    assert (event.action, event.outcome, event.channel, event.actor_username) == (
        "admin.view",
        "allowed",
        "admin",
        "oscar",
    )
    assert event.target_type == f"cases.{model._meta.model_name}"
    assert event.client_ids == [str(cast.client.id)]
    assert event.details["count"] == model.objects.count()
    assert AuditExposure.objects.filter(event=event, client_id=cast.client.id, exposed=True).exists()


def test_case_data_object_pages_are_views_with_the_client(operator, cast):
    pages = [
        reverse("admin:cases_client_change", args=[cast.client.id]),
        reverse("admin:cases_share_change", args=[cast.shares["reader"].id]),
        reverse("admin:cases_timelineentry_change", args=[cast.entry.id]),
        reverse("admin:cases_client_history", args=[cast.client.id]),
    ]
    for url in pages:
        before = last_seq()
        assert operator.get(url).status_code == 200
        event = only_event(before)
        assert event.action == "admin.view" and event.client_ids == [str(cast.client.id)], url
        assert event.target_id in {str(cast.client.id), str(cast.shares["reader"].id), str(cast.entry.id)}


def test_case_data_search_records_only_a_hash(operator, cast):
    before = last_seq()
    response = operator.get(reverse("admin:cases_client_changelist"), {"q": cast.client.case_number})
    assert response.status_code == 200
    event = only_event(before)
    assert event.details["q_hash"] == terms_hash(cast.client.case_number)
    assert cast.client.case_number not in str(event.details)


def test_case_data_cannot_be_added_changed_or_deleted(operator, cast):
    cid = cast.client.id
    assert operator.get(reverse("admin:cases_client_add")).status_code == 403
    before = last_seq()
    response = operator.post(reverse("admin:cases_client_change", args=[cid]), {"name": "書き換え"})
    assert response.status_code == 403
    event = only_event(before)
    assert (event.action, event.outcome, event.reason) == ("admin.change", "denied", "permission")
    assert operator.post(reverse("admin:cases_client_delete", args=[cid]), {"post": "yes"}).status_code == 403
    assert Client.objects.get(pk=cid).name == "山田 太郎"


def test_case_data_is_not_listed_by_the_autocomplete_endpoint(operator, cast):
    before = last_seq()
    response = operator.get(
        reverse("admin:autocomplete"),
        {"app_label": "cases", "model_name": "share", "field_name": "client", "term": "SJ"},
    )
    assert response.status_code in (403, 404)
    assert str(cast.client.id) not in response.content.decode()
    assert not AuditEvent.objects.filter(seq__gt=before, action="admin.view", outcome="allowed").exists()


def test_operator_changes_are_audited_with_field_names_only(operator, cast):
    staff = Staff.objects.get(user__username="bob")
    url = reverse("admin:agencies_staff_change", args=[staff.pk])
    before = last_seq()
    response = operator.post(
        url, {"role": "supervisor", "display_name": "Bob (主任)", "is_privacy_officer": "", "email_notifications": ""}
    )
    assert response.status_code == 302, response.content[:800]
    changes = [e for e in events_after(before) if e.action == "admin.change"]
    assert len(changes) == 1
    event = changes[0]
    assert (event.target_type, event.target_id, event.channel) == ("agencies.staff", str(staff.pk), "admin")
    assert event.details == {"fields": ["display_name", "role"]}
    assert "主任" not in str(event.details)


def test_operator_add_and_delete_are_audited(operator):
    before = last_seq()
    response = operator.post(reverse("admin:auth_group_add"), {"name": "operators-tmp", "permissions": []})
    assert response.status_code == 302
    group = Group.objects.get(name="operators-tmp")
    added = [e for e in events_after(before) if e.action == "admin.add"]
    assert [(e.target_type, e.target_id) for e in added] == [("auth.group", str(group.pk))]

    before = last_seq()
    assert operator.get(reverse("admin:auth_group_delete", args=[group.pk])).status_code == 200
    assert only_event(before).details == {"confirm": "delete"}
    before = last_seq()
    assert operator.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}).status_code == 302
    deleted = [e for e in events_after(before) if e.action == "admin.delete"]
    assert [(e.target_type, e.target_id) for e in deleted] == [("auth.group", str(group.pk))]
    assert not Group.objects.filter(pk=group.pk).exists()


def test_user_add_and_password_change_are_audited(operator, django_user_model):
    before = last_seq()
    response = operator.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newop",
            "password1": "a-long-password-42",
            "password2": "a-long-password-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:800]
    user = django_user_model.objects.get(username="newop")
    assert [(e.action, e.target_id) for e in events_after(before) if e.action.startswith("admin.")] == [
        ("admin.add", str(user.pk))
    ]
    before = last_seq()
    response = operator.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "another-long-pass-43", "password2": "another-long-pass-43", "set_usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:800]
    event = only_event(before)
    assert (event.action, event.details) == ("admin.change", {"fields": ["password"]})
    assert operator.post(reverse("admin:auth_user_delete", args=[user.pk]), {"post": "yes"}).status_code == 403


def test_audit_log_admin_is_read_only_and_viewing_it_is_audited(operator):
    seq = AuditEvent.objects.order_by("seq").first().seq
    before = last_seq()
    assert operator.get(reverse("admin:audit_auditevent_change", args=[seq])).status_code == 200
    event = only_event(before)
    assert (event.action, event.target_type, event.target_id) == ("admin.view", "audit.auditevent", str(seq))
    assert operator.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert operator.post(reverse("admin:audit_auditevent_delete", args=[seq]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(seq=seq).exists()


def test_an_admin_change_is_not_kept_when_its_audit_event_cannot_be_written(operator, cast, monkeypatch):
    staff = Staff.objects.get(user__username="bob")

    def broken(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(audit_services, "_write", broken)
    operator.raise_request_exception = True
    with pytest.raises(RuntimeError):
        operator.post(
            reverse("admin:agencies_staff_change", args=[staff.pk]),
            {"role": "supervisor", "display_name": "x", "is_privacy_officer": "", "email_notifications": ""},
        )
    staff.refresh_from_db()
    assert staff.role == "caseworker"
