"""The formats of API input, stated once: each is a regular expression the schema publishes as ``pattern`` and the
input serializers enforce on the raw value, so what the schema declares valid is what the server accepts.

The patterns are written in the common subset of Python's ``re`` and ECMA-262 (the dialect of JSON Schema and of
generated clients): ``\\uXXXX`` escapes, explicit character classes (no ``\\s``, ``\\d`` or ``\\w``, which mean
different things in the two), anchors ``^…$`` checked with ``re.fullmatch`` (so a trailing newline is not let
through). Each is unambiguous — a character either may or may not start the next part — so matching stays linear
even on the longest allowed value.

Fields here take input strictly as JSON types: a number is not a string, ``"true"`` is not a boolean.
"""

import re
import uuid
from datetime import date, datetime

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from rest_framework import serializers

from cases.text import KANA_PATTERN, PHONE_PATTERN

# C0 and C1 control characters (NUL, line breaks, escape sequences …), and the Unicode white space that is not one.
_CONTROL = r"\u0000-\u001f\u007f-\u009f"
_SPACE = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE = rf"[^{_CONTROL}{_SPACE}]"

#: One line of text, possibly empty: no control characters.
LINE_PATTERN = rf"^[^{_CONTROL}]*$"
#: One line of text with at least one visible character.
REQUIRED_LINE_PATTERN = rf"^[{_SPACE}]*{_VISIBLE}[^{_CONTROL}]*$"
#: Free text over several lines (tab, line feed and carriage return allowed) with at least one visible character.
REQUIRED_TEXT_PATTERN = rf"^[\t\n\r{_SPACE}]*{_VISIBLE}[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
#: Free text over several lines, possibly empty.
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
#: A tag: one line without ``|`` (the tag index separator).
TAG_PATTERN = rf"^[^|{_CONTROL}]*$"
#: An agency code (a slug), possibly empty where it filters.
AGENCY_CODE_PATTERN = r"^[-a-zA-Z0-9_]*$"
#: A UUID in its canonical hyphenated form.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_YEAR = r"(?:19|2[0-9])[0-9]{2}"  # 1900–2999: nothing in this service lies outside, and no offset overflows
#: A calendar date (RFC 3339 ``full-date``), years 1900–2999.
DATE_PATTERN = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"
#: A date and time with its UTC offset (RFC 3339 ``date-time`` without leap seconds, at most microseconds, and an
#: offset of at most ±15:59, the widest PostgreSQL stores; real zones span −12:00 to +14:00).
DATE_TIME_PATTERN = (
    rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$"
)
#: A page cursor as the server issues them: URL-safe, opaque.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR_MAX_LENGTH = 512
#: An ``Idempotency-Key``: 1–255 visible ASCII characters.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"

__all__ = ["KANA_PATTERN", "PHONE_PATTERN"]


class Pattern(RegexValidator):
    """A ``RegexValidator`` that must match the whole value; the schema shows its regex as ``pattern``. Typed
    fields (dates, UUIDs) match their raw string before parsing it, and carry this validator for the schema."""

    def __init__(self, pattern: str, message: StrOrPromise) -> None:
        super().__init__(pattern, message=message)

    def __call__(self, value) -> None:
        if isinstance(value, str) and not re.fullmatch(self.regex, value):
            raise serializers.ValidationError(self.message, code=self.code)


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


class StrictCharField(serializers.CharField):
    """A JSON string, taken as sent: not trimmed (so lengths and patterns apply to what the caller sent, as in the
    schema), and a number or boolean is an error, not text. ``pattern`` adds a ``Pattern`` validator."""

    default_error_messages = {"not_a_string": _("文字列で指定してください。")}

    def __init__(self, *, pattern: str | None = None, pattern_message: StrOrPromise = "", **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        if pattern is not None:
            self.validators.append(Pattern(pattern, pattern_message or _("形式が正しくありません。")))

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and data is not None and not isinstance(data, str):
            self.fail("not_a_string")
        return super().run_validation(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("true または false で指定してください。")}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (DRF would also take ``"7"`` and ``7.0``, which the schema does not allow)."""

    default_error_messages = {"invalid": _("整数で指定してください。")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID in the canonical hyphenated form only (``uuid.UUID`` would also take braces, URNs and integers)."""

    default_error_messages = {"invalid": _("IDの形式が正しくありません。")}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators.append(Pattern(UUID_PATTERN, self.error_messages["invalid"]))

    def to_internal_value(self, data):
        if not isinstance(data, str) or not matches(UUID_PATTERN, data):
            self.fail("invalid")
        return uuid.UUID(data)


class StrictDateField(serializers.DateField):
    default_error_messages = {"invalid": _("日付は YYYY-MM-DD（1900〜2999年）の形式で指定してください。")}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators.append(Pattern(DATE_PATTERN, self.error_messages["invalid"]))

    def to_internal_value(self, value):
        if not isinstance(value, str) or not matches(DATE_PATTERN, value):
            self.fail("invalid")
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail("invalid")


class AwareDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date and time with its UTC offset; a naive one is an error, not read in some time zone. The
    value keeps the offset it was sent with."""

    default_error_messages = {
        "invalid": _(
            "日時はタイムゾーン付き（例: 2026-11-23T09:00:00+09:00、1900〜2999年、時差は±15:59まで）で"
            "指定してください。"
        )
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators.append(Pattern(DATE_TIME_PATTERN, self.error_messages["invalid"]))

    def to_internal_value(self, value):
        if not isinstance(value, str) or not matches(DATE_TIME_PATTERN, value):
            self.fail("invalid")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail("invalid")
        if timezone.is_naive(parsed):  # not reached: the pattern requires an offset
            self.fail("invalid")
        return parsed
