"""Idempotency keys of the REST API (the only table the API owns)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one user: the request it was first used with and the response it got.

    The row is inserted in the same transaction as the write it guards and completed before that transaction
    commits, so a committed row always holds its response, and a concurrent request with the same key waits on
    the unique index until the first one commits (or rolls back, freeing the key).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and canonical JSON body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # What the first response exposed, for the audit event written when it is replayed.
    client_id = models.CharField(max_length=64, blank=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "冪等キー"
        verbose_name_plural = "冪等キー"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
