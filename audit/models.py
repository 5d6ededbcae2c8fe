"""The audit log: append-only, enforced by database triggers (see the migrations).

This app is the lowest layer: it imports no domain app. Actors are recorded as snapshots (ids and names as they
were), so an event stays meaningful after a user or agency changes.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("ブラウザ")
    API = "api", _("API")
    TASK = "task", _("バックグラウンド処理")
    CLI = "cli", _("管理コマンド")
    ADMIN = "admin", _("管理画面")


class Outcome(models.TextChoices):
    ALLOWED = "allowed", _("許可")
    DENIED = "denied", _("拒否")
    ERROR = "error", _("エラー")


class AuthorisedBy(models.TextChoices):
    """What authorised an access: ``AuditEvent.authorised_by`` is ``<kind>:<id>`` (``share:…``, ``break_glass:…``)."""

    SHARE = "share", _("共有（アクセス権）")
    BREAK_GLASS = "break_glass", _("緊急アクセス")

    @classmethod
    def label_of(cls, authorised_by: str) -> str:
        """The label of whatever authorised an access (empty when nothing was recorded)."""
        kind = (authorised_by or "").partition(":")[0]
        return str(cls(kind).label) if kind in cls.values else ""


class AuditEvent(models.Model):
    """One audited action. On PostgreSQL the table is partitioned by month of ``occurred_at`` (audit.partitions,
    migration 0012): the database's primary key there is ``(seq, occurred_at)``, ``seq`` staying unique by
    construction (one sequence), and the model keeps ``seq`` as its primary key."""

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
    # The application's MAC of the event (audit.signing); not part of the sealed content.
    mac = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["actor_username", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["actor_agency_code", "-seq"], name="audit_agency_seq"),
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
            models.Index(fields=["target_type", "target_id", "-seq"], name="audit_target_seq"),
            # What was done under one grant (a support meeting's shares, PRODUCT §6.1): the officer's meeting page.
            models.Index(
                fields=["authorised_by", "-seq"], name="audit_authorised_seq", condition=~models.Q(authorised_by="")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome} {self.actor_username}"


class AuditExposure(models.Model):
    """One row per (event, client) the event is about: the index behind "who accessed this client".

    ``exposed`` is true when the client is in the event's ``client_ids`` (the access showed it), false when the
    client was only the target (a denied attempt shows nothing). Written by ``audit_record`` in the same
    transaction as the event; derived from the event, so it is not part of the sealed content.
    """

    id = models.BigAutoField(primary_key=True)
    # No database foreign key: on PostgreSQL the events table is partitioned by month (audit.partitions) and a key
    # to it would have to name occurred_at too. Rows are written with their event, in its transaction.
    event = models.ForeignKey(
        AuditEvent, on_delete=models.DO_NOTHING, db_column="event_seq", related_name="exposures", db_constraint=False
    )
    client_id = models.UUIDField()
    exposed = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["client_id", "event"], name="audit_exposure_client_seq")]

    def __str__(self) -> str:
        return f"#{self.event_id} {self.client_id}"


class AuditSeal(models.Model):
    """A sealed batch of events: ``seal_hash = sha256(prev_hash ‖ canonical batch)`` (see ``audit.canonical``).

    ``seqs`` lists exactly the sequence numbers sealed (ranges, e.g. ``"101-149,151-200"``), so a gap left by a
    rolled-back insert is not mistaken for a deletion. ``digests`` holds 8 bytes per sealed event (the start of
    the sha256 of its canonical line, in ``seqs`` order): not part of the proof, only to name the first event that
    no longer matches. On PostgreSQL the batch is every event whose inserting transaction id is below
    ``txid_horizon`` and at or above the previous seal's; ``sealer_txid`` is the sealing transaction's own id,
    taken after its snapshot. Both are null on SQLite, where writers are serialised and a batch is simply every
    event after the previous seal's ``last_seq``.
    """

    id = models.BigAutoField(primary_key=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    count = models.PositiveIntegerField()
    seqs = models.TextField()
    digests = models.BinaryField()
    prev_hash = models.CharField(max_length=64)
    seal_hash = models.CharField(max_length=64, unique=True)
    txid_horizon = models.BigIntegerField(null=True, blank=True)
    sealer_txid = models.BigIntegerField(null=True, blank=True)
    # PostgreSQL: the system identifier of the cluster whose transaction ids the horizon counts (a restore into
    # another cluster starts a new count; see audit.sealing).
    cluster = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One successor per seal: two sealers racing cannot fork the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_seal_one_successor"),
        ]
        verbose_name = "監査ログの封印"
        verbose_name_plural = "監査ログの封印"

    def __str__(self) -> str:
        return f"seal #{self.pk} {self.first_seq}–{self.last_seq} {self.seal_hash[:12]}"


class VerifyKind(models.TextChoices):
    OK = "ok", _("正常")
    CHANGED_EVENT = "changed_event", _("記録の改変")
    DELETED_EVENT = "deleted_event", _("記録の削除")
    INSERTED_EVENT = "inserted_event", _("記録の挿入")
    REORDERED_EVENTS = "reordered_events", _("記録の入れ替え")
    BROKEN_CHAIN = "broken_chain", _("封印の連鎖の破損")
    MISSING_TAIL = "missing_tail", _("末尾の欠落")
    DELETED_SEAL = "deleted_seal", _("封印の削除")
    FORGED_EVENT = "forged_event", _("記録の偽造")


class AuditVerification(models.Model):
    """The result of one verification: the nightly task and ``verify_audit`` run by hand each store one, so the
    console's last verification is the last one, however it ran."""

    id = models.BigAutoField(primary_key=True)
    ran_at = models.DateTimeField()
    ok = models.BooleanField()
    kind = models.CharField(max_length=16, choices=VerifyKind.choices)
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    seals_checked = models.PositiveIntegerField(default=0)
    events_checked = models.PositiveBigIntegerField(default=0)
    pending_events = models.PositiveBigIntegerField(default=0)
    latest_seal_id = models.BigIntegerField(null=True, blank=True)
    latest_seal_hash = models.CharField(max_length=64, blank=True)
    # How it ran: the nightly task (``task``) or ``verify_audit`` by hand (``cli``); the console says which.
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.TASK)

    class Meta:
        ordering = ["-id"]
        verbose_name = "監査ログの検証"
        verbose_name_plural = "監査ログの検証"

    def __str__(self) -> str:
        return f"verification #{self.pk} {self.kind}"


