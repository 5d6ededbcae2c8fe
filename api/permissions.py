"""Key scopes: a read-only key (``scopes == ["read"]``) may call safe methods only.

Every API view is an ``ApiView``, whose ``initial`` refuses a read-only key's write after authentication and the
rate throttle (so refused writes count against the key's budget like any request) and before the handler runs (so a
refused write touches nothing). The refusal goes through ``audit.refusals.refuse`` like every other: one denied
``auth.api_key`` event (reason ``read_only_key``, the key's id) and a ``Forbidden``, which ``api.problems`` answers
with 403.
"""

from django.utils.translation import gettext
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.views import APIView

from agencies.actions import AgencyAction
from agencies.models import ApiKey
from audit.refusals import refuse
from tsunagu.errors import Forbidden

from .authentication import api_actor


def refuse_read_only_key_writes(request: Request) -> None:
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is None or request.method in SAFE_METHODS or key.allows_writes:
        return
    refuse(
        actor=api_actor(request),
        action=AgencyAction.AUTH_API_KEY,
        reason="read_only_key",
        error=Forbidden(gettext("このAPIキーは閲覧専用です。書き込みには書き込みを許可したキーを使ってください。")),
        target_type="apikey",
        target_id=key.pk,
        details={"method": request.method},
    )


class ApiView(APIView):
    """The base of every API view: DRF's authentication, permissions and throttles, then the key's scope."""

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        refuse_read_only_key_writes(request)
