"""Clients (支援対象者), shares (情報共有) and the shared timeline (支援記録).

Read and written only through ``cases.selectors`` and ``cases.services``, which check permissions and write the
audit event in the same transaction.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from agencies.models import Agency


class ClientStatus(models.TextChoices):
    ACTIVE = "active", _("支援中")
    PAUSED = "paused", _("休止")  # support on hold (入院中, 転居調整中…): still shared, expected to resume
    CLOSED = "closed", _("終結")


class ShareLevel(models.TextChoices):
    READ = "read", _("閲覧")
    APPEND = "append", _("閲覧・追記")
    MANAGE = "manage", _("閲覧・追記・共有管理")

    @property
    def short_label(self) -> str:
        """The level in one word, for badges: 閲覧 / 追記 / 管理."""
        return str(_LEVEL_SHORT_LABELS[self.value])


_LEVEL_SHORT_LABELS = {"read": _("閲覧"), "append": _("追記"), "manage": _("管理")}


LEVEL_RANK: dict[str, int] = {ShareLevel.READ: 1, ShareLevel.APPEND: 2, ShareLevel.MANAGE: 3}
# The guardian object permissions each level grants to the agency's group.
LEVEL_PERMS: dict[str, tuple[str, ...]] = {
    ShareLevel.READ: ("view_client",),
    ShareLevel.APPEND: ("view_client", "append_client"),
    ShareLevel.MANAGE: ("view_client", "append_client", "manage_client"),
}
ALL_CLIENT_PERMS = LEVEL_PERMS[ShareLevel.MANAGE]


class ShareBasis(models.TextChoices):
    CONSENT = "consent", _("本人同意")
    SUPPORT_MEETING = "support_meeting", _("支援会議（社会福祉法第106条の6）")
    STATUTORY = "statutory", _("法令に基づく")
    EMERGENCY = "emergency", _("緊急（生命・身体の保護）")


class EntryKind(models.TextChoices):
    CONSULTATION = "consultation", _("相談")
    VISIT = "visit", _("訪問")
    CALL = "call", _("電話")
    MEETING = "meeting", _("会議")
    LIAISON = "liaison", _("連絡調整")
    SERVICE = "service", _("サービス提供")
    NOTE = "note", _("メモ")
    # System kinds, written by the services themselves.
    SHARE_CHANGE = "share_change", _("共有設定の変更")
    STATUS_CHANGE = "status_change", _("状態の変更")
    BREAK_GLASS = "break_glass", _("緊急アクセス")
    INQUIRY = "inquiry", _("照会")


class SystemEvent(models.TextChoices):
    """What a system entry records. The entry stores the event and its parameters; the reader's language renders
    it (``cases.timeline_events``). Entries written before events were stored have none and keep their body."""

    SHARE_GRANTED = "share_granted", _("共有の設定")
    SHARE_REVOKED = "share_revoked", _("共有の解除")
    SHARE_EXPIRED = "share_expired", _("共有の期限切れ")
    STATUS_CHANGED = "status_changed", _("状態の変更")
    BREAK_GLASS_OPENED = "break_glass_opened", _("緊急アクセス")
    BREAK_GLASS_RENEWED = "break_glass_renewed", _("緊急アクセスの延長")
    INQUIRY_ASKED = "inquiry_asked", _("照会")
    INQUIRY_REPLIED = "inquiry_replied", _("照会への回答")
    INQUIRY_CLOSED = "inquiry_closed", _("照会の終了")
    MEETING_SHARE_CONFIRMED = "meeting_share_confirmed", _("支援会議による共有の開始")
    MEETING_MINUTES = "meeting_minutes", _("支援会議の記録")
    ACTION_ITEM_DONE = "action_item_done", _("役割分担の完了")


USER_ENTRY_KINDS = (
    EntryKind.CONSULTATION,
    EntryKind.VISIT,
    EntryKind.CALL,
    EntryKind.MEETING,
    EntryKind.LIAISON,
    EntryKind.SERVICE,
    EntryKind.NOTE,
)


class CaseNumberCounter(models.Model):
    """The last case number issued per year (row-locked while a number is taken)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class Client(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_number = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    name_kana = models.CharField(max_length=100)
    birth_date = models.DateField()
    address = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=ClientStatus.choices, default=ClientStatus.ACTIVE)
    owner_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="owned_clients")
    address_confidential = models.BooleanField(default=False)
    # Normalised 氏名 + フリガナ + case number, for one substring search (see cases.text.normalize).
    search_key = models.TextField(editable=False)
    # Tags as "|高齢|8050|", so one portable substring filter finds a tag on PostgreSQL and SQLite alike.
    tag_key = models.TextField(editable=False, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "支援対象者"
        verbose_name_plural = "支援対象者"
        permissions = [
            ("append_client", "支援記録を追記できる"),
            ("manage_client", "共有と基本情報を管理できる"),
        ]
        indexes = [models.Index(fields=["name_kana", "id"], name="client_kana_id")]

    def __str__(self) -> str:
        return self.case_number


class ClientUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Client, on_delete=models.CASCADE)


class ClientGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Client, on_delete=models.CASCADE)


class ShareQuerySet(models.QuerySet):
    def active(self, now=None) -> "ShareQuerySet":
        """Not revoked and not expired at ``now``: the one definition of a share that grants access."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, pending=False).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class Share(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="shares")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="shares")
    level = models.CharField(max_length=8, choices=ShareLevel.choices)
    basis = models.CharField(max_length=16, choices=ShareBasis.choices)
    basis_note = models.TextField(blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(max_length=16, blank=True)  # revoked / expired / replaced
    # A share a 支援会議 created (basis ``support_meeting``): ``pending`` until a supervisor or administrator of the
    # agency confirms the duty of confidentiality for the meeting; a pending share grants nothing.
    meeting = models.ForeignKey("Meeting", on_delete=models.PROTECT, null=True, blank=True, related_name="shares")
    pending = models.BooleanField(default=False)

    objects = ShareQuerySet.as_manager()

    class Meta:
        verbose_name = "情報共有"
        verbose_name_plural = "情報共有"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "agency"], condition=Q(revoked_at__isnull=True), name="one_open_share_per_agency"
            )
        ]
        indexes = [models.Index(fields=["agency", "client"], name="share_agency_client")]

    def __str__(self) -> str:
        return f"{self.client_id} → {self.agency_id} ({self.level})"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return not self.pending and self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class TimelineEntry(models.Model):
    """One record of support. Append-only (database triggers reject UPDATE and DELETE)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    occurred_at = models.DateTimeField()
    body = models.TextField()  # what the author wrote; empty for a system entry that stores an event
    # A system entry's event and its parameters (ids, codes, names and times as they were), rendered when read.
    event = models.CharField(max_length=32, choices=SystemEvent.choices, null=True, blank=True)
    event_params = models.JSONField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")

    class Meta:
        verbose_name = "支援記録"
        verbose_name_plural = "支援記録"
        indexes = [models.Index(fields=["client", "-occurred_at", "-id"], name="entry_client_time")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.kind} {self.occurred_at:%Y-%m-%d}"


class OutboxMessage(models.Model):
    """A side effect to publish after the change that caused it commits (transactional outbox).

    Written in the same transaction as the change; the relay publishes it to Celery, so a broker outage delays
    side effects but loses none. The row stays the source of truth until its consumer has done the work:
    ``finished_at`` is set in the consumer's own transaction; a message published but not finished within the
    lease (``OUTBOX_LEASE_SECONDS``) is published again. ``payload`` holds ids only, never personal data.
    """

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)  # last handed to the broker
    finished_at = models.DateTimeField(null=True, blank=True)  # its consumer's work committed
    attempts = models.PositiveIntegerField(default=0)  # times handed to the broker (or tried to)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], condition=Q(finished_at__isnull=True), name="outbox_unfinished"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


class Notification(models.Model):
    """An in-app notice that a shared client's timeline or sharing changed. A link, no personal data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(TimelineEntry, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    topic = models.CharField(max_length=48)
    source_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, related_name="+")
    # A notice about a 支援会議 (its invitation, its minutes): the meeting, whose page the notice links to. ``client``
    # is then one of its clients, which an attendee that has not confirmed 守秘義務 yet cannot see.
    meeting = models.ForeignKey("Meeting", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # One notification per recipient per outbox message, however often the message is delivered.
    event_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["recipient", "event_key"], name="one_notice_per_event")]
        indexes = [models.Index(fields=["recipient", "-created_at", "-id"], name="notice_inbox")]

    def __str__(self) -> str:
        return f"{self.topic} → {self.recipient_id}"


class WebhookEndpoint(models.Model):
    """A partner system's HTTPS endpoint, told (signed, without case content) when a shared timeline changes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint, retried with exponential backoff until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("送信待ち")
        DELIVERED = "delivered", _("送信済み")
        GAVE_UP = "gave_up", _("送信中止")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # also the event id
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_key = models.CharField(max_length=64)
    payload = models.JSONField()
    client_id = models.UUIDField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_key"], name="one_delivery_per_event")]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_due")]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)