class AuditDigest(models.Model):
    """The daily signed digest for the privacy officer: "the audit log up to seq N has hash H" (audit.anchors)."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    seal_id = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    seal_hash = models.CharField(max_length=64)
    text = models.TextField()
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["-id"]
        verbose_name = "監査ログの署名付きダイジェスト"
        verbose_name_plural = "監査ログの署名付きダイジェスト"

    def __str__(self) -> str:
        return f"digest #{self.pk} up to seq {self.last_seq}"


class AuditPurge(models.Model):
    """A retention purge: every event of seals up to ``up_to_seal`` was deleted. ``seal_hash`` is that seal's
    hash at the time, so verification can start the content checks after it and still check the chain."""

    id = models.BigAutoField(primary_key=True)
    purged_at = models.DateTimeField()
    up_to_seal = models.ForeignKey(AuditSeal, on_delete=models.PROTECT, related_name="+")
    seal_hash = models.CharField(max_length=64)
    cutoff = models.DateTimeField()
    retention_days = models.PositiveIntegerField()
    events_deleted = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["-id"]
        verbose_name = "監査ログの削除（保存期間経過）"
        verbose_name_plural = "監査ログの削除（保存期間経過）"

    def __str__(self) -> str:
        return f"purge #{self.pk} up to seal #{self.up_to_seal_id}"


# --- privacy officer review: anomaly flags, review notes, exports -----------------------------------------------


class AnomalyRule(models.TextChoices):
    AFTER_HOURS = "after_hours", _("時間外のアクセス")
    MANY_CLIENTS = "many_clients", _("短時間に多数の対象者へのアクセス")
    REPEATED_DENIALS = "repeated_denials", _("拒否の繰り返し")
    BREAK_GLASS = "break_glass", _("緊急アクセスの利用")
    AFTER_SHARE_END = "after_share_end", _("共有終了直後のアクセス")


class FlagStatus(models.TextChoices):
    OPEN = "open", _("未対応")
    CLOSED = "closed", _("対応済み")


class AnomalyFlag(models.Model):
    """A pattern in the audit log for the privacy officer to review, with the events behind it.

    ``subject_key`` names whom the flag is about in one string (``user:bob``, ``ip:192.0.2.1``,
    ``agency:soudan|client:<uuid>``), so that (rule, subject, window) is unique and re-running detection never
    duplicates a flag. The summary (a code and its parameters) carries ids and counts only, never case content.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rule = models.CharField(max_length=32, choices=AnomalyRule.choices)
    subject_key = models.CharField(max_length=200)
    subject_username = models.CharField(max_length=150, blank=True)
    subject_agency_code = models.CharField(max_length=32, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    event_seqs = models.JSONField(default=list, blank=True)
    summary = models.TextField()  # the Japanese wording as raised (all that flags raised before summary codes have)
    # What the flag says, worded in the reader's language when read (audit.flag_summaries.SummaryCode).
    summary_code = models.CharField(max_length=32, blank=True)
    summary_params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_username = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject_key", "window_start"], name="audit_flag_unique_window"),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="audit_flag_status_created"),
            models.Index(fields=["rule", "subject_key", "window_start"], name="audit_flag_rule_subject"),
        ]
        verbose_name = "異常の検知"
        verbose_name_plural = "異常の検知"

    def __str__(self) -> str:
        return f"{self.rule} {self.subject_key} {self.window_start:%Y-%m-%d %H:%M}"


