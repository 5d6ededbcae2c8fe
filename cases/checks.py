"""System checks of the attachment settings: the master keys that wrap every file's key are real and used for
nothing else."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks


@checks.register(checks.Tags.security)
def attachment_keys(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``ATTACHMENT_KEYS``: not the development key in production, and no secret shared with ``SECRET_KEY`` or the
    audit keys (each is rotated on its own, and a leak of one must not open the files)."""
    from django.conf import settings

    keys = getattr(settings, "ATTACHMENT_KEYS", None) or []
    errors: list[checks.CheckMessage] = []
    if not settings.DEBUG and any(secret == settings.ATTACHMENT_DEV_KEY[1] for _id, secret in keys):
        errors.append(
            checks.Error(
                "ATTACHMENT_KEYS holds the development key while DEBUG is off",
                hint="Generate a real key: python -c 'import secrets; print(secrets.token_urlsafe(32))' "
                "(README, Attachments: encryption at rest).",
                id="cases.E001",
            )
        )
    others = {
        settings.SECRET_KEY,
        *(secret for _id, secret in getattr(settings, "AUDIT_HMAC_KEYS", [])),
        *(secret for _id, secret in getattr(settings, "AUDIT_SIGNING_KEYS", [])),
    }
    secrets = [secret for _id, secret in keys]
    if any(secret in others for secret in secrets) or len(set(secrets)) < len(secrets):
        errors.append(
            checks.Error(
                "An ATTACHMENT_KEYS secret equals SECRET_KEY, an audit key or another ATTACHMENT_KEYS secret",
                hint="Use a separate random secret for each attachment master key (a rotation needs a new secret).",
                id="cases.E002",
            )
        )
    return errors
