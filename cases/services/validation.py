"""Input checks shared by the case services: the limits the API documents, and the profile fields."""

import re
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from tsunagu.errors import InvalidInput

from ..models import ClientStatus
from ..text import KANA_MAX_LENGTH, PHONE_PATTERN, is_kana, normalize_kana

MAX_BODY = 20000
MAX_TAGS = 10
MAX_TAG_LENGTH = 20
MAX_NAME = 100
MAX_ADDRESS = 255
MAX_PHONE = 32
MAX_BASIS_NOTE = 500
MAX_STATUS_REASON = 1000
_PHONE = re.compile(PHONE_PATTERN)
# Clock skew allowance for occurred_at: an entry cannot describe something that has not happened yet.
FUTURE_TOLERANCE = timedelta(minutes=5)


def clean_profile(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validate profile fields; returns cleaned values or raises InvalidInput with every field error at once."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    required = () if partial else ("name", "name_kana", "birth_date")
    for field in required:
        if data.get(field) in (None, ""):
            errors[field] = [gettext("この項目は必須です。")]
    if "name" in data and data["name"] not in (None, ""):
        name = " ".join(str(data["name"]).split())
        if len(name) > MAX_NAME:
            errors["name"] = [gettext("氏名は%(max)s文字以内で入力してください。") % {"max": MAX_NAME}]
        cleaned["name"] = name
    if "name_kana" in data and data["name_kana"] not in (None, ""):
        kana = normalize_kana(str(data["name_kana"]))
        if not is_kana(kana):
            errors["name_kana"] = [gettext("フリガナはひらがなまたはカタカナで入力してください。")]
        elif len(kana) > KANA_MAX_LENGTH:
            errors["name_kana"] = [gettext("フリガナは%(max)s文字以内で入力してください。") % {"max": KANA_MAX_LENGTH}]
        cleaned["name_kana"] = kana
    if "birth_date" in data and data["birth_date"] not in (None, ""):
        value = data["birth_date"]
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                value = None
        if not isinstance(value, date) or isinstance(value, datetime):
            errors["birth_date"] = [gettext("生年月日は YYYY-MM-DD の形式で入力してください。")]
        elif value > timezone.localdate() or value.year < 1900:
            errors["birth_date"] = [gettext("生年月日が正しくありません。")]
        else:
            cleaned["birth_date"] = value
    for field, limit in (("address", MAX_ADDRESS), ("phone", MAX_PHONE)):
        if field in data:
            value = "" if data[field] is None else str(data[field]).strip()
            if len(value) > limit:
                errors[field] = [gettext("%(max)s文字以内で入力してください。") % {"max": limit}]
            elif field == "phone" and not _PHONE.fullmatch(value):
                errors[field] = [gettext("電話番号は数字とハイフンで入力してください。")]
            cleaned[field] = value
    if "tags" in data:
        tags = data["tags"] if data["tags"] is not None else []
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = [gettext("タグは文字列のリストで指定してください。")]
        else:
            tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
            if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_LENGTH or "|" in t for t in tags):
                errors["tags"] = [
                    gettext("タグは%(count)s個まで、各%(max)s文字以内（| は使えません）で指定してください。")
                    % {"count": MAX_TAGS, "max": MAX_TAG_LENGTH}
                ]
            cleaned["tags"] = tags
    if "address_confidential" in data:
        if not isinstance(data["address_confidential"], bool):
            errors["address_confidential"] = [gettext("真偽値で指定してください。")]
        cleaned["address_confidential"] = data["address_confidential"]
    if "status" in data:
        if data["status"] not in ClientStatus.values:
            errors["status"] = [gettext("状態が不正です: %(value)s") % {"value": data["status"]}]
        cleaned["status"] = data["status"]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def clean_text(
    value: object,
    field: str,
    *,
    limit: int,
    errors: dict[str, list[str]],
    required: bool = True,
    single_line: bool = False,
) -> str:
    """A text a service was given, stripped (``single_line``: its whitespace runs made one space, as a subject),
    or an error under ``field``: not a string, missing when ``required``, longer than ``limit``, or holding NUL
    (which PostgreSQL text refuses)."""
    text = value.strip() if isinstance(value, str) else ""
    if single_line:
        text = " ".join(text.split())
    if value is not None and not isinstance(value, str):
        errors[field] = [gettext("文字列で入力してください。")]
    elif required and not text:
        errors[field] = [gettext("入力してください。")]
    elif len(text) > limit:
        errors[field] = [gettext("%(max)s文字以内で入力してください。") % {"max": limit}]
    elif "\x00" in text:
        errors[field] = [gettext("制御文字は使えません。")]
    return text


def parse_date(value: object) -> date | None:
    """A day given as a ``date`` or as ``YYYY-MM-DD``; None for anything else (a datetime too: a day was asked)."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