class FlagNote(models.Model):
    """A review note on a flag: append-only (database triggers), never edited. ``closes_flag`` records that the
    note closed the flag."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    flag = models.ForeignKey(AnomalyFlag, on_delete=models.PROTECT, related_name="notes")
    author_username = models.CharField(max_length=150)
    note = models.TextField()
    created_at = models.DateTimeField()
    closes_flag = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "確認メモ"
        verbose_name_plural = "確認メモ"

    def __str__(self) -> str:
        return f"note on {self.flag_id} by {self.author_username}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("待機中")
    RUNNING = "running", _("作成中")
    DONE = "done", _("完了")
    FAILED = "failed", _("失敗")


class ExportEncoding(models.TextChoices):
    UTF8_BOM = "utf-8-sig", _("UTF-8（BOM付き・Excel向け）")
    SHIFT_JIS = "shift_jis", _("Shift_JIS")


class AuditExport(models.Model):
    """A CSV export of an audit search, built by a Celery task (``audit.tasks.build_export``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by_username = models.CharField(max_length=150)
    filters = models.JSONField(default=dict, blank=True)
    encoding = models.CharField(max_length=16, choices=ExportEncoding.choices, default=ExportEncoding.UTF8_BOM)
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "監査ログの書き出し"
        verbose_name_plural = "監査ログの書き出し"

    def __str__(self) -> str:
        return f"export {self.pk} {self.status}"


class AuditDailyCount(models.Model):
    """How many events of one seal happened on one JST day in one agency, and how many of them were denied: the
    dashboard's statistics without reading the events (audit.daily). Written with the seal, in its transaction,
    so every sealed event is counted exactly once; events not sealed yet are counted live. Derived data, not part
    of any proof: ``seal_id`` is no database foreign key (verification, not this table, speaks for the seals)."""

    id = models.BigAutoField(primary_key=True)
    seal_id = models.BigIntegerField()
    day = models.DateField()
    agency_code = models.CharField(max_length=32, blank=True)
    events = models.PositiveIntegerField()
    denied = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["seal_id", "day", "agency_code"], name="audit_daily_count_unique"),
        ]
        indexes = [models.Index(fields=["day", "seal_id"], name="audit_daily_count_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_code or '-'}: {self.events} (seal #{self.seal_id})"
