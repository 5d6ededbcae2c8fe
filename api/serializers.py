"""Small input and output serializers, one pair per view.

Input serializers check the shape of the raw request — JSON types, required fields, enums, lengths and the patterns
of ``api.formats`` — which is exactly what the published schema states; the services own every business rule and
raise ``InvalidInput`` with field errors (the ones a schema cannot state are listed in ``api.schema``). Output
serializers render the read models of ``cases.read_models`` and ``agencies.selectors``; they never see a model
instance.
"""

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.models import Agency, AgencyKind, Role
from audit import actions
from audit.models import Channel, Outcome, VerifyKind
from cases.inquiry_selectors import Box
from cases.models import (
    USER_ENTRY_KINDS,
    ActionItemStatus,
    ClientStatus,
    EntryKind,
    InquiryStatus,
    ShareBasis,
    ShareLevel,
)
from cases.selectors import MAX_QUERY
from cases.services import (
    MAX_ADDRESS,
    MAX_ADDRESSEES,
    MAX_BASIS_NOTE,
    MAX_BODY,
    MAX_NAME,
    MAX_PHONE,
    MAX_SUBJECT,
    MAX_TAG_LENGTH,
    MAX_TAGS,
)
from cases.services.meetings import (
    MAX_ACTION_ITEMS,
    MAX_ATTENDEES,
    MAX_MEETING_CLIENTS,
    MAX_SHARE_DAYS,
    MAX_TASK,
    MAX_TITLE,
    MEETING_SHARE_LEVELS,
)
from cases.text import KANA_MAX_LENGTH
from tsunagu.keyset import BAD_CURSOR, MAX_PAGE_SIZE

from . import formats as f

AGENCY_CODE_MAX_LENGTH = Agency._meta.get_field("code").max_length

UNKNOWN_FIELD = _("この項目は指定できません。")
TAG_MESSAGE = _("タグに | や制御文字は使えません。")
KANA_MESSAGE = _("フリガナはひらがなまたはカタカナで入力してください。")
TEXT_MESSAGE = _("制御文字は使えません。")
REQUIRED_MESSAGE = _("空白以外の文字を入力してください（制御文字は使えません）。")


def _default_page_size() -> int:
    return settings.API_PAGE_SIZE


