"""The one request-body parser: JSON, refused whole when no field could ever accept it.

A body nested deeper than ``MAX_DEPTH`` (JSON nested 100,000 deep made the decoder raise ``RecursionError``), or
holding a NUL or a lone surrogate in any key or string (PostgreSQL text cannot store a NUL; a surrogate cannot be
encoded at all) is a 400 naming where it was, before any serializer or service sees it.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
TOO_DEEP = gettext_lazy("入れ子が深すぎます（%(depth)s段まで）。")
NEVER_VALID = gettext_lazy("使用できない文字（NUL や対になっていないサロゲート）が含まれています。")


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _where(path: list) -> str:
    return ".".join(str(p) for p in path) or "non_field_errors"


def check_json(data) -> None:
    """Walk ``data`` without recursion; raise a ValidationError at the first place no field can accept."""
    stack: list[tuple[object, list[str | int], int]] = [(data, [], 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise serializers.ValidationError({_where(path[:1]): [TOO_DEEP % {"depth": MAX_DEPTH}]})
        if isinstance(value, dict):
            for key, item in value.items():
                if _bad_text(key):
                    raise serializers.ValidationError({_where(path[:1]): [str(NEVER_VALID)]})
                stack.append((item, [*path, key], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, [*path, i], depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and _bad_text(value):
            raise serializers.ValidationError({_where(path): [str(NEVER_VALID)]})


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON の入れ子が深すぎます（%(depth)s段まで）。") % {"depth": MAX_DEPTH}) from None
        check_json(data)
        return data
