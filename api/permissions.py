"""Key scopes: a read-only key (``scopes == ["read"]``) may call safe methods only.

The check sits beside authentication because it is a property of the credential, not of the case data: it runs
before any view, so a refused write touches nothing. The refusal is audited like a rejected key
(``auth.api_key``, denied, reason ``read_only_key``, the key's id) and answers 403.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from agencies.actions import AgencyAction
from agencies.models import ApiKey
from audit.services import audit_denied

from .authentication import api_actor


class ReadOnlyKeyRefused(PermissionDenied):
    default_detail = _("このAPIキーは閲覧専用です。書き込みには書き込みを許可したキーを使ってください。")
    default_code = "read_only_key"


class KeyScopeAllowsMethod(BasePermission):
    def has_permission(self, request, view) -> bool:
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if key is None or request.method in SAFE_METHODS or key.allows_writes:
            return True
        audit_denied(
            actor=api_actor(request),
            action=AgencyAction.AUTH_API_KEY,
            reason="read_only_key",
            target_type="apikey",
            target_id=key.pk,
            details={"method": request.method},
        )
        raise ReadOnlyKeyRefused()
