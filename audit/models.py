"""The audit log: append-only, enforced by database triggers (see the migrations).

This app is the lowest layer: it imports no domain app. Actors are recorded as snapshots (ids and names as they
were), so an event stays meaningful after a user or agency changes.
"""

import uuid

from django.db import models


class Channel(models.TextChoices):
    WEB = "web", "ブラウザ"
    API = "api", "API"
    TASK = "task", "バックグラウンド処理"
    CLI = "cli", "管理コマンド"
    ADMIN = "admin", "管理画面"


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "許可"
    DENIED = "denied", "拒否"
    ERROR = "error", "エラー"


class AuditEvent(models.Model):
    seq = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_agency_code = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    action = models.CharField(max_length=48)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    client_ids = models.JSONField(default=list, blank=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    api_key_id = models.CharField(max_length=64, blank=True)
    authorised_by = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["actor_username", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["actor_agency_code", "-seq"], name="audit_agency_seq"),
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
            models.Index(fields=["target_type", "target_id", "-seq"], name="audit_target_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome} {self.actor_username}"
