"""kintone's REST API records JSON (``GET /k/v1/records.json``, or the same saved by a command-line tool), read as a
stream.

The file is ``{"records": [{<field code>: {"type": …, "value": …}, …}, …], "totalCount": …}``; a top-level list of
record objects is accepted too. Records are parsed one at a time with ijson (its C backend where installed), so a
100 000-record export never sits in memory at once.

Each field becomes a ``KField`` with the shapes of ``model.KField``: ``Entity`` for ``CREATOR`` / ``MODIFIER``,
``list[Entity]`` for ``USER_SELECT`` / ``ORGANIZATION_SELECT`` / ``GROUP_SELECT`` / ``STATUS_ASSIGNEE``, ``list[str]``
for ``CHECK_BOX`` / ``MULTI_SELECT`` / ``CATEGORY``, the file names (``list[str]``) for ``FILE``, and ``str`` (``None``
for ``""`` / ``null``) for everything else. ``SUBTABLE`` fields go to ``KRecord.tables``: one ``KRow`` per row, with
kintone's row id (a row without one gets ``"pos:<n>"``, its 1-based position, which only holds while the table is
not reordered).

A record that is not an object, has no id, or has a field of the wrong shape is a ``BadRecord`` and the stream goes
on. A file that breaks off (truncated, not JSON) raises ``ExportError`` after the records before the break were
yielded: the caller that counts first (``count_records``) learns it before importing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import ijson

from .errors import ExportError
from .model import BadRecord, Entity, KField, KRecord, KRow

ENTITY_TYPES = frozenset({"CREATOR", "MODIFIER"})
ENTITY_LIST_TYPES = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT", "STATUS_ASSIGNEE"})
STRING_LIST_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT", "CATEGORY"})
ID_FIELD = "$id"
REVISION_FIELD = "$revision"


class FieldShapeError(ValueError):
    """A field whose value does not have the shape its type promises."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def records_prefix(stream: IO[bytes]) -> str:
    """The ijson prefix of the record objects: ``records.item`` for kintone's ``{"records": […]}``, ``item`` for a
    bare list. Leaves the stream at the first byte of the JSON (after a UTF-8 BOM, which ijson does not skip)."""
    head = stream.read(3)
    if head != b"\xef\xbb\xbf":
        stream.seek(0)
    start = stream.tell()
    while True:
        byte = stream.read(1)
        if not byte or not byte.isspace():
            break
    stream.seek(start)
    return "item" if byte == b"[" else "records.item"


def iter_json_records(stream: IO[bytes], record_id_field: str | None = None) -> Iterator[KRecord | BadRecord]:
    """Every record of the export, in file order. ``record_id_field`` names the field holding the record id
    (default: ``$id``, else the ``RECORD_NUMBER`` field)."""
    prefix = records_prefix(stream)
    position = 0
    try:
        for obj in ijson.items(stream, prefix):
            position += 1
            yield record_from_json(obj, position, record_id_field)
    except ijson.JSONError as error:
        raise ExportError(
            f"JSON ファイルが途中で壊れています ({position} 件目のレコードの後): {' '.join(str(error).split())}。"
            " 書き出しをやり直してください (ファイルが最後まで保存されているか確かめてください)。"
        ) from error
    if position == 0 and prefix == "records.item" and not has_records_key(stream):
        raise ExportError(
            'JSON ファイルに "records" がありません。kintone のレコード取得 (records.json) の結果を指定してください。'
        )


def has_records_key(stream: IO[bytes]) -> bool:
    """Whether the top-level object has a ``records`` key (told apart from a file of some other JSON)."""
    stream.seek(0)
    records_prefix(stream)
    try:
        for prefix, event, value in ijson.parse(stream):
            if prefix == "" and event == "map_key" and value == "records":
                return True
    except ijson.JSONError:
        return False
    return False


def count_json_records(stream: IO[bytes]) -> int:
    """The number of records, from parser events only (no record is built)."""
    prefix = records_prefix(stream)
    count = 0
    try:
        for event_prefix, event, _value in ijson.parse(stream):
            if event_prefix == prefix and event not in ("map_key", "end_map", "end_array"):
                count += 1
    except ijson.JSONError as error:
        raise ExportError(
            f"JSON ファイルが途中で壊れています ({count} 件目のレコードまたはその後): {' '.join(str(error).split())}。"
            " 書き出しをやり直してください (ファイルが最後まで保存されているか確かめてください)。"
        ) from error
    return count


