"""Django admin, audited: every operator action and every view of case data is an ``admin.*`` event.

Every ModelAdmin on the site must mix in ``AuditedAdminMixin`` (a system check warns otherwise, and a test
fails). It records, with channel ``admin``:

* ``admin.view``: a change list (with the client ids on the page), an object page, its history, a delete
  confirmation; the search terms of a change list only as a hash;
* ``admin.add`` / ``admin.change`` (with the names of the changed fields, never their values) / ``admin.delete``
  (one event per object), in the admin's own transaction, so a change is not kept if its event cannot be written;
* a refusal (``PermissionDenied``) as ``admin.view`` denied.

Case-data admins set ``audit_case_data`` and ``audit_client_ids`` so that the client ids they expose are
recorded; they are not reachable through the admin's autocomplete endpoint.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse

from tsunagu.middleware import client_ip

from .actions import AuditAction
from .models import AuditEvent, AuditPurge, AuditSeal, AuditVerification
from .services import audit_denied, audit_record, terms_hash

# Change-list parameters that are not filters (paging, ordering, search, popups).
_LIST_PARAMS = {"q", "p", "o", "all", "_popup", "_to_field", "_changelist_filters", "e"}

# The mixins come before ``admin.ModelAdmin`` in an admin's bases; for the type checker they are ModelAdmins.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


@dataclass(frozen=True)
class AdminActor:
    """The operator, as the audit log records them (the audit.services.AuditActor protocol)."""

    user_id: int | None
    username: str
    agency_code: str = ""
    channel: str = "admin"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None
    user_agent: str = ""
    api_key_id: str = ""
    at: datetime | None = None  # always the server's clock


def admin_actor(request: HttpRequest) -> AdminActor:
    user = request.user
    # Operators usually belong to no agency; record it when they do (staff → agency, looked up by attribute so
    # that this lowest layer imports no domain app).
    agency = getattr(getattr(user, "staff", None), "agency", None)
    return AdminActor(
        user_id=user.pk,
        username=user.get_username(),
        agency_code=getattr(agency, "code", "") or "",
        request_id=getattr(request, "request_id", None) or uuid.uuid4().hex,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:256],
    )


class AuditedAdminMixin(_ModelAdmin):
    """Mix into every ModelAdmin (before ``admin.ModelAdmin``)."""

    audit_case_data = False  # True for admins of case data (clients, shares, timeline)

    def audit_client_ids(self, objects: list[Model]) -> list[object]:
        """The client ids that showing or changing ``objects`` exposes (case-data admins override)."""
        return []

    @property
    def audit_target_type(self) -> str:
        return f"{self.opts.app_label}.{self.opts.model_name}"[:32]

    def audit(
        self,
        request: HttpRequest,
        action: str,
        *,
        objects: Iterable[Model] = (),
        target_id: object = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        audit_record(
            actor=admin_actor(request),
            action=action,
            client_ids=self.audit_client_ids(list(objects)),
            target_type=self.audit_target_type,
            target_id=str(target_id or "")[:64],
            details=details or {},
        )

    def audit_refusal(self, request: HttpRequest, target_id: object = "") -> None:
        audit_denied(
            actor=admin_actor(request),
            action=AuditAction.ADMIN_VIEW if request.method in ("GET", "HEAD") else AuditAction.ADMIN_CHANGE,
            reason="permission",
            target_type=self.audit_target_type,
            target_id=str(target_id or "")[:64],
        )

    # --- views --------------------------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            with transaction.atomic():
                response = super().changelist_view(request, extra_context)
                context = getattr(response, "context_data", None) or {}
                if "cl" in context:
                    cl = context["cl"]
                    objects = list(cl.result_list)
                    details: dict[str, Any] = {"count": len(objects), "page": cl.page_num}
                    query = request.GET.get("q", "")
                    if query:
                        details["q_hash"] = terms_hash(query)
                    filters = sorted(k for k in request.GET if k not in _LIST_PARAMS)
                    if filters:
                        details["filters"] = filters
                    self.audit(request, AuditAction.ADMIN_VIEW, objects=objects, details=details)
                elif "queryset" in context:  # an action's confirmation page, e.g. "delete selected"
                    objects = list(context["queryset"])
                    self.audit(
                        request,
                        AuditAction.ADMIN_VIEW,
                        objects=objects,
                        details={"confirm": "action", "ids": [str(o.pk) for o in objects][:100]},
                    )
                return response
        except PermissionDenied:
            self.audit_refusal(request)
            raise

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            with transaction.atomic():
                response = super().change_view(request, object_id, form_url, extra_context)
                original = (getattr(response, "context_data", None) or {}).get("original")
                if original is not None:
                    self.audit(request, AuditAction.ADMIN_VIEW, objects=[original], target_id=original.pk)
                return response
        except PermissionDenied:
            self.audit_refusal(request, object_id)
            raise

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except PermissionDenied:
            self.audit_refusal(request)
            raise

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            with transaction.atomic():
                response = super().history_view(request, object_id, extra_context)
                obj = (getattr(response, "context_data", None) or {}).get("object")
                if obj is not None:
                    self.audit(
                        request, AuditAction.ADMIN_VIEW, objects=[obj], target_id=obj.pk, details={"page": "history"}
                    )
                return response
        except PermissionDenied:
            self.audit_refusal(request, object_id)
            raise

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            with transaction.atomic():
                response = super().delete_view(request, object_id, extra_context)
                obj = (getattr(response, "context_data", None) or {}).get("object")
                if obj is not None:  # the confirmation page (a POST that deletes redirects instead)
                    self.audit(
                        request, AuditAction.ADMIN_VIEW, objects=[obj], target_id=obj.pk, details={"confirm": "delete"}
                    )
                return response
        except PermissionDenied:
            self.audit_refusal(request, object_id)
            raise

    # --- writes (inside the admin's transaction) ----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm[Any], change: bool) -> None:
        super().save_model(request, obj, form, change)
        self.audit(
            request,
            AuditAction.ADMIN_CHANGE if change else AuditAction.ADMIN_ADD,
            objects=[obj],
            target_id=obj.pk,
            details={"fields": sorted(form.changed_data)},
        )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        pk, exposed = obj.pk, [obj]
        with transaction.atomic():
            self.audit(request, AuditAction.ADMIN_DELETE, objects=exposed, target_id=pk)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        objects = list(queryset)
        with transaction.atomic():
            for obj in objects:
                self.audit(request, AuditAction.ADMIN_DELETE, objects=[obj], target_id=obj.pk)
            super().delete_queryset(request, queryset)

    def get_search_fields(self, request: HttpRequest) -> list[str] | tuple[str, ...]:
        match = getattr(request, "resolver_match", None)
        if self.audit_case_data and match is not None and match.url_name == "autocomplete":
            return ()  # the autocomplete endpoint then answers 404: case data is not listed there
        return super().get_search_fields(request)


class ReadOnlyAdminMixin(_ModelAdmin):
    """View only: no add, change or delete, no bulk actions."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AuditEvent]):
    list_display = ("seq", "occurred_at", "actor_username", "actor_agency_code", "channel", "action", "outcome")
    list_filter = ("channel", "outcome")
    search_fields = ("=actor_username", "=action", "=target_id")
    show_full_result_count = False


@admin.register(AuditSeal)
class AuditSealAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AuditSeal]):
    list_display = ("id", "first_seq", "last_seq", "count", "seal_hash", "created_at")
    exclude = ("digests",)


@admin.register(AuditVerification)
class AuditVerificationAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AuditVerification]):
    list_display = ("id", "ran_at", "ok", "kind", "first_bad_seq", "latest_seal_id")


@admin.register(AuditPurge)
class AuditPurgeAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AuditPurge]):
    list_display = ("id", "purged_at", "up_to_seal", "events_deleted", "cutoff", "retention_days")


def audit_every_model_admin(site: admin.AdminSite | None = None) -> list[str]:
    """Re-register every ModelAdmin that does not mix in ``AuditedAdminMixin`` (third-party apps' admins) as an
    audited subclass. Called once all admin modules are loaded (``AuditConfig.ready``); returns the labels."""
    site = site or admin.site
    wrapped = []
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, AuditedAdminMixin):
            continue
        cls = type(model_admin)
        audited = type(cls.__name__, (AuditedAdminMixin, cls), {"__module__": cls.__module__})
        site.unregister(model)
        site.register(model, audited)
        wrapped.append(model._meta.label)
    return wrapped
