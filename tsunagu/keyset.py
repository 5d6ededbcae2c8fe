"""Keyset (seek) pagination over a queryset ordered by unique keys, with opaque cursors.

Pages are found by comparing the ordering key, not by OFFSET, so a page costs the same at any depth and stays
stable while rows are appended. A cursor is the key of the row next to the page plus a direction, base64url
encoded; a tampered or stale cursor is bad input, never a server error.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

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


def _encode(direction: str, values: list) -> str:
    raw = json.dumps({"d": direction, "k": [str(v) if not hasattr(v, "isoformat") else v.isoformat() for v in values]})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(queryset: QuerySet, order: list[tuple[str, bool]], cursor: str) -> tuple[bool, list]:
    bad = InvalidInput({"cursor": ["カーソルが不正です。最初のページから開き直してください。"]})
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, raw = data["d"], data["k"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if direction not in ("n", "p") or not isinstance(raw, list) or len(raw) != len(order):
        raise bad
    values = []
    for (field, _desc), value in zip(order, raw, strict=True):
        if value is None:  # keys are never null; a null would reach the ORM as a "None" lookup and fail there
            raise bad
        try:
            values.append(queryset.model._meta.get_field(field).to_python(value))
        except (ValidationError, ValueError, TypeError):
            raise bad from None
    return direction == "n", values


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

    def key_of(row) -> list:
        return [getattr(row, field) for field, _ in order]

    has_next = more if forward else key is not None
    has_prev = key is not None if forward else more
    return Page(
        items=rows,
        next_cursor=_encode("n", key_of(rows[-1])) if has_next and rows else None,
        prev_cursor=_encode("p", key_of(rows[0])) if has_prev and rows else None,
    )
