"""Forms: they parse what the browser sends into the types the services take, and carry the services' errors
back to the fields. The rules themselves (required, lengths, who may do what) live in the services."""

from datetime import datetime, time, timedelta
from typing import cast

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import AgencyKind, Role
from cases.models import USER_ENTRY_KINDS, ClientStatus, ShareBasis, ShareLevel
from tsunagu.errors import InvalidInput

# Tags offered as checkboxes when registering; any other tag can be typed in.
COMMON_TAGS = ("高齢", "障がい", "生活困窮", "子ども", "ひきこもり", "8050")

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=DATETIME_INPUT)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d"]
DATE_ERROR = _("日付は YYYY-MM-DD の形式で入力してください。")


def date_field(label, *, error_messages=None, **kwargs) -> forms.DateField:
    """A calendar date typed or picked (YYYY-MM-DD, or YYYY/MM/DD)."""
    return forms.DateField(
        label=label,
        widget=DateInput(),
        input_formats=DATE_FORMATS,
        error_messages={"invalid": DATE_ERROR, **(error_messages or {})},
        **kwargs,
    )


class _CheckboxInput(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name):
        # What was sent, for CheckboxField to judge (Django's own widget turns any string into True).
        return data.get(name) if name in data else False


class CheckboxField(forms.BooleanField):
    """A checkbox: on ("on", as browsers send it, or true/1) or off (absent, empty, false/0); any other value is an
    error, not "on" (Django's checkbox takes every other string as true)."""

    widget = _CheckboxInput

    ON = frozenset({"on", "true", "True", "1"})
    OFF = frozenset({"", "off", "false", "False", "0"})

    def to_python(self, value):
        if value is None or value is False or value in self.OFF:
            return False
        if value is True or value in self.ON:
            return True
        raise forms.ValidationError(_("チェックボックスの値が不正です。"), code="invalid")


class ServiceForm(forms.Form):
    """A form that can take a service's ``InvalidInput`` errors onto its fields."""

    # Service field names that this form shows under another field.
    error_fields: dict[str, str] = {}

    def add_service_errors(self, exc: InvalidInput) -> None:
        for field, messages in exc.errors.items():
            name = self.error_fields.get(field, field)
            # Errors of unknown or hidden fields are shown above the form, where they can be seen.
            target = name if name in self.fields and not self.fields[name].widget.is_hidden else None
            for message in messages:
                self.add_error(target, message)


class MultipleFileInput(forms.FileInput):
    """A file input that takes several files (Django's "Uploading multiple files")."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files under one name (the file button's and the camera's alike); cleans to a list, empty when
    none was chosen. What a file may be (type, size, how many) is the attachment service's rule."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_empty_file", True)  # refused by the attachment service, which names the file
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


# What the file button offers (the server decides by content; this only narrows the picker).
ATTACHMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png,.heic,.heif,.docx,.xlsx,.pptx,.odt,.ods,.odp,application/pdf,image/*"


class EntryForm(ServiceForm):
    kind = forms.ChoiceField(label=_("種類"), choices=[(k.value, k.label) for k in USER_ENTRY_KINDS])
    occurred_at = forms.DateTimeField(
        label=_("日時"),
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        error_messages={"invalid": _("日時は「2026-11-23 14:05」の形式で入力してください。")},
    )
    body = forms.CharField(
        label=_("内容"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        error_messages={"required": _("内容を入力してください。")},
    )
    corrects = forms.CharField(required=False, widget=forms.HiddenInput)
    # Named "files" as the inputs are; the metaclass moves it to ``base_fields``, so it does not shadow the form's
    # own ``files`` (the uploaded files) at run time.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("添付ファイル"),
        widget=MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}),
        error_messages={"invalid": _("ファイルを送信できませんでした。もう一度選んでください。")},
    )

    # The attachment service's errors (by file) are shown beside the file button.
    error_fields = {"attachments": "files", "file": "files"}

    def __init__(self, *args, prefix_id: str = "entry", **kwargs):
        kwargs.setdefault("auto_id", f"{prefix_id}-%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound and "occurred_at" not in self.initial:
            self.initial["occurred_at"] = timezone.localtime().replace(second=0, microsecond=0)

    @property
    def attachment_limits(self) -> dict[str, object]:
        """The attachment limits (settings), for the form's hint and its script's checks; the server's own check
        is what counts."""
        return {
            "max_files": settings.ATTACHMENT_MAX_FILES,
            "max_bytes": settings.ATTACHMENT_MAX_BYTES,
            "max_entry_bytes": settings.ATTACHMENT_MAX_ENTRY_BYTES,
            "file_size": megabytes(settings.ATTACHMENT_MAX_BYTES),
            "entry_size": megabytes(settings.ATTACHMENT_MAX_ENTRY_BYTES),
        }


def megabytes(size: int) -> str:
    """A limit in bytes as people write it: 20MB, 1.5MB, 500KB."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{size}B"


