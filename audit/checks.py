"""System checks: every ModelAdmin on the default admin site is audited; the audit HMAC keys are real."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks


@checks.register(checks.Tags.admin, checks.Tags.security)
def admin_is_audited(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
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


@checks.register(checks.Tags.security)
def audit_hmac_keys(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The keys that hash search terms in the audit log: a real one in production, never the SECRET_KEY."""
    from django.conf import settings

    keys = getattr(settings, "AUDIT_HMAC_KEYS", None) or []
    errors: list[checks.CheckMessage] = []
    if not keys:
        errors.append(
            checks.Error(
                "AUDIT_HMAC_KEYS is empty: search terms cannot be recorded",
                hint="Set AUDIT_HMAC_KEYS=k1:<at least 32 random characters> (see README, Audit log).",
                id="audit.E001",
            )
        )
    elif not settings.DEBUG and any(secret == settings.AUDIT_HMAC_DEV_KEY[1] for _id, secret in keys):
        errors.append(
            checks.Error(
                "AUDIT_HMAC_KEYS holds the development key while DEBUG is off",
                hint="Generate a real key: python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="audit.E002",
            )
        )
    if any(secret == settings.SECRET_KEY for _id, secret in keys):
        errors.append(
            checks.Error(
                "An AUDIT_HMAC_KEYS secret equals SECRET_KEY",
                hint="Use a separate secret: the audit key is rotated on its own and may be shared with no one else.",
                id="audit.E003",
            )
        )
    return errors


@checks.register(checks.Tags.security)
def audit_signing_and_anchor(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The key of the events' MACs and the digest, and the directory outside the database for the seal heads."""
    from django.conf import settings

    errors: list[checks.CheckMessage] = []
    keys = getattr(settings, "AUDIT_SIGNING_KEYS", None) or []
    if not settings.DEBUG and any(secret == settings.AUDIT_SIGNING_DEV_KEY[1] for _id, secret in keys):
        errors.append(
            checks.Error(
                "AUDIT_SIGNING_KEYS holds the development key while DEBUG is off",
                hint="Generate a real key: python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="audit.E004",
            )
        )
    others = {settings.SECRET_KEY, *(secret for _id, secret in getattr(settings, "AUDIT_HMAC_KEYS", []))}
    if any(secret in others for _id, secret in keys):
        errors.append(
            checks.Error(
                "An AUDIT_SIGNING_KEYS secret equals SECRET_KEY or an AUDIT_HMAC_KEYS secret",
                hint="Use a separate secret for the audit signatures.",
                id="audit.E005",
            )
        )
    if not settings.DEBUG and not getattr(settings, "AUDIT_ANCHOR_DIR", None):
        errors.append(
            checks.Warning(
                "AUDIT_ANCHOR_DIR is not set: seal heads are not published outside the database",
                hint="Point it at an append-only directory the database's system user cannot write (README, Backups).",
                id="audit.W002",
            )
        )
    return errors
