"""Forms of the support meeting (支援会議) pages: convening a meeting, its minutes with their action items
(役割分担). They parse what the browser sends into the types ``cases.services`` takes; the rules (who may convene,
which clients and agencies, the share period) are the services'."""

import re
from typing import cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import AgencyKind
from cases.models import ShareLevel
from tsunagu.errors import InvalidInput
from tsunagu.ids import parse_uuid

from .forms import ServiceForm, date_field

SHARE_DAYS_DEFAULT = 90
SHARE_DAYS_MAX = 365
# The minutes form shows this many blank action item rows without JavaScript (static JS adds more).
ACTION_ROWS = 3
ACTION_ROWS_MAX = 50
ITEM_ERROR = re.compile(r"action_items\.(\d+)")

# The levels a meeting may grant (never ``manage``).
MEETING_LEVELS = [(ShareLevel.READ.value, ShareLevel.READ.label), (ShareLevel.APPEND.value, ShareLevel.APPEND.label)]


class _OfferedIds(forms.MultipleChoiceField):
    """Offers the listed choices, but passes any well-formed id on: the service decides, and audits a refusal."""

    def valid_value(self, value) -> bool:
        return parse_uuid(value) is not None


def client_label(client) -> str:
    return f"{client.name}（{client.case_number}）"


class MeetingForm(ServiceForm):
    title = forms.CharField(
        label=_("会議名"),
        max_length=200,
        help_text=_("例: 8050世帯の支援方針検討会議。出席機関と、個人情報保護管理者を除く関係者に表示されます。"),
        error_messages={"required": _("会議名を入力してください。")},
    )
    held_on = date_field(_("開催日"), error_messages={"required": _("開催日を入力してください。")})
    clients = _OfferedIds(
        label=_("話し合う支援対象者"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("自機関が共有管理の権限を持つ支援対象者から選びます。"),
        error_messages={"required": _("支援対象者を1人以上選んでください。")},
    )
    attendees = forms.MultipleChoiceField(
        label=_("出席する機関"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("出席する機関を1つ以上選んでください。"),
            "invalid_choice": _("選べない機関です: %(value)s"),
        },
    )
    share_level = forms.ChoiceField(
        label=_("出席機関への共有レベル"),
        choices=MEETING_LEVELS,
        initial=ShareLevel.READ.value,
        widget=forms.RadioSelect,
    )
    share_days = forms.IntegerField(
        label=_("共有期間（日）"),
        min_value=1,
        max_value=SHARE_DAYS_MAX,
        initial=SHARE_DAYS_DEFAULT,
        help_text=_("開催日から数えます（1〜365日）。期間が過ぎると共有は自動的に終わります。"),
        error_messages={
            "required": _("共有期間を入力してください。"),
            "min_value": _("共有期間は1日以上にしてください。"),
            "max_value": _("共有期間は365日以内にしてください。"),
            "invalid": _("共有期間は日数（数字）で入力してください。"),
        },
    )
    error_fields = {"clients": "clients", "attendees": "attendees"}

    def __init__(self, *args, clients=(), agencies=(), **kwargs):
        kwargs.setdefault("auto_id", "meeting-%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound and "held_on" not in self.initial:
            self.initial["held_on"] = timezone.localdate()
        cast(forms.ChoiceField, self.fields["clients"]).choices = [(str(c.id), client_label(c)) for c in clients]
        cast(forms.ChoiceField, self.fields["attendees"]).choices = [
            (a.code, f"{a.name}（{AgencyKind(a.kind).label}）") for a in agencies
        ]

    def chosen_client_ids(self) -> list[str]:
        """The ids ticked (valid or not yet validated), to keep them ticked when the list is searched again."""
        if not self.is_bound:
            return [str(v) for v in self.initial.get("clients", [])]
        getlist = getattr(self.data, "getlist", None)
        name = self.add_prefix("clients")
        values = getlist(name) if getlist is not None else list(self.data.get(name) or [])
        return [v for v in values if parse_uuid(v) is not None]


class MinutesForm(ServiceForm):
    summary = forms.CharField(
        label=_("概要"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        help_text=_("話し合った内容。各支援対象者の支援記録（会議）に残ります。"),
        error_messages={"required": _("概要を入力してください。")},
    )
    decisions = forms.CharField(
        label=_("決定事項"), required=False, widget=forms.Textarea(attrs={"rows": 3}), strip=True
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "minutes-%s")
        super().__init__(*args, **kwargs)


class ActionItemForm(forms.Form):
    """One row of 役割分担: which agency does what for which client, by when. A row left blank is skipped."""

    agency = forms.ChoiceField(label=_("担当機関"), error_messages={"required": _("担当機関を選んでください。")})
    client = forms.ChoiceField(label=_("支援対象者"), error_messages={"required": _("支援対象者を選んでください。")})
    task = forms.CharField(
        label=_("役割・内容"),
        max_length=1000,
        strip=True,
        error_messages={"required": _("役割・内容を入力してください。")},
    )
    due_on = date_field(_("期限"), required=False)

    def __init__(self, *args, agencies=(), clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        blank = [("", _("選択してください"))]
        cast(forms.ChoiceField, self.fields["agency"]).choices = blank + list(agencies)
        cast(forms.ChoiceField, self.fields["client"]).choices = blank + list(clients)


class BaseActionItemFormSet(forms.BaseFormSet):
    def __init__(self, *args, agencies=(), clients=(), **kwargs):
        self.agency_choices = list(agencies)
        self.client_choices = list(clients)
        kwargs.setdefault("prefix", "items")
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"agencies": self.agency_choices, "clients": self.client_choices}

    def filled(self) -> list:
        """The rows filled in (a blank row is skipped), in order."""
        return [f for f in self.forms if getattr(f, "cleaned_data", None) and f.has_changed()]

    def items(self) -> list[object]:
        """The filled rows, as ``meeting_minutes_record`` takes them."""
        return [{k: f.cleaned_data[k] for k in ("agency", "client", "task", "due_on")} for f in self.filled()]

    def add_service_errors(self, exc: InvalidInput) -> dict:
        """Put the service's ``action_items.<i>`` errors on the row they are about; return the other errors."""
        rows = self.filled()
        rest = {}
        for field, messages in exc.errors.items():
            match = ITEM_ERROR.fullmatch(field)
            if match and int(match.group(1)) < len(rows):
                for message in messages:
                    rows[int(match.group(1))].add_error(None, message)
            else:
                rest[field] = messages
        return rest


ActionItemFormSet = cast(
    type[BaseActionItemFormSet],
    forms.formset_factory(
        ActionItemForm,
        formset=BaseActionItemFormSet,
        extra=ACTION_ROWS,
        max_num=ACTION_ROWS_MAX,
        validate_max=True,
        absolute_max=ACTION_ROWS_MAX,
    ),
)