class ClientForm(ServiceForm):
    name = forms.CharField(label=_("氏名"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    name_kana = forms.CharField(
        label=_("フリガナ"),
        max_length=200,
        help_text=_("ひらがな・カタカナのどちらでも入力できます。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = date_field(
        _("生年月日"), error_messages={"invalid": _("生年月日は YYYY-MM-DD の形式で入力してください。")}
    )
    address = forms.CharField(label=_("住所"), required=False, max_length=1000)
    address_confidential = CheckboxField(
        label=_("住所を秘匿する（DV等支援措置）"),
        required=False,
        help_text=_("登録機関以外には住所が表示されません。"),
    )
    phone = forms.CharField(
        label=_("電話番号"), required=False, max_length=100, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    tags = forms.MultipleChoiceField(
        label=_("タグ"),
        required=False,
        choices=[(t, t) for t in COMMON_TAGS],
        widget=forms.CheckboxSelectMultiple,
    )
    other_tags = forms.CharField(
        label=_("その他のタグ"), required=False, max_length=300, help_text=_("読点（、）またはカンマで区切ります。")
    )
    basis = forms.ChoiceField(label=_("登録の根拠"), choices=ShareBasis.choices, initial="consent")

    def tag_list(self) -> list[str]:
        other = self.cleaned_data.get("other_tags", "").replace("、", ",").replace("，", ",")
        return list(self.cleaned_data.get("tags", [])) + [t.strip() for t in other.split(",") if t.strip()]


class ClientEditForm(ClientForm):
    """基本情報を編集: the registration form's profile fields, filled in from the client (no basis: that belongs to
    the registration). A confidential address the viewer's agency may not see is left out of the form, and so out
    of the changes: it stays as it is (a crafted post that sends it is refused by the service)."""

    basis = None  # type: ignore[assignment]  # removes the registration's field (Django's way of dropping one)

    def __init__(self, data=None, *, client=None, address_masked: bool = False, **kwargs):
        if client is not None:
            address_masked = client.address_masked
            kwargs.setdefault(
                "initial",
                {
                    "name": client.name,
                    "name_kana": client.name_kana,
                    "birth_date": client.birth_date,
                    "address": client.address or "",
                    "address_confidential": client.address_confidential,
                    "phone": client.phone,
                    "tags": [t for t in client.tags if t in COMMON_TAGS],
                    "other_tags": "、".join(t for t in client.tags if t not in COMMON_TAGS),
                },
            )
        super().__init__(data, **kwargs)
        self.address_masked = address_masked
        if address_masked:
            del self.fields["address"], self.fields["address_confidential"]

    def changes(self) -> dict:
        """What ``client_update`` is asked to change (it changes only what differs)."""
        data = self.cleaned_data
        fields = ["name", "name_kana", "birth_date", "phone"]
        if not self.address_masked:
            fields += ["address", "address_confidential"]
        return {**{f: data[f] for f in fields}, "tags": self.tag_list()}


class StatusChangeForm(ServiceForm):
    status = forms.ChoiceField(label=_("変更後の状態"), choices=ClientStatus.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("変更の理由"),
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=True,
        help_text=_("支援記録に残り、共有先の機関も閲覧します。"),
        error_messages={"required": _("変更の理由を入力してください。")},
    )

    def __init__(self, *args, current: str = "", **kwargs):
        kwargs.setdefault("auto_id", "status-%s")
        super().__init__(*args, **kwargs)
        if current:
            self.offer_other_than(current)

    def offer_other_than(self, current: str) -> None:
        """Offer the states other than the current one (a post of the current one is refused by the service, with
        its own message)."""
        cast(forms.ChoiceField, self.fields["status"]).choices = [c for c in ClientStatus.choices if c[0] != current]


class ShareGrantForm(ServiceForm):
    agency = forms.ChoiceField(label=_("共有先の機関"))
    level = forms.ChoiceField(label=_("共有レベル"), choices=ShareLevel.choices, initial="read")
    basis = forms.ChoiceField(label=_("共有の根拠"), choices=ShareBasis.choices)
    basis_note = forms.CharField(
        label=_("根拠の補足"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("同意書の日付、支援会議の開催日など（任意）"),
    )
    expires_on = date_field(_("有効期限"), required=False, help_text=_("この日の終わりまで共有します（任意）。"))
    error_fields = {"expires_at": "expires_on"}

    def __init__(self, *args, agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["agency"]).choices = [("", _("選択してください"))] + [
            (a.code, f"{a.name}（{AgencyKind(a.kind).label}）") for a in agencies
        ]

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        end = datetime.combine(day, time(0, 0)) + timedelta(days=1) - timedelta(seconds=1)
        return timezone.make_aware(end)


class _OfferedUser(forms.ChoiceField):
    """Offers the allowed holders, but passes any user id on: the service decides, and audits a refusal."""

    def valid_value(self, value) -> bool:
        return True

    def to_python(self, value):
        value = super().to_python(value)
        if value and not value.isdigit():
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return value


class ApiKeyForm(ServiceForm):
    user = _OfferedUser(label=_("利用する職員"))
    name = forms.CharField(
        label=_("キーの名前"), max_length=100, help_text=_("用途がわかる名前（例: ケース管理システム連携）")
    )
    expires_in_days = forms.IntegerField(
        label=_("有効期間（日）"),
        required=False,
        min_value=1,
        max_value=3650,
        initial=90,
        help_text=_("空欄にすると無期限です。"),
    )
    read_only = forms.BooleanField(
        label=_("閲覧専用にする"),
        required=False,
        help_text=_("読み取りだけを行う連携（集計・保管など）に。このキーでの追記や変更は拒否され、記録されます。"),
    )

    def __init__(self, *args, staff=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["user"]).choices = [("", _("選択してください"))] + [
            (str(s.user_id), f"{s.display_name}（{s.username}・{Role(s.role).label}）") for s in staff
        ]


class BreakGlassForm(ServiceForm):
    name_kana = forms.CharField(
        label=_("フリガナ"),
        max_length=200,
        help_text=_("登録されているフリガナと同じ読みを入力します（ひらがな・カタカナ、空白の有無は問いません）。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("フリガナを入力してください。")},
    )
    birth_date = date_field(_("生年月日"), error_messages={"required": _("生年月日を入力してください。")})
    reason = forms.CharField(
        label=_("緊急アクセスの理由"),
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=True,
        help_text=_("例: 救急搬送の連絡があり、緊急連絡先と服薬状況を確認するため"),
        error_messages={"required": _("緊急アクセスの理由を入力してください。")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "bg-%s")
        super().__init__(*args, **kwargs)


class InquiryForm(ServiceForm):
    """照会する: the addressees among the other agencies sharing the client, the subject, the question, a due date."""

    to = forms.MultipleChoiceField(
        label=_("宛先の機関"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("この支援対象者を共有している他の機関から選びます（複数可）。"),
        error_messages={"required": _("宛先の機関を1つ以上選んでください。")},
    )
    subject = forms.CharField(label=_("件名"), max_length=200, strip=True)
    body = forms.CharField(
        label=_("照会の内容"),
        widget=forms.Textarea(attrs={"rows": 6}),
        strip=True,
        error_messages={"required": _("照会の内容を入力してください。")},
    )
    due_on = date_field(_("回答期限"), required=False, help_text=_("任意。過去の日付は指定できません。"))

    def __init__(self, *args, agencies: list[tuple[str, str]] = (), **kwargs):  # type: ignore[assignment]
        kwargs.setdefault("auto_id", "inquiry-%s")
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["to"]).choices = list(agencies)


class InquiryReplyForm(ServiceForm):
    body = forms.CharField(
        label=_("回答・追記"),
        widget=forms.Textarea(attrs={"rows": 5}),
        strip=True,
        error_messages={"required": _("内容を入力してください。")},
    )
    error_fields = {"inquiry": "__all__"}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "reply-%s")
        super().__init__(*args, **kwargs)


class ImportUploadForm(ServiceForm):
    """機関管理 → kintone から移行: the export, the comments (optional) and the mapping (a file or pasted). What
    the files may be (size, the ZIP's content) is ``cases.import_uploads``'s rule; the mapping's, the import's."""

    records = forms.FileField(
        label=_("レコードのファイル"),
        help_text=_("kintone から書き出した records.json（REST API）または CSV ファイル"),
        allow_empty_file=True,  # refused with the upload's own message
        error_messages={"required": _("レコードのファイルを選んでください。")},
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.csv,.tsv,.txt,application/json,text/csv"}),
    )
    comments = forms.FileField(
        label=_("コメントの ZIP（任意）"),
        help_text=_("レコードのコメントを保存した JSON（<レコードID>.json、<レコードID>_<n>.json）をまとめた ZIP"),
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    mapping_file = forms.FileField(
        label=_("対応表のファイル（TOML）"),
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".toml,text/plain"}),
    )
    mapping_text = forms.CharField(
        label=_("または対応表を貼り付け"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck": "false"}),
    )
    error_fields = {"mapping": "mapping_text", "run": "records"}

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("mapping_file") and (cleaned.get("mapping_text") or "").strip():
            self.add_error("mapping_text", _("対応表はファイルか貼り付けのどちらか一方にしてください。"))
        elif cleaned.get("mapping_file"):
            self.error_fields = {**self.error_fields, "mapping": "mapping_file"}
        return cleaned
