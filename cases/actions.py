"""What the cases app writes to the audit log (action codes) and announces to other agencies (outbox topics)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.actions import Trait


class CaseAction(models.TextChoices):
    CLIENT_LIST = "client.list", _("一覧の表示")
    CLIENT_SEARCH = "client.search", _("検索")
    CLIENT_VIEW = "client.view", _("基本情報の閲覧")
    CLIENT_CREATE = "client.create", _("新規登録")
    CLIENT_UPDATE = "client.update", _("基本情報の変更")
    TIMELINE_VIEW = "timeline.view", _("支援記録の閲覧")
    TIMELINE_APPEND = "timeline.append", _("支援記録の追加")
    TIMELINE_CORRECT = "timeline.correct", _("支援記録の訂正")
    SHARE_LIST = "share.list", _("共有設定の閲覧")
    SHARE_MANAGE = "share.manage", _("共有設定の操作")
    SHARE_GRANT = "share.grant", _("共有の設定")
    SHARE_REVOKE = "share.revoke", _("共有の解除")
    SHARE_EXPIRE = "share.expire", _("共有の期限切れ")
    SHARE_ENDED_LIST = "share.ended_list", _("共有が終了したケースの確認")
    BREAK_GLASS = "break_glass", _("緊急アクセス")
    ASSIGNMENT_ADD = "assignment.add", _("担当者の追加")
    ASSIGNMENT_REMOVE = "assignment.remove", _("担当者の解除")
    NOTICE_LIST = "notice.list", _("お知らせの表示")
    WEBHOOK_REGISTER = "webhook.register", _("Webhook の登録")
    WEBHOOK_DISABLE = "webhook.disable", _("Webhook の停止")
    WEBHOOK_DELIVER = "webhook.deliver", _("Webhook の送信")
    # Working together (PRODUCT §6.1): inquiries, support meetings and their action items.
    INQUIRY_CREATE = "inquiry.create", _("照会の送信")
    INQUIRY_VIEW = "inquiry.view", _("照会の閲覧")
    INQUIRY_LIST = "inquiry.list", _("照会一覧の表示")
    INQUIRY_REPLY = "inquiry.reply", _("照会への回答")
    INQUIRY_CLOSE = "inquiry.close", _("照会の終了")
    MEETING_CREATE = "meeting.create", _("支援会議の登録")
    MEETING_CONFIRM = "meeting.confirm", _("支援会議の守秘義務の確認")
    MEETING_VIEW = "meeting.view", _("支援会議の閲覧")
    MEETING_LIST = "meeting.list", _("支援会議一覧の表示")
    MEETING_MINUTES = "meeting.minutes", _("支援会議の記録")
    TASK_LIST = "task.list", _("役割分担一覧の表示")
    TASK_DONE = "task.done", _("役割分担の完了")
    # Attachments (files on timeline entries)
    ATTACHMENT_UPLOAD = "attachment.upload", _("添付ファイルの登録")
    ATTACHMENT_DOWNLOAD = "attachment.download", _("添付ファイルのダウンロード")
    ATTACHMENT_THUMBNAIL = "attachment.thumbnail", _("添付ファイルの縮小画像の表示")
    ATTACHMENT_INTEGRITY_FAILED = "attachment.integrity_failed", _("添付ファイルの改ざん・破損の検知")
    ATTACHMENT_VERIFY = "attachment.verify", _("添付ファイルの整合性検査")
    ATTACHMENT_PURGE = "attachment.purge", _("保存期間を過ぎた添付ファイルの削除")
    ATTACHMENT_REKEY = "attachment.rekey", _("添付ファイルの暗号鍵の更新")
    # Moving in from kintone (cases.services.imports): one event per run, and one per client, share and entry made
    IMPORT_RUN = "import.run", _("kintone からの取込")
    IMPORT_CLIENT = "import.client", _("取込による支援対象者の登録・更新")
    IMPORT_SHARE = "import.share", _("取込による共有の設定")
    IMPORT_ENTRY = "import.entry", _("取込による支援記録の追加")
    IMPORT_REPORT = "import.report", _("取込結果の表示")


class CaseReason(models.TextChoices):
    """Why the cases app refused an attempt (``AuditEvent.reason``)."""

    NO_AGENCY = "no_agency", _("所属機関がない")
    NO_SHARE = "no_share", _("共有されていない")
    SHARE_REVOKED = "share_revoked", _("共有は解除済み")
    SHARE_EXPIRED = "share_expired", _("共有は期限切れ")
    SHARE_PENDING = "share_pending", _("支援会議の守秘義務の確認待ち")
    NOT_ATTENDEE = "not_attendee", _("支援会議の参加機関ではない")
    NOT_CONVENER = "not_convener", _("支援会議の開催機関ではない")
    NOT_ASSIGNEE = "not_assignee", _("役割分担の担当機関ではない")
    NO_PERMISSION = "no_permission", _("アクセス権の設定がない")
    INSUFFICIENT_LEVEL = "insufficient_level", _("共有のレベルが足りない")
    BREAK_GLASS_READ_ONLY = "break_glass_read_only", _("緊急アクセスは閲覧のみ")
    NOT_OWN_ENTRY = "not_own_entry", _("他機関の支援記録")
    NOT_OWNER = "not_owner", _("登録機関ではない")
    NO_MATCH = "no_match", _("該当する支援対象者なし")
    RENEWAL_SAME_REASON = "renewal_same_reason", _("同じ理由での延長")
    DELIVERY_FAILED = "delivery_failed", _("送信の失敗")
    NOT_INQUIRY_PARTY = "not_inquiry_party", _("照会の送信機関・宛先ではない")
    NOT_INQUIRY_SENDER = "not_inquiry_sender", _("照会の送信機関ではない")
    ADDRESS_CONFIDENTIAL = "address_confidential", _("住所秘匿（DV等）の支援対象者の添付ファイル")
    ATTACHMENT_PURGED = "attachment_purged", _("保存期間を過ぎて削除済みの添付ファイル")
    ATTACHMENT_DAMAGED = "attachment_damaged", _("整合性を確認できない添付ファイル")


# What the audit layer's anomaly rules need to know about these actions (see audit.actions.Trait).
CASE_ACTION_TRAITS = {
    Trait.CASE_DATA: [
        a
        for a in CaseAction
        if a.value.split(".")[0]
        in ("client", "timeline", "share", "assignment", "notice", "inquiry", "meeting", "task", "import")
        or a
        in (
            CaseAction.BREAK_GLASS,
            CaseAction.ATTACHMENT_UPLOAD,
            CaseAction.ATTACHMENT_DOWNLOAD,
            CaseAction.ATTACHMENT_THUMBNAIL,
        )
    ],
    # The inbox names the clients of its notices, like a list page: an exposure, not an opening.
    Trait.LISTING: [
        CaseAction.CLIENT_LIST,
        CaseAction.CLIENT_SEARCH,
        CaseAction.NOTICE_LIST,
        CaseAction.INQUIRY_LIST,
        CaseAction.MEETING_LIST,
        CaseAction.TASK_LIST,
    ],
    Trait.SHARE_GRANT: [CaseAction.SHARE_GRANT, CaseAction.IMPORT_SHARE],
    Trait.SHARE_REVOKE: [CaseAction.SHARE_REVOKE],
    Trait.SHARE_EXPIRE: [CaseAction.SHARE_EXPIRE],
    Trait.BREAK_GLASS: [CaseAction.BREAK_GLASS],
    Trait.RECORDS_READ: [CaseAction.TIMELINE_VIEW, CaseAction.ATTACHMENT_DOWNLOAD, CaseAction.ATTACHMENT_THUMBNAIL],
}


class Topic(models.TextChoices):
    """Outbox topics: a change that other sharing agencies hear of (in-app notice, e-mail, webhook)."""

    TIMELINE_APPEND = "timeline.append", _("支援記録が追加されました")
    TIMELINE_CORRECT = "timeline.correct", _("支援記録が訂正されました")
    SHARE_GRANT = "share.grant", _("共有が開始されました")
    SHARE_REVOKE = "share.revoke", _("共有が解除されました")
    SHARE_EXPIRE = "share.expire", _("共有の期限が切れました")
    CLIENT_STATUS = "client.status", _("支援状態が変更されました")
    BREAK_GLASS = "break_glass", _("緊急アクセスが行われました")
    INQUIRY_CREATE = "inquiry.create", _("照会が届きました")
    INQUIRY_REPLY = "inquiry.reply", _("照会に回答がありました")
    INQUIRY_CLOSE = "inquiry.close", _("照会が終了しました")
    MEETING_CREATE = "meeting.create", _("支援会議への参加依頼が届きました")
    MEETING_MINUTES = "meeting.minutes", _("支援会議の記録が追加されました")
    TASK_DONE = "task.done", _("役割分担が完了しました")


# Topics a partner system's webhook is told of.
WEBHOOK_TOPICS = frozenset({Topic.TIMELINE_APPEND, Topic.TIMELINE_CORRECT})
