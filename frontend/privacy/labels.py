"""Display labels for the audit log's codes (actions, outcomes, channels, anomaly rules), translatable."""

from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "client.list": _("一覧の表示"),
    "client.search": _("検索"),
    "client.view": _("基本情報の閲覧"),
    "client.create": _("新規登録"),
    "client.update": _("基本情報の変更"),
    "timeline.view": _("支援記録の閲覧"),
    "timeline.append": _("支援記録の追加"),
    "timeline.correct": _("支援記録の訂正"),
    "share.grant": _("共有の設定"),
    "share.revoke": _("共有の解除"),
    "share.expire": _("共有の期限切れ"),
    "share.manage": _("共有設定の操作"),
    "break_glass": _("緊急アクセス"),
    "export": _("エクスポート"),
    "audit.view": _("監査ログの閲覧"),
    "audit.client_lookup": _("支援対象者の識別情報の照会"),
    "audit.term_search": _("検索語の照合"),
    "audit.flag_review": _("フラグの確認メモ"),
    "audit.detect_anomalies": _("異常検知の実行"),
    "auth.login": _("ログイン"),
    "auth.login_failed": _("ログイン失敗"),
    "auth.logout": _("ログアウト"),
    "auth.mfa_enrol": _("二要素認証の登録"),
    "auth.mfa_verify": _("二要素認証"),
    "auth.mfa_failed": _("二要素認証の失敗"),
    "auth.mfa_recovery_used": _("復元コードの使用"),
    "auth.mfa_reset": _("二要素認証のリセット"),
    "apikey.issue": _("APIキーの発行"),
    "apikey.revoke": _("APIキーの無効化"),
}
ADMIN_ACTION = _("管理画面の操作")
OUTCOMES = {"allowed": _("許可"), "denied": _("拒否"), "error": _("エラー")}
CHANNELS = {
    "web": _("ブラウザ"),
    "api": _("API"),
    "task": _("バックグラウンド処理"),
    "cli": _("管理コマンド"),
    "admin": _("管理画面"),
}
ENCODINGS = {"utf-8-sig": _("UTF-8（BOM付き・Excel向け）"), "shift_jis": _("Shift_JIS")}
FLAG_RULES = {
    "after_hours": _("時間外のアクセス"),
    "many_clients": _("短時間に多数の対象者へのアクセス"),
    "repeated_denials": _("拒否の繰り返し"),
    "break_glass": _("緊急アクセスの利用"),
    "after_share_end": _("共有終了直後のアクセス"),
}
FLAG_STATUSES = {"open": _("未対応"), "closed": _("対応済み")}
BASES = {"share": _("共有（アクセス権）"), "break_glass": _("緊急アクセス")}


def action_label(code: str) -> str:
    if code in ACTIONS:
        return str(ACTIONS[code])
    if code.startswith("admin."):
        return f"{ADMIN_ACTION}（{code[len('admin.') :]}）"
    return code


def basis_label(authorised_by: str) -> str:
    """What authorised an access: ``share:<id>`` or ``break_glass:<id>`` (empty: none recorded)."""
    kind = (authorised_by or "").partition(":")[0]
    return str(BASES.get(kind, "")) if kind else ""


def table_label(table: dict, code: str) -> str:
    return str(table.get(code, code))
