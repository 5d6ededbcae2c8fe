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
