"""The list envelope: ``{"next": url|null, "previous": url|null, "results": [...]}`` with opaque cursors.

The selectors page by keyset and hand back cursors; this module only turns them into links. A list the selectors
return whole (the shares of one client: a short history) is paged here, in memory, with the same envelope.
"""

import base64
import binascii
import json

from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from tsunagu.errors import InvalidInput
from tsunagu.keyset import BAD_CURSOR, Page


def _bad_cursor() -> dict[str, list[str]]:
    return {"cursor": [str(BAD_CURSOR)]}


def _link(request, cursor: str | None) -> str | None:
    if not cursor:
        return None
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor)


def page_response(request, page: Page, serializer_class) -> Response:
    return Response(
        {
            "next": _link(request, page.next_cursor),
            "previous": _link(request, page.prev_cursor),
            "results": serializer_class(page.items, many=True).data,
        }
    )


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_offset(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(_bad_cursor()) from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(_bad_cursor())
    return offset


def list_page(items: list, *, cursor: str | None, limit: int) -> Page:
    """One page of an already complete list, with cursors shaped like the keyset ones (opaque to callers)."""
    start = _decode_offset(cursor) if cursor else 0
    end = start + limit
    return Page(
        items=items[start:end],
        next_cursor=_encode_offset(end) if end < len(items) else None,
        prev_cursor=_encode_offset(max(0, start - limit)) if start > 0 else None,
    )