class BreakGlassGrant(models.Model):
    """Emergency access (緊急アクセス): time-boxed read access for one staff member, on a stated reason.

    Flagged for the privacy officer; audited as ``break_glass``; shown on the client's timeline.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="break_glass_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Set when a later grant for the same person and client replaces this one (a renewal, or a new grant after
    # this one expired): at most one grant per person and client is open, so access cannot be stacked or extended
    # without a new reason and a new flag.
    ended_at = models.DateTimeField(null=True, blank=True)
    renews = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["user", "client", "expires_at"], name="breakglass_user_client")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client"], condition=models.Q(ended_at=None), name="breakglass_one_open_grant"
            ),
        ]

    def __str__(self) -> str:
        return f"break-glass {self.client_id} by {self.user_id}"


class ClientAssignment(models.Model):
    """担当者: a member of an agency's staff assigned to a client by that agency (its own organisation of its work).

    Each agency assigns only its own staff; every agency that sees the client sees every agency's assignments
    (「担当: 福祉課 田中」). Ended, never deleted: ``ended_at`` and ``ended_by`` keep the history.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="assignments")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "担当者"
        verbose_name_plural = "担当者"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "user"], condition=Q(ended_at__isnull=True), name="one_open_assignment_per_user"
            )
        ]
        indexes = [
            # 自分の担当: the user's open assignments; and each listed client's open assignments.
            models.Index(fields=["user", "client"], condition=Q(ended_at__isnull=True), name="assignment_user_open"),
            models.Index(fields=["client"], condition=Q(ended_at__isnull=True), name="assignment_client_open"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} ← {self.user_id}"


class ListSort(models.TextChoices):
    """How the case list is ordered (``cases.selectors.client_list``)."""

    LATEST_DESC = "latest", _("最終記録が新しい順")
    LATEST_ASC = "latest_asc", _("最終記録が古い順")
    KANA_ASC = "kana", _("フリガナ順")
    KANA_DESC = "kana_desc", _("フリガナ逆順")
    CREATED_DESC = "created", _("登録日が新しい順")
    CREATED_ASC = "created_asc", _("登録日が古い順")


class ListScope(models.TextChoices):
    MINE = "mine", _("自分の担当")
    ALL = "all", _("すべて")


class SavedListFilter(models.Model):
    """A user's named combination of list conditions (tab, status, tag, sort). Never a search term: a typed search
    is usually a name or a case number, and a preference must hold no client data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    scope = models.CharField(max_length=8, choices=ListScope.choices, default=ListScope.ALL)
    status = models.CharField(max_length=8, blank=True)
    tag = models.CharField(max_length=40, blank=True)
    sort = models.CharField(max_length=16, choices=ListSort.choices, default=ListSort.KANA_ASC)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "保存した絞り込み"
        verbose_name_plural = "保存した絞り込み"
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_filter_name_per_user")]

    def __str__(self) -> str:
        return self.name


# --- Working together on a client (PRODUCT §6.1): inquiries (照会) and support meetings (支援会議) ---------------


class InquiryStatus(models.TextChoices):
    OPEN = "open", _("回答待ち")
    ANSWERED = "answered", _("回答済み")
    CLOSED = "closed", _("終了")


class Inquiry(models.Model):
    """照会: a question one agency sharing a client asks other agencies sharing it. Shown on the client's timeline
    (an entry of kind ``inquiry``); its status moves open → answered (an addressee replied) → closed (the sender
    closed it). Subject and body are case content: shown only through the client's audited read path."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="inquiries")
    from_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=InquiryStatus.choices, default=InquiryStatus.OPEN)
    due_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The timeline entry (kind ``inquiry``) that shows the question on the client's timeline.
    entry = models.OneToOneField(TimelineEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="inquiry")

    class Meta:
        verbose_name = "照会"
        verbose_name_plural = "照会"
        indexes = [
            models.Index(fields=["from_agency", "-created_at", "-id"], name="inquiry_sent"),
            models.Index(fields=["client", "-created_at"], name="inquiry_client"),
        ]

    def __str__(self) -> str:
        return f"inquiry {self.pk}"