def record_from_json(obj: object, position: int, record_id_field: str | None = None) -> KRecord | BadRecord:
    """One record object → ``KRecord``, or ``BadRecord`` with why."""
    at = f"JSON {position}件目"
    if not isinstance(obj, dict):
        return BadRecord(at, "", "bad_record", f"{at}: レコードがオブジェクトではありません ({type(obj).__name__})。")
    record_id = find_record_id(obj, record_id_field)
    if not record_id:
        return BadRecord(
            at, "", "no_record_id", f"{at}: レコード ID ({record_id_field or '$id / レコード番号'}) がありません。"
        )
    where = f"record {record_id}"
    fields: dict[str, KField] = {}
    tables: dict[str, list[KRow]] = {}
    try:
        for code, raw in obj.items():
            kind, value = field_parts(code, raw)
            if kind == "SUBTABLE":
                tables[code] = table_rows(code, value)
            else:
                fields[code] = KField(kind, field_value(code, kind, value))
    except FieldShapeError as error:
        return BadRecord(where, record_id, "bad_field", f"レコード {record_id}: {error.message}")
    revision = fields[REVISION_FIELD].value if REVISION_FIELD in fields else None
    return KRecord(record_id, fields, tables, revision=revision if isinstance(revision, str) else "", where=where)


def find_record_id(obj: dict[Any, Any], record_id_field: str | None) -> str:
    if record_id_field:
        candidates = [obj.get(record_id_field)]
    else:
        candidates = [obj.get(ID_FIELD)]
        candidates += [raw for raw in obj.values() if isinstance(raw, dict) and raw.get("type") == "RECORD_NUMBER"]
    for raw in candidates:
        if isinstance(raw, dict):
            value = raw.get("value")
            if isinstance(value, str | int | Decimal) and not isinstance(value, bool) and str(value).strip():
                return str(value).strip()
    return ""


def field_parts(code: object, raw: object) -> tuple[str, object]:
    if not isinstance(code, str) or not isinstance(raw, dict) or not isinstance(raw.get("type", ""), str):
        raise FieldShapeError(str(code), f"フィールド「{code}」が {{type, value}} の形ではありません。")
    if "value" not in raw:
        raise FieldShapeError(code, f"フィールド「{code}」に value がありません。")
    return raw.get("type", ""), raw["value"]


def field_value(code: str, kind: str, value: object) -> object:
    """The value in ``KField``'s shape for its type; ``FieldShapeError`` if kintone could not have written it."""
    if kind in ENTITY_TYPES:
        if value is None or value == "" or value == {}:
            return None
        return entity(code, value)
    if kind in ENTITY_LIST_TYPES:
        return [entity(code, item) for item in as_list(code, value)]
    if kind in STRING_LIST_TYPES:
        items = as_list(code, value)
        if not all(isinstance(item, str) for item in items):
            raise FieldShapeError(code, f"フィールド「{code}」({kind}) の値が文字列のリストではありません。")
        return items
    if kind == "FILE":
        names = []
        for item in as_list(code, value):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise FieldShapeError(code, f"フィールド「{code}」(FILE) の値にファイル名がありません。")
            names.append(item["name"])
        return names
    return scalar(code, value)


def scalar(code: str, value: object) -> object:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal | float):
        return str(value)
    # A type this reader does not know, with a structured value: kept as given (numbers as text).
    return plain(value)


def plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def as_list(code: str, value: object) -> list[Any]:
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise FieldShapeError(code, f"フィールド「{code}」の値がリストではありません。")
    return value


def entity(code: str, value: object) -> Entity:
    if not isinstance(value, dict) or not isinstance(value.get("code"), str) or not value["code"]:
        raise FieldShapeError(code, f"フィールド「{code}」のユーザー・組織・グループにコードがありません。")
    name = value.get("name")
    return Entity(value["code"], name if isinstance(name, str) and name else value["code"])


def table_rows(code: str, value: object) -> list[KRow]:
    rows: list[KRow] = []
    for position, raw in enumerate(as_list(code, value), start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), dict):
            raise FieldShapeError(code, f"テーブル「{code}」の {position} 行目が {{id, value}} の形ではありません。")
        row_id = raw.get("id")
        row_id = str(row_id).strip() if isinstance(row_id, str | int | Decimal) and not isinstance(row_id, bool) else ""
        fields: dict[str, KField] = {}
        for field_code, field_raw in raw["value"].items():
            kind, field_val = field_parts(field_code, field_raw)
            fields[field_code] = KField(kind, field_value(field_code, kind, field_val))
        rows.append(KRow(row_id or f"pos:{position}", fields))
    return rows
