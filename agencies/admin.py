"""Admin for agencies, staff, API keys and Django's users and groups: operators only, every action audited.

Agencies and staff are created by the provisioning commands (``add_agency``, ``add_staff``), which also set up
permission groups; here an operator may correct names, kinds and roles. API keys are view-only (issue and revoke
them with the services). Users are deactivated, never deleted: timeline entries and shares refer to them.
"""

from django.contrib import admin, auth
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction

from audit.actions import AuditAction
from audit.admin import AuditedAdminMixin, ReadOnlyAdminMixin, admin_actor

from .mfa import mfa_reset
from .models import Agency, ApiKey, Staff


@admin.register(Agency)
class AgencyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    fields = ("code", "name", "kind", "group", "created_at")
    readonly_fields = ("code", "group", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # add_agency creates the permission group with the agency

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Staff)
class StaffAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "display_name", "agency", "role", "is_privacy_officer")
    list_filter = ("agency", "role", "is_privacy_officer")
    search_fields = ("user__username", "display_name")
    fields = ("user", "agency", "role", "display_name", "is_privacy_officer", "email_notifications", "created_at")
    readonly_fields = ("user", "agency", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # add_staff sets the agency group membership too

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    exclude = ("secret_hash",)


User = auth.get_user_model()
for _model in (User, Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    actions = ["reset_mfa"]

    @admin.action(description="二要素認証をリセット（次回ログイン時に再登録）", permissions=["change"])
    def reset_mfa(self, request, queryset):
        """Lost phone, used-up recovery codes: each reset is an ``auth.mfa_reset`` event (channel admin)."""
        users = list(queryset)
        for user in users:
            mfa_reset(actor=admin_actor(request), user=user)
        self.message_user(request, f"{len(users)} 人の二要素認証をリセットしました。")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead: entries, shares and the audit log refer to the user

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                self.audit(request, AuditAction.ADMIN_CHANGE, target_id=id, details={"fields": ["password"]})
            return response


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass
