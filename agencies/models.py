"""Agencies (関係機関), their staff and API keys."""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _


class AgencyKind(models.TextChoices):
    CITY_DIVISION = "city_division", _("市役所の課")
    WELFARE_COUNCIL = "welfare_council", _("社会福祉協議会")
    SUPPORT_CENTER = "support_center", _("地域包括支援センター・相談支援事業所")
    FACILITY = "facility", _("施設")
    OTHER = "other", _("その他")


class Role(models.TextChoices):
    CASEWORKER = "caseworker", _("担当者")
    SUPERVISOR = "supervisor", _("管理職・主任")
    AGENCY_ADMIN = "agency_admin", _("機関管理者")
    INTEGRATION = "integration", _("連携システム")


# Roles that may decide with whom a client is shared (PRODUCT §4.3).
SHARE_MANAGER_ROLES = frozenset({Role.SUPERVISOR, Role.AGENCY_ADMIN})
# Roles that do casework. A privacy officer reads case data only while holding one of these (PRODUCT §4.4).
CASEWORK_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR})


class Agency(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=AgencyKind.choices)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="agency")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "関係機関"
        verbose_name_plural = "関係機関"

    def __str__(self) -> str:
        return self.name


class Staff(models.Model):
    """A user's membership of exactly one agency, with a role."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=16, choices=Role.choices)
    display_name = models.CharField(max_length=100, blank=True)
    is_privacy_officer = models.BooleanField(default=False)
    email_notifications = models.BooleanField(default=False, help_text="共有中の支援記録の更新をメールでも受け取る")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "職員"
        verbose_name_plural = "職員"

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class ApiKeyScope(models.TextChoices):
    """What a key may do, within its user's rights: ``read`` (GET, HEAD, OPTIONS) and ``write`` (everything else)."""

    READ = "read", _("閲覧")
    WRITE = "write", _("書き込み")


FULL_SCOPES = [ApiKeyScope.READ.value, ApiKeyScope.WRITE.value]
READ_ONLY_SCOPES = [ApiKeyScope.READ.value]


class ApiKey(models.Model):
    """An API key acting as its user, within its ``scopes``. Only a hash of the secret is stored; the key is shown
    once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "APIキー"
        verbose_name_plural = "APIキー"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def allows_writes(self) -> bool:
        return ApiKeyScope.WRITE in self.scopes


class LoginThrottleScope(models.TextChoices):
    ACCOUNT = "account", _("アカウント")
    ADDRESS = "address", _("接続元アドレス")


class LoginThrottle(models.Model):
    """Failed sign-ins counted per account and per address (see ``agencies.login_throttle``).

    ``key`` is a keyed hash of the attempted username or of the address, never the value itself: an attempted
    username is often a password typed into the wrong field.
    """

    scope = models.CharField(max_length=8, choices=LoginThrottleScope.choices)
    key = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="login_throttle_scope_key")]
        indexes = [models.Index(fields=["last_failure_at"], name="login_throttle_last_failure")]  # pruning
        verbose_name = "ログイン失敗の記録"
        verbose_name_plural = "ログイン失敗の記録"

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:8]}… ({self.failures})"
