"""Read-only admin of case data for operators: no add, change or delete; every view audited ``admin.view``
with the ids of the clients it showed. Clients are found by case number only."""

from django.contrib import admin

from audit.admin import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import Client, Share, TimelineEntry


class CaseDataAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_case_data = True
    show_full_result_count = False

    def audit_client_ids(self, objects) -> list:
        return list(dict.fromkeys(str(obj.client_id) for obj in objects))


@admin.register(Client)
class ClientAdmin(CaseDataAdmin):
    list_display = ("case_number", "owner_agency", "status", "created_at")
    list_filter = ("status", "owner_agency")
    search_fields = ("=case_number",)
    exclude = ("search_key", "tag_key")

    def audit_client_ids(self, objects) -> list:
        return [str(obj.pk) for obj in objects]


@admin.register(Share)
class ShareAdmin(CaseDataAdmin):
    list_display = ("client", "agency", "level", "basis", "granted_at", "expires_at", "revoked_at")
    list_filter = ("level", "basis", "agency")
    list_select_related = ("client", "agency")


@admin.register(TimelineEntry)
class TimelineEntryAdmin(CaseDataAdmin):
    list_display = ("client", "kind", "occurred_at", "agency", "recorded_at")
    list_filter = ("kind", "agency")
    list_select_related = ("client", "agency")