class InquiryAddressee(models.Model):
    """An agency an inquiry is addressed to (宛先)."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="addressees")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inquiry", "agency"], name="one_addressee_per_agency")]
        indexes = [models.Index(fields=["agency", "inquiry"], name="inquiry_received")]

    def __str__(self) -> str:
        return f"{self.inquiry_id} → {self.agency_id}"


class InquiryReply(models.Model):
    """A reply (回答) in an inquiry's thread. Append-only (database triggers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="replies")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # The timeline entry (kind ``inquiry``) that shows the reply on the client's timeline.
    entry = models.OneToOneField(
        TimelineEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="inquiry_reply"
    )

    class Meta:
        verbose_name = "照会への回答"
        verbose_name_plural = "照会への回答"
        indexes = [models.Index(fields=["inquiry", "created_at"], name="inquiry_reply_thread")]

    def __str__(self) -> str:
        return f"reply {self.pk}"


class Meeting(models.Model):
    """支援会議 under 社会福祉法第106条の6: convened by an agency managing every client discussed. Each attendee
    agency without an active share on a client gets a share with basis ``support_meeting`` (``Share.meeting``),
    pending until a supervisor or administrator of that agency confirms its duty of confidentiality (守秘義務)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    held_on = models.DateField()
    convened_by = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    share_level = models.CharField(max_length=8, choices=ShareLevel.choices)
    share_days = models.PositiveIntegerField()
    share_expires_at = models.DateTimeField()
    clients = models.ManyToManyField(Client, through="MeetingClient", related_name="meetings")

    class Meta:
        verbose_name = "支援会議"
        verbose_name_plural = "支援会議"
        indexes = [models.Index(fields=["convened_by", "-held_on", "-id"], name="meeting_convener")]

    def __str__(self) -> str:
        return f"meeting {self.pk}"


class MeetingClient(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="meeting_clients")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "client"], name="one_meeting_client")]

    def __str__(self) -> str:
        return f"{self.meeting_id} ← {self.client_id}"


class MeetingAttendee(models.Model):
    """An attendee agency; ``confirmed_at`` once a supervisor or administrator acknowledged 守秘義務 for it."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "agency"], name="one_attendee_per_agency")]
        indexes = [models.Index(fields=["agency", "meeting"], name="meeting_attendee_agency")]

    def __str__(self) -> str:
        return f"{self.meeting_id} ← {self.agency_id}"


class MeetingMinutes(models.Model):
    """One version of a meeting's minutes (議事録). Append-only (database triggers): a correction is a new version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="minutes_versions")
    version = models.PositiveIntegerField()
    summary = models.TextField()
    decisions = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "支援会議の記録"
        verbose_name_plural = "支援会議の記録"
        constraints = [models.UniqueConstraint(fields=["meeting", "version"], name="one_minutes_version")]

    def __str__(self) -> str:
        return f"{self.meeting_id} v{self.version}"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", _("未完了")
    DONE = "done", _("完了")


class ActionItem(models.Model):
    """An action item (役割分担) from a meeting's minutes: which agency does what for which client, by when.
    ``superseded_at`` is set when a later version of the minutes replaces the open items of an earlier one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="action_items")
    minutes = models.ForeignKey(MeetingMinutes, on_delete=models.PROTECT, related_name="action_items")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    task = models.TextField()
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "役割分担"
        verbose_name_plural = "役割分担"
        indexes = [models.Index(fields=["agency", "status", "due_on"], name="action_item_agency")]

    def __str__(self) -> str:
        return f"{self.meeting_id}: {self.agency_id}"


class Attachment(models.Model):
    """A file on a timeline entry (同意書, 手帳の写し, 写真…). Added with its entry and immutable like it (database
    triggers reject UPDATE and DELETE): a wrong file is corrected by a correcting entry, and the original stays.
    Who may see it is exactly who may see the entry. ``size`` and ``sha256`` are of the content as stored and
    served (an image after its metadata was removed, a HEIC photo after conversion to JPEG). The encrypted content
    and the key that opens it are in ``AttachmentBlob``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entry = models.ForeignKey(TimelineEntry, on_delete=models.PROTECT, related_name="attachments")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")  # the entry's client
    position = models.PositiveSmallIntegerField()  # order within the entry, from 0
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    has_thumbnail = models.BooleanField(default=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")  # the uploader's agency
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "添付ファイル"
        verbose_name_plural = "添付ファイル"
        constraints = [models.UniqueConstraint(fields=["entry", "position"], name="attachment_entry_position")]
        indexes = [models.Index(fields=["client", "created_at"], name="attachment_client")]

    def __str__(self) -> str:
        return f"{self.entry_id} #{self.position}"


class AttachmentBlob(models.Model):
    """Where an attachment's encrypted content (and its thumbnail's) is stored, and its file key wrapped by the
    current master key (``cases.attachments.crypto``). The one mutable part of an attachment: key rotation
    re-wraps ``wrapped_key``, the integrity check records ``checked_at`` / ``failed_at``, and retention empties
    the storage and sets ``purged_at``."""

    attachment = models.OneToOneField(Attachment, on_delete=models.PROTECT, primary_key=True, related_name="blob")
    storage_name = models.CharField(max_length=200)  # name in STORAGES["attachments"]; random, says nothing
    thumbnail_name = models.CharField(max_length=200, blank=True)
    key_id = models.CharField(max_length=16)  # the master key that wraps the file key
    wrapped_key = models.BinaryField()
    checked_at = models.DateTimeField(null=True, blank=True)  # last integrity check passed
    failed_at = models.DateTimeField(null=True, blank=True)  # integrity check failed: reported, not served
    purged_at = models.DateTimeField(null=True, blank=True)  # content removed by retention

    class Meta:
        indexes = [models.Index(fields=["key_id"], name="attachment_blob_key")]

    def __str__(self) -> str:
        return str(self.attachment_id)


class ImportRunStatus(models.TextChoices):
    PENDING = "pending", _("待機中")
    RUNNING = "running", _("実行中")
    DONE = "done", _("完了")
    FAILED = "failed", _("失敗")
    INTERRUPTED = "interrupted", _("中断")


class ImportRun(models.Model):
    """One run of an import from kintone (``cases.services.imports``), dry or not: for which agency (the owner of
    what it registers), by whom, over which channel, how far it got, and what it did with each record
    (``ImportReportLine``). ``mapping_text`` is the mapping it used (field names and codes, no personal data);
    ``files`` are where a browser upload keeps its (encrypted) files until the run is over."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=16, default="kintone")
    app_id = models.CharField(max_length=32, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8)
    dry_run = models.BooleanField(default=True)
    carries_out = models.ForeignKey(  # the dry run whose report this run's operator confirmed (browser)
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=ImportRunStatus.choices, default=ImportRunStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)  # records in the export, when counted
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)  # created / updated / unchanged / skipped / error / entries…
    error = models.CharField(max_length=500, blank=True)  # why the whole run failed (a bad mapping, a broken file)
    mapping_text = models.TextField(blank=True)
    files = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "取込"
        verbose_name_plural = "取込"
        indexes = [models.Index(fields=["agency", "-created_at"], name="import_run_agency")]

    def __str__(self) -> str:
        return f"{self.source} {self.app_id} {self.created_at:%Y-%m-%d %H:%M}"


class ImportReportLine(models.Model):
    """What a run did (or, dry, would do) with one record, or with one part of it that was left out: the line of
    the report the operator reads before confirming and keeps afterwards."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="report_lines")
    position = models.PositiveIntegerField()
    record_id = models.CharField(max_length=64, blank=True)
    where = models.CharField(max_length=64, blank=True)
    item = models.CharField(max_length=80, blank=True)  # "" for the record; "row 123" / "comment 7" for a part
    outcome = models.CharField(max_length=16)  # created / updated / unchanged / skipped / error / item_skipped
    reason = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    case_number = models.CharField(max_length=24, blank=True)
    entries = models.PositiveIntegerField(default=0)  # entries added (dry: to be added) for this record
    shares = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="import_report_position")]


class ImportedClient(models.Model):
    """The kintone record a client was imported from: a second run finds it here and adds only what is new."""

    client = models.OneToOneField(Client, on_delete=models.PROTECT, primary_key=True, related_name="import_origin")
    source = models.CharField(max_length=16)
    app_id = models.CharField(max_length=32)
    record_id = models.CharField(max_length=64)
    revision = models.CharField(max_length=32, blank=True)
    # The profile as last imported (JSON values): a field whose value in Tsunagu differs from it was changed here
    # since, and a later import leaves it as it is.
    profile = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="+")
    updated_by_run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "app_id", "record_id"], name="imported_client_source")]


class ImportedEntry(models.Model):
    """Where an imported timeline entry came from (a table row or a comment of a kintone record) and who wrote it
    there: ``author_name`` keeps a kintone author that maps to no Tsunagu user. Immutable like the entry."""

    entry = models.OneToOneField(
        TimelineEntry, on_delete=models.PROTECT, primary_key=True, related_name="import_origin"
    )
    source = models.CharField(max_length=16)
    app_id = models.CharField(max_length=32)
    record_id = models.CharField(max_length=64)
    item_type = models.CharField(max_length=8)  # row / comment
    item_id = models.CharField(max_length=160)
    author_code = models.CharField(max_length=100, blank=True)
    author_name = models.CharField(max_length=100, blank=True)
    run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "app_id", "record_id", "item_type", "item_id"], name="imported_entry_source"
            )
        ]
