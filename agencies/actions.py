"""What the agencies app writes to the audit log: provisioning, staff and API keys, signing in."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AgencyAction(models.TextChoices):
    AGENCY_CREATE = "agency.create", _("機関の登録")
    STAFF_CREATE = "staff.create", _("職員の登録")
    STAFF_LIST = "staff.list", _("職員一覧の閲覧")
    APIKEY_ISSUE = "apikey.issue", _("APIキーの発行")
    APIKEY_REVOKE = "apikey.revoke", _("APIキーの無効化")
    APIKEY_LIST = "apikey.list", _("APIキー一覧の閲覧")
    AUTH_LOGIN = "auth.login", _("ログイン")
    AUTH_LOGIN_FAILED = "auth.login_failed", _("ログイン失敗")
    AUTH_LOGOUT = "auth.logout", _("ログアウト")
    AUTH_API_KEY = "auth.api_key", _("APIキーによる認証")
    AUTH_MFA_ENROL = "auth.mfa_enrol", _("二要素認証の登録")
    AUTH_MFA_VERIFY = "auth.mfa_verify", _("二要素認証")
    AUTH_MFA_FAILED = "auth.mfa_failed", _("二要素認証の失敗")
    AUTH_MFA_RECOVERY_USED = "auth.mfa_recovery_used", _("復元コードの使用")
    AUTH_MFA_RESET = "auth.mfa_reset", _("二要素認証のリセット")


class AgencyReason(models.TextChoices):
    """Why the agencies app refused an attempt (signing in, second factor, API keys, provisioning)."""

    BAD_CREDENTIALS = "bad_credentials", _("ユーザー名またはパスワードの誤り")
    THROTTLED_ACCOUNT = "throttled_account", _("ログイン試行の制限（アカウント）")
    THROTTLED_ADDRESS = "throttled_address", _("ログイン試行の制限（接続元）")
    BAD_CODE = "bad_code", _("確認コードの誤り")
    NO_DEVICE = "no_device", _("二要素認証が未登録")
    MALFORMED = "malformed", _("形式が正しくないAPIキー")
    UNKNOWN = "unknown", _("存在しないAPIキー")
    REVOKED = "revoked", _("無効化されたAPIキー")
    EXPIRED = "expired", _("期限切れのAPIキー")
    INACTIVE_USER = "inactive_user", _("無効化された利用者")
    NOT_AGENCY_ADMIN = "not_agency_admin", _("機関管理者ではない")
    NOT_INTEGRATION = "not_integration", _("連携システムの利用者ではない")
    NOT_OPERATOR = "not_operator", _("運用担当者ではない")
    OTHER_AGENCY = "other_agency", _("他機関の職員")
