"""The shapes every reader produces, whatever the export format: one ``KRecord`` per kintone record (with its table
rows), one ``KComment`` per record comment, and a ``BadRecord`` for a record that could not be read at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Entity:
    """A kintone user, organization or group (``CREATOR``, ``USER_SELECT``, ``ORGANIZATION_SELECT``…): its code,
    and its display name where the export has one (the CSV gives codes only: then ``name`` is the code)."""

    code: str
    name: str = ""


@dataclass(frozen=True)
class KField:
    """One field's value as exported. ``type`` is kintone's field type (``SINGLE_LINE_TEXT``, ``DATE``…) from the
    JSON, or ``""`` from a CSV, which has no types. ``value`` is kept as kintone gave it: ``str`` for text, dates
    and numbers; ``list[str]`` for ``CHECK_BOX`` / ``MULTI_SELECT``; ``Entity`` for ``CREATOR`` / ``MODIFIER``;
    ``list[Entity]`` for the ``*_SELECT`` fields; ``None`` for an empty value. The mapping decides how to read a
    CSV's plain strings (a line per value for multi-valued fields)."""

    type: str
    value: Any


@dataclass(frozen=True)
class KRow:
    """One row of a table (サブテーブル): kintone's row id and the row's fields."""

    id: str
    fields: dict[str, KField]


@dataclass
class KRecord:
    """One kintone record: its id (``$id`` / レコード番号), its revision where exported, its fields (by field code in
    the JSON, by the CSV header otherwise) and its tables' rows. ``where`` says where it came from, for reports
    ("record 12", "line 40")."""

    record_id: str
    fields: dict[str, KField]
    tables: dict[str, list[KRow]] = field(default_factory=dict)
    revision: str = ""
    where: str = ""


@dataclass(frozen=True)
class BadRecord:
    """A record the reader could not read (a broken CSV row, a record without an id…). The run reports it and
    goes on."""

    where: str
    record_id: str
    reason: str  # a stable code: "no_record_id", "bad_row", "bad_json"…
    message: str  # Japanese, for the report


@dataclass(frozen=True)
class KComment:
    """A record comment (REST ``record/comments.json``). ``text`` is the comment as kintone gives it (mentions
    already written into it by kintone)."""

    id: str
    text: str
    created_at: datetime  # aware, UTC
    creator: Entity
    mentions: tuple[Entity, ...] = ()  # Entity.name holds the mention's type: USER / GROUP / ORGANIZATION
