"""Keyset (seek) pagination over a queryset ordered by unique keys, with opaque cursors.

Pages are found by comparing the ordering key, not by OFFSET, so a page costs the same at any depth and stays
stable while rows are appended.

A cursor carries no case data: it is the primary key of the row next to the page and a direction, with an HMAC
(keyed by ``SECRET_KEY``, salted with the model and the ordering), as URL-safe base64 (``[A-Za-z0-9_-]``, at most
``MAX_CURSOR_LENGTH``). The server re-reads that row's ordering key *through the same queryset*, so a cursor
from another list, another agency's list or a list whose boundary row has since left it (stale) is refused like a
tampered one: bad input (``errors.cursor``), never a server error, and the refusal says nothing about the row.
"""

import base64
import binascii
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from tsunagu.errors import InvalidInput

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    prev_cursor: str | None


def _seek(order: list[tuple[str, bool]], key: list, forward: bool) -> Q:
    """Rows strictly after ``key`` (``forward``) or strictly before it, in the given order."""
    condition = Q()
    for i, (field, descending) in enumerate(order):
        lookup = "lt" if descending == forward else "gt"
        step = Q(**{f"{field}__{lookup}": key[i]})
        for j, (prev_field, _desc) in enumerate(order[:i]):
            step &= Q(**{prev_field: key[j]})
        condition |= step
    return condition


MAX_CURSOR_LENGTH = 512
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_MAC_BYTES = 16
BAD_CURSOR = _("カーソルが不正です。最初のページから開き直してください。")


def _mac(queryset: QuerySet, order: list[tuple[str, bool]], payload: bytes) -> bytes:
    salt = f"tsunagu.keyset:{queryset.model._meta.label_lower}:{order!r}"
    return salted_hmac(salt, payload, algorithm="sha256").digest()[:_MAC_BYTES]


def _encode(queryset: QuerySet, order: list[tuple[str, bool]], direction: str, row) -> str:
    payload = direction.encode() + str(row.pk).encode()
    token = base64.urlsafe_b64encode(payload + _mac(queryset, order, payload)).decode().rstrip("=")
    return token


def _decode(queryset: QuerySet, order: list[tuple[str, bool]], cursor: str) -> tuple[bool, list]:
    bad = InvalidInput({"cursor": [str(BAD_CURSOR)]})
    if len(cursor) > MAX_CURSOR_LENGTH or not _TOKEN.match(cursor):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if len(payload) < 2 or not constant_time_compare(mac, _mac(queryset, order, payload)):
        raise bad
    direction = payload[:1].decode("ascii", "replace")
    try:
        pk = queryset.model._meta.pk.to_python(payload[1:].decode("ascii"))
    except (ValidationError, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if direction not in ("n", "p"):
        raise bad
    # The boundary row's key, read again through this very list: gone from it (stale) or never in it (foreign)
    # is the same refusal as a forged cursor.
    key = queryset.filter(pk=pk).values_list(*(field for field, _desc in order)).first()
    if key is None:
        raise bad
    return direction == "n", list(key)


def keyset_page(queryset: QuerySet, *, order: list[tuple[str, bool]], limit: int, cursor: str | None = None) -> Page:
    """One page of ``queryset`` in ``order`` ([(field, descending)], the last field unique)."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    forward, key = True, None
    if cursor:
        forward, key = _decode(queryset, order, cursor)
    qs = queryset if key is None else queryset.filter(_seek(order, key, forward))
    ordering = [("-" if desc == forward else "") + field for field, desc in order]
    rows = list(qs.order_by(*ordering)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()

    has_next = more if forward else key is not None
    has_prev = key is not None if forward else more
    return Page(
        items=rows,
        next_cursor=_encode(queryset, order, "n", rows[-1]) if has_next and rows else None,
        prev_cursor=_encode(queryset, order, "p", rows[0]) if has_prev and rows else None,
    )
