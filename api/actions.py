"""What the API layer itself writes to the audit log (the domain's actions are the domain apps')."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiAction(models.TextChoices):
    IDEMPOTENT_REPLAY = "api.idempotent_replay", _("同じ冪等キーの要求への再応答")


class ApiReason(models.TextChoices):
    """Why the API layer refused a request before any service saw it."""

    MISSING = "missing", _("APIキーの指定なし")
    READ_ONLY_KEY = "read_only_key", _("読み取り専用のAPIキー")
