"""System check: every ModelAdmin on the default admin site is audited."""

from django.core import checks


@checks.register(checks.Tags.admin, checks.Tags.security)
def admin_is_audited(app_configs=None, **kwargs):
    from django.contrib import admin

    from .admin import AuditedAdminMixin

    return [
        checks.Warning(
            f"{type(model_admin).__name__} ({model._meta.label}) is not audited",
            hint="Mix audit.admin.AuditedAdminMixin into it: operators' admin actions must be audited.",
            obj=type(model_admin),
            id="audit.W001",
        )
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, AuditedAdminMixin)
    ]
