"""Forms of the privacy officer's console: they parse what the browser sends into the types the review functions
take. The rules (who may, what is valid) live there."""

from datetime import date, datetime, time, timedelta
from typing import cast, overload

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.models import Channel, Outcome

from ..forms import ServiceForm, date_field


@overload
def day_start(day: date) -> datetime: ...
@overload
def day_start(day: None) -> None: ...
def day_start(day: date | None) -> datetime | None:
    """The start of a day in Japan time (the dates on these forms are Japanese calendar days)."""
    return timezone.make_aware(datetime.combine(day, time(0, 0))) if day else None


@overload
def day_end(day: date) -> datetime: ...
@overload
def day_end(day: None) -> None: ...
def day_end(day: date | None) -> datetime | None:
    """The end of a day in Japan time, as the exclusive bound (the next day's start)."""
    return day_start(day + timedelta(days=1)) if day else None


class ClientLookupForm(ServiceForm):
    """A client picked from the lookup: ``client_q`` is what the officer types, ``client`` the id they picked. The
    review functions' errors about the client are shown on ``client_q`` (subclasses extend ``error_fields``)."""

    client_q = forms.CharField(
        label=_("支援対象者（ケース番号・氏名・フリガナ）"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    client = forms.UUIDField(required=False, widget=forms.HiddenInput)
    error_fields = {"client_id": "client_q", "client": "client_q", "q": "client_q"}


class EventFilterForm(ClientLookupForm):
    """監査ログ検索の条件。"""

    username = forms.CharField(label=_("職員（ユーザー名）"), required=False, max_length=150)
    agency = forms.ChoiceField(label=_("機関"), required=False)
    action = forms.CharField(
        label=_("操作"),
        required=False,
        max_length=48,
        help_text=_("完全一致。末尾を「.」にすると前方一致（例: share.）"),
    )
    outcome = forms.ChoiceField(label=_("結果"), required=False, choices=[("", _("すべて")), *Outcome.choices])
    channel = forms.ChoiceField(label=_("経路"), required=False, choices=[("", _("すべて")), *Channel.choices])
    since = date_field(_("開始日"), required=False)
    until = date_field(_("終了日"), required=False)
    error_fields = {**ClientLookupForm.error_fields, "actor": "username"}

    def __init__(self, *args, agencies=(), **kwargs):
        kwargs.setdefault("auto_id", "f-%s")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["agency"]).choices = [("", _("すべて"))] + [
            (a.code, a.name) for a in agencies
        ]

    def review_filters(self) -> dict:
        """The keyword arguments of ``audit.review.review_events`` (and of an export) for these conditions."""
        data = self.cleaned_data
        return {
            "client_id": data.get("client"),
            "username": data.get("username", ""),
            "agency": data.get("agency", ""),
            "action": data.get("action", ""),
            "outcome": data.get("outcome", ""),
            "channel": data.get("channel", ""),
            "since": day_start(data.get("since")),
            "until": day_end(data.get("until")),
        }


class TermSearchForm(ServiceForm):
    """「この氏名で検索した人はいるか」: the term is posted, never put in a URL, and never stored."""

    term = forms.CharField(
        label=_("検索語（氏名・フリガナ・ケース番号・タグ・ユーザー名）"),
        max_length=100,
        help_text=_("職員が検索に使った語を照合します。入力した語は保存されません。"),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
        error_messages={"required": _("検索語を入力してください。")},
    )
    since = date_field(_("開始日"), required=False)
    until = date_field(_("終了日"), required=False)
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    error_fields = {"terms": "term"}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "t-%s")
        super().__init__(*args, **kwargs)


class DisclosureForm(ClientLookupForm):
    since = date_field(_("対象期間（開始日）"), error_messages={"required": _("開始日を入力してください。")})
    until = date_field(_("対象期間（終了日）"), error_messages={"required": _("終了日を入力してください。")})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "d-%s")
        super().__init__(*args, **kwargs)


class FlagNoteForm(ServiceForm):
    note = forms.CharField(
        label=_("確認内容（レビューメモ）"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        help_text=_("記録したメモは変更・削除できません。"),
        error_messages={"required": _("確認内容を入力してください。")},
    )
    close = forms.BooleanField(label=_("このフラグを対応済みにする"), required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "n-%s")
        super().__init__(*args, **kwargs)