class InputSerializer(serializers.Serializer):
    """A request body: unknown fields are an error, not silently dropped (a typo must not look like success)."""

    def to_internal_value(self, data):
        unknown = set(data) - set(self.fields) if isinstance(data, dict) else set()
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update({field: [UNKNOWN_FIELD] for field in sorted(unknown)})
            raise
        if unknown:
            raise serializers.ValidationError({field: [UNKNOWN_FIELD] for field in sorted(unknown)})
        return value

    @classmethod
    def validated(cls, data, **kwargs) -> dict:
        serializer = cls(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class QuerySerializer(serializers.Serializer):
    """Query parameters: unknown ones are ignored (caches and proxies add their own)."""

    @classmethod
    def validated(cls, query) -> dict:
        # A plain dict, not the QueryDict: DRF would read an empty value as "absent" and silently apply the
        # default, where ``page_size=`` is an error. Empty filters are documented as "no filter" instead.
        serializer = cls(data=query.dict())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class PageQuery(QuerySerializer):
    cursor = f.StrictCharField(
        required=False,
        max_length=f.CURSOR_MAX_LENGTH,
        pattern=f.CURSOR_PATTERN,
        pattern_message=BAD_CURSOR,
        help_text=(
            "Opaque token copied from a `next` or `previous` link (absent: the first page). Only cursors the "
            "server issued for this list are accepted: any other well-formed token is a 400 with `errors.cursor`."
        ),
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=_default_page_size,
        help_text=f"Results per page (1–{MAX_PAGE_SIZE}, default 50).",
    )


def page_of(name: str, item_serializer) -> type[serializers.Serializer]:
    """The list envelope around ``item_serializer`` (a named class, so the schema gets one component each)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page, or null."),
            "results": item_serializer(many=True),
            "__doc__": f"One page of {item_serializer.__name__.removesuffix('Out')} items.",
        },
    )


# --- me and agencies -----------------------------------------------------------------------------------


class AgencyOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AgencyKind.choices)


class MeOut(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    agency = AgencyOut(allow_null=True, help_text="The agency the caller acts for (null: none, sees nothing).")
    role = serializers.ChoiceField(choices=Role.choices, allow_blank=True)
    is_privacy_officer = serializers.BooleanField()


AgencyPage = page_of("AgencyPage", AgencyOut)


# --- clients -------------------------------------------------------------------------------------------


class ClientQuery(PageQuery):
    q = f.StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_QUERY,
        pattern=f.LINE_PATTERN,
        pattern_message=TEXT_MESSAGE,
        help_text="Matches 氏名, フリガナ or case number.",
    )
    status = serializers.ChoiceField(choices=ClientStatus.choices, required=False, allow_blank=True)
    tag = f.StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TAG_LENGTH,
        pattern=f.TAG_PATTERN,
        pattern_message=TAG_MESSAGE,
        help_text="Clients carrying this tag.",
    )


class ClientOut(serializers.Serializer):
    id = serializers.UUIDField()
    case_number = serializers.CharField()
    name = serializers.CharField()
    name_kana = serializers.CharField()
    birth_date = serializers.DateField()
    address = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="Null when confidential and the caller is not the owner agency."
    )
    phone = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=ClientStatus.choices)
    owner_agency = serializers.CharField(source="owner_agency_code", help_text="Code of the owner agency.")
    my_level = serializers.ChoiceField(choices=ShareLevel.choices, help_text="The caller's agency's share level.")
    updated_at = serializers.DateTimeField()


ClientPage = page_of("ClientPage", ClientOut)


def _name(**kwargs) -> serializers.Field:
    return f.StrictCharField(
        max_length=MAX_NAME,
        pattern=f.REQUIRED_LINE_PATTERN,
        pattern_message=REQUIRED_MESSAGE,
        help_text="氏名 (stored with runs of spaces made one).",
        **kwargs,
    )


def _name_kana(**kwargs) -> serializers.Field:
    return f.StrictCharField(
        max_length=KANA_MAX_LENGTH,
        pattern=f.KANA_PATTERN,
        pattern_message=KANA_MESSAGE,
        help_text="フリガナ in hiragana or katakana (full or half width), spaces between names; stored in katakana.",
        **kwargs,
    )


def _birth_date(**kwargs) -> serializers.Field:
    return f.StrictDateField(help_text="生年月日: not later than today (Japan time).", **kwargs)


def _address(**kwargs) -> serializers.Field:
    return f.StrictCharField(
        allow_blank=True, max_length=MAX_ADDRESS, pattern=f.LINE_PATTERN, pattern_message=TEXT_MESSAGE, **kwargs
    )


def _phone(**kwargs) -> serializers.Field:
    return f.StrictCharField(
        allow_blank=True,
        max_length=MAX_PHONE,
        pattern=f.PHONE_PATTERN,
        pattern_message=_("電話番号は数字とハイフンで入力してください。"),
        **kwargs,
    )


def _tags(**kwargs) -> serializers.Field:
    return serializers.ListField(
        child=f.StrictCharField(
            allow_blank=True, max_length=MAX_TAG_LENGTH, pattern=f.TAG_PATTERN, pattern_message=TAG_MESSAGE
        ),
        max_length=MAX_TAGS,
        help_text="Tags (高齢, 障がい, 8050 …); blank ones are dropped, repeats kept once.",
        **kwargs,
    )


class ClientCreateIn(InputSerializer):
    name = _name()
    name_kana = _name_kana()
    birth_date = _birth_date()
    address = _address(required=False, default="")
    phone = _phone(required=False, default="")
    tags = _tags(required=False, default=list)
    address_confidential = f.StrictBooleanField(required=False, default=False)


class ClientUpdateIn(InputSerializer):
    """Every field optional; only the fields sent change."""

    name = _name(required=False)
    name_kana = _name_kana(required=False)
    birth_date = _birth_date(required=False)
    address = _address(required=False)
    phone = _phone(required=False)
    tags = _tags(required=False)
    status = serializers.ChoiceField(choices=ClientStatus.choices, required=False)
    address_confidential = f.StrictBooleanField(required=False)


# --- timeline ------------------------------------------------------------------------------------------


def _agency_code(**kwargs) -> serializers.Field:
    return f.StrictCharField(
        max_length=AGENCY_CODE_MAX_LENGTH,
        pattern=f.AGENCY_CODE_PATTERN,
        pattern_message=_("機関コードは英数字・ハイフン・下線で指定してください。"),
        **kwargs,
    )


class TimelineQuery(PageQuery):
    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False, allow_blank=True)
    agency = _agency_code(required=False, allow_blank=True, help_text="Code of the writing agency.")


class PersonOut(serializers.Serializer):
    username = serializers.CharField(source="author_username", allow_blank=True)
    display_name = serializers.CharField(source="author_display_name", allow_blank=True)


class EntryAgencyOut(serializers.Serializer):
    code = serializers.CharField(source="agency_code", allow_blank=True)
    name = serializers.CharField(source="agency_name", allow_blank=True)


class AttachmentOut(serializers.Serializer):
    id = serializers.UUIDField(help_text="Download it at `/api/v1/attachments/{id}/`.")
    filename = serializers.CharField(
        allow_blank=True, help_text="Empty when `masked` (the client's address is confidential)."
    )
    content_type = serializers.CharField(help_text="Decided from the content when it was uploaded.")
    size = serializers.IntegerField(help_text="Bytes, as served (an image after its metadata was removed).")
    sha256 = serializers.CharField(help_text="SHA-256 (hex) of the content as served; checked on every download.")
    masked = serializers.BooleanField(
        help_text=(
            "The client's address is confidential and the caller's agency is neither the owner nor the uploader: "
            "the file is listed but not served (403)."
        )
    )
    available = serializers.BooleanField(help_text="False once retention removed the content (410).")


class EntryOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(
        choices=EntryKind.choices, help_text="User kinds, or a system kind written by the service."
    )
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    body = serializers.CharField()
    author = PersonOut(source="*")
    agency = EntryAgencyOut(source="*")
    corrects = serializers.UUIDField(allow_null=True, help_text="The entry this one corrects.")
    corrected_by = serializers.ListField(child=serializers.UUIDField(), help_text="Entries correcting this one.")
    attachments = AttachmentOut(many=True, help_text="Files added with the entry, in order.")


EntryPage = page_of("EntryPage", EntryOut)


# The kinds a person may write (the schema's EntryCreateInKindEnum, also in the multipart form).
USER_ENTRY_KIND_CHOICES = [(k.value, k.label) for k in USER_ENTRY_KINDS]


class EntryFieldsIn(InputSerializer):
    """What every new entry says, however it is sent."""

    kind = serializers.ChoiceField(choices=USER_ENTRY_KIND_CHOICES)
    body = f.StrictCharField(
        max_length=MAX_BODY,
        pattern=f.REQUIRED_TEXT_PATTERN,
        pattern_message=REQUIRED_MESSAGE,
        help_text="The record (several lines allowed; surrounding white space is dropped).",
    )


class EntryCreateIn(EntryFieldsIn):
    occurred_at = f.AwareDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened (null or absent: now); not more than 5 minutes in the future.",
    )
    corrects = f.StrictUUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The entry this one corrects: one of the caller's agency's own entries on this client.",
    )


class EntryCreateMultipartIn(EntryFieldsIn):
    """The same entry as ``multipart/form-data`` with its files (repeat the ``files`` part). A form has no null:
    leave out ``occurred_at`` for now, ``corrects`` for a new entry."""

    occurred_at = f.AwareDateTimeField(
        required=False, help_text="When it happened (absent: now); not more than 5 minutes in the future."
    )
    corrects = f.StrictUUIDField(
        required=False,
        help_text="The entry this one corrects: one of the caller's agency's own entries on this client.",
    )
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        help_text=(
            "Files to attach: PDF, JPEG, PNG, HEIC (stored as JPEG), .docx/.xlsx/.pptx, OpenDocument; the type is "
            "decided from the content. Limits: ATTACHMENT_MAX_BYTES per file, ATTACHMENT_MAX_ENTRY_BYTES and "
            "ATTACHMENT_MAX_FILES per entry (by default 20 MB, 50 MB, 10). Images lose their metadata (EXIF, GPS)."
        ),
    )


# --- shares --------------------------------------------------------------------------------------------


class ShareOut(serializers.Serializer):
    id = serializers.UUIDField()
    agency = serializers.CharField(source="agency_code", help_text="Code of the agency the client is shared with.")
    level = serializers.ChoiceField(choices=ShareLevel.choices)
    basis = serializers.ChoiceField(choices=ShareBasis.choices)
    basis_note = serializers.CharField(allow_blank=True)
    granted_by = serializers.CharField(help_text="Username of the granting user (`system` for none).")
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


SharePage = page_of("SharePage", ShareOut)


class ShareCreateIn(InputSerializer):
    agency = _agency_code(
        min_length=1, help_text="Code of the agency to share with: a listed agency other than the owner."
    )
    level = serializers.ChoiceField(choices=ShareLevel.choices)
    basis = serializers.ChoiceField(choices=ShareBasis.choices)
    basis_note = f.StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_BASIS_NOTE,
        pattern=f.LINE_PATTERN,
        pattern_message=TEXT_MESSAGE,
    )
    expires_at = f.AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="When the share ends (null: never); in the future."
    )


# --- inquiries (照会) ------------------------------------------------------------------------------------


class InquiryReplyOut(serializers.Serializer):
    id = serializers.UUIDField()
    agency = serializers.CharField(source="agency_code", help_text="Code of the replying agency.")
    author = PersonOut(source="*")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class InquiryOut(serializers.Serializer):
    id = serializers.UUIDField()
    client = serializers.UUIDField(source="client_id", help_text="The client the inquiry is about.")
    from_agency = serializers.CharField(source="from_agency_code", help_text="Code of the asking agency.")
    to = serializers.ListField(
        source="to_codes", child=serializers.CharField(), help_text="Codes of the addressee agencies."
    )
    subject = serializers.CharField()
    body = serializers.CharField()
    status = serializers.ChoiceField(
        choices=InquiryStatus.choices,
        help_text="`open` until an addressee replies (`answered`) or the sender closes it (`closed`).",
    )
    due_on = serializers.DateField(allow_null=True, help_text="The answer is wanted by this day (null: none).")
    created_at = serializers.DateTimeField()
    replies = InquiryReplyOut(many=True, help_text="The thread, oldest first.")


InquiryPage = page_of("InquiryPage", InquiryOut)


class InquiryQuery(PageQuery):
    box = serializers.ChoiceField(
        choices=[(Box.RECEIVED, "received"), (Box.SENT, "sent")],
        required=False,
        default=Box.RECEIVED,
        help_text="`received`: addressed to the caller's agency (the default); `sent`: sent by it.",
    )
    status = serializers.ChoiceField(choices=InquiryStatus.choices, required=False, allow_blank=True)


class InquiryCreateIn(InputSerializer):
    to = serializers.ListField(
        child=_agency_code(min_length=1),
        min_length=1,
        max_length=MAX_ADDRESSEES,
        help_text="Codes of the agencies asked: each holds an active share of the client; not the caller's agency.",
    )
    subject = f.StrictCharField(
        max_length=MAX_SUBJECT,
        pattern=f.REQUIRED_LINE_PATTERN,
        pattern_message=REQUIRED_MESSAGE,
        help_text="件名 (one line; runs of spaces made one).",
    )
    body = f.StrictCharField(
        max_length=MAX_BODY,
        pattern=f.REQUIRED_TEXT_PATTERN,
        pattern_message=REQUIRED_MESSAGE,
        help_text="The question (several lines allowed; surrounding white space is dropped).",
    )
    due_on = f.StrictDateField(
        required=False, allow_null=True, default=None, help_text="回答期限: not before today (Japan time); optional."
    )


class InquiryReplyIn(InputSerializer):
    body = f.StrictCharField(
        max_length=MAX_BODY,
        pattern=f.REQUIRED_TEXT_PATTERN,
        pattern_message=REQUIRED_MESSAGE,
        help_text="The reply (several lines allowed; surrounding white space is dropped).",
    )


# --- support meetings (支援会議) and action items (PRODUCT §6.1) ------------------------------------------

# A 支援会議 shares at read or append, never manage (its own enum in the schema: MeetingShareLevelEnum).
MEETING_SHARE_LEVEL_CHOICES = [(level.value, level.label) for level in MEETING_SHARE_LEVELS]


class TaskOut(serializers.Serializer):
    id = serializers.UUIDField()
    meeting = serializers.UUIDField(source="meeting_id", help_text="The meeting whose minutes set it.")
    client = serializers.UUIDField(source="client_id")
    task = serializers.CharField()
    due_on = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices)
    done_at = serializers.DateTimeField(allow_null=True)


TaskPage = page_of("TaskPage", TaskOut)


class ActionItemOut(TaskOut):
    agency = serializers.CharField(source="agency_code", help_text="Code of the agency responsible.")


class AttendeeOut(serializers.Serializer):
    agency = serializers.CharField(source="agency_code")
    confirmed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the agency confirmed 守秘義務 (null: not yet; its meeting shares wait)."
    )


class MinutesOut(serializers.Serializer):
    version = serializers.IntegerField(help_text="1 for the first minutes; each correction adds one.")
    summary = serializers.CharField()
    decisions = serializers.CharField(allow_blank=True)
    recorded_at = serializers.DateTimeField()
    recorded_by = serializers.CharField(help_text="Username of the recording user.")


class MeetingOut(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    held_on = serializers.DateField()
    convened_by = serializers.CharField(source="convened_by_code", help_text="Code of the convening agency.")
    clients = serializers.ListField(
        source="client_ids", child=serializers.UUIDField(), help_text="Ids of the clients discussed."
    )
    attendees = AttendeeOut(many=True)
    share_level = serializers.ChoiceField(choices=MEETING_SHARE_LEVEL_CHOICES)
    share_expires_at = serializers.DateTimeField(help_text="When the shares the meeting created end.")
    minutes = MinutesOut(
        allow_null=True,
        help_text="The latest version (null: none yet, or the caller's agency has not confirmed 守秘義務).",
    )
    action_items = ActionItemOut(
        many=True, help_text="Current action items (not superseded) for clients the caller's agency sees."
    )


MeetingPage = page_of("MeetingPage", MeetingOut)


def _line(max_length: int, **kwargs) -> serializers.Field:
    return f.StrictCharField(
        max_length=max_length, pattern=f.REQUIRED_LINE_PATTERN, pattern_message=REQUIRED_MESSAGE, **kwargs
    )


def _text(max_length: int, **kwargs) -> serializers.Field:
    return f.StrictCharField(
        max_length=max_length, pattern=f.REQUIRED_TEXT_PATTERN, pattern_message=REQUIRED_MESSAGE, **kwargs
    )


class MeetingCreateIn(InputSerializer):
    title = _line(MAX_TITLE, help_text="The meeting's title (may name people: it is case content).")
    held_on = f.StrictDateField(help_text="The day it is held: within a year of today (Japan time).")
    clients = serializers.ListField(
        child=f.StrictUUIDField(),
        min_length=1,
        max_length=MAX_MEETING_CLIENTS,
        help_text="Ids of the clients discussed: each managed by the caller's agency (one it cannot see: 404).",
    )
    attendees = serializers.ListField(
        child=_agency_code(min_length=1),
        min_length=1,
        max_length=MAX_ATTENDEES,
        help_text="Codes of the attending agencies: listed agencies other than the caller's.",
    )
    share_level = serializers.ChoiceField(choices=MEETING_SHARE_LEVEL_CHOICES)
    share_days = f.StrictIntegerField(
        min_value=1, max_value=MAX_SHARE_DAYS, help_text="The shares end this many days after `held_on`."
    )


class ActionItemIn(InputSerializer):
    agency = _agency_code(min_length=1, help_text="The agency responsible: the convener or an attendee.")
    client = f.StrictUUIDField(help_text="One of the meeting's clients.")
    task = _text(MAX_TASK, help_text="What is to be done.")
    due_on = f.StrictDateField(required=False, allow_null=True, default=None, help_text="By when (null: no date).")


class MinutesCreateIn(InputSerializer):
    summary = _text(MAX_BODY, help_text="概要 (several lines allowed).")
    decisions = f.StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_BODY,
        pattern=f.TEXT_PATTERN,
        pattern_message=TEXT_MESSAGE,
        help_text="決定事項.",
    )
    action_items = ActionItemIn(many=True, required=False, default=list, max_length=MAX_ACTION_ITEMS)  # type: ignore[call-arg]  # a ListSerializer argument


class TaskQuery(PageQuery):
    status = serializers.ChoiceField(
        choices=ActionItemStatus.choices, required=False, default=ActionItemStatus.OPEN, help_text="Default open."
    )


# --- audit (privacy officers) --------------------------------------------------------------------------


class AuditEventQuery(PageQuery):
    client = f.StrictUUIDField(
        required=False,
        help_text="A client id: events that targeted the client or exposed it (lists, searches), denied included.",
    )
    actor = f.StrictCharField(
        required=False,
        allow_blank=True,
        max_length=150,
        pattern=f.LINE_PATTERN,
        pattern_message=TEXT_MESSAGE,
        help_text="A username.",
    )
    agency = _agency_code(required=False, allow_blank=True, help_text="An agency code.")
    action = f.StrictCharField(
        required=False,
        allow_blank=True,
        max_length=48,
        pattern=f.LINE_PATTERN,
        pattern_message=TEXT_MESSAGE,
        help_text="An action, matched exactly, or a prefix ending in `.` (`share.`).",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    since = f.AwareDateTimeField(required=False, help_text="Events at or after this time (RFC 3339 with offset).")
    until = f.AwareDateTimeField(
        required=False, help_text="Events before this time (RFC 3339 with offset); later than `since`."
    )


class AuditActorOut(serializers.Serializer):
    username = serializers.CharField(source="actor_username", allow_blank=True)
    agency = serializers.CharField(
        source="actor_agency_code", allow_blank=True, help_text="Agency code at the time (empty: none)."
    )


class AuditTargetOut(serializers.Serializer):
    type = serializers.CharField(source="target_type", help_text="`client`, `share`, `entry`, `apikey`, …")
    id = serializers.CharField(source="target_id", help_text="The target's id (a UUID for case objects).")


def _actions_help() -> str:
    listed = ", ".join(f"`{code}` ({label})" for code, label in actions.registered().items())
    return f"What was done, one of the registered audit actions: {listed}."


class AuditEventOut(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Sequence number (increasing; the sealing order).")
    id = serializers.UUIDField(source="uuid", help_text="The event's UUID.")
    occurred_at = serializers.DateTimeField()
    actor = AuditActorOut(source="*")
    channel = serializers.ChoiceField(choices=Channel.choices)
    action = serializers.CharField(help_text=lazy(_actions_help, str)())
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    client_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Ids of the clients the access exposed (a list page: all on it)."
    )
    target = serializers.SerializerMethodField(help_text="The object acted on, or null when none.")
    request_id = serializers.CharField(allow_blank=True)
    ip = serializers.IPAddressField(allow_null=True)

    @extend_schema_field(AuditTargetOut(allow_null=True))
    def get_target(self, event):
        return AuditTargetOut(event).data if event.target_type else None


AuditEventPage = page_of("AuditEventPage", AuditEventOut)


class SealOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="The seal's number (chain position).")
    first_seq = serializers.IntegerField(help_text="Lowest event sequence number sealed.")
    last_seq = serializers.IntegerField(help_text="Highest event sequence number sealed.")
    count = serializers.IntegerField(help_text="Number of events sealed.")
    seal_hash = serializers.CharField(help_text="sha256(prev_hash ‖ canonical batch), hex.")
    prev_hash = serializers.CharField(help_text="The previous seal's hash (hex).")
    created_at = serializers.DateTimeField()


class VerificationOut(serializers.Serializer):
    ran_at = serializers.DateTimeField()
    ok = serializers.BooleanField(help_text="True when every seal matched.")
    kind = serializers.ChoiceField(choices=VerifyKind.choices, help_text="`ok`, or what was found wrong.")
    first_bad_seq = serializers.IntegerField(
        allow_null=True, help_text="The first event that no longer matches (null when ok)."
    )
    message = serializers.CharField(allow_blank=True)
    seals_checked = serializers.IntegerField()
    events_checked = serializers.IntegerField()


class SealStatusOut(serializers.Serializer):
    seal = SealOut(allow_null=True, help_text="The last seal, or null before the first.")
    verification = VerificationOut(allow_null=True, help_text="The last verification, or null before the first.")
