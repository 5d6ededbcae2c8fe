"""The entry points for reading a kintone export: ``read_records`` (a stream of ``KRecord`` / ``BadRecord``),
``count_records`` (a cheap first pass, so that progress has a total) and ``read_comments`` (one record's comments).

The format is told from the content, not the file name: a file whose first character (after a UTF-8 BOM and
blanks) is ``{`` or ``[`` is the REST API JSON (``json_export``), anything else a CSV export (``csv_export``). Both
read one record at a time: memory stays bounded whatever the size of the export.

Errors: a bad record is a ``BadRecord`` in the stream; a file unusable as a whole (truncated JSON, a CSV without a
record id column, an empty file) raises ``ExportError``. ``read_records`` raises it only after yielding the records
before the damage, so a caller that must not import half a file calls ``count_records`` first: it parses the whole
file and raises the same error before anything is imported.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .comments import Comments, read_comments
from .csv_export import count_csv_records, iter_csv_records
from .errors import ExportError
from .json_export import count_json_records, iter_json_records
from .model import BadRecord, KRecord

__all__ = ["Comments", "ExportError", "count_records", "detect_format", "read_comments", "read_records"]


def detect_format(stream: IO[bytes]) -> str:
    """``"json"`` or ``"csv"``, from the first non-blank character. Leaves the stream at its start."""
    stream.seek(0)
    head = stream.read(4096)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    head = head.lstrip()
    if not head:
        raise ExportError("ファイルが空です。")
    return "json" if head[:1] in (b"{", b"[") else "csv"


def read_records(
    path: str | Path, *, tables: dict[str, list[str]] | None = None, record_id_column: str | None = None
) -> Iterator[KRecord | BadRecord]:
    """Every record of the export at ``path``, in file order.

    ``record_id_column``: the field (JSON) or column (CSV) holding the record id; by default ``$id``, then the
    ``RECORD_NUMBER`` field (JSON) or the ``レコード番号`` / ``レコードID`` column (CSV). ``tables`` (CSV only; the JSON
    says it itself): each table's name → the columns of the fields inside it.
    """
    with open(path, "rb") as stream:
        if detect_format(stream) == "json":
            yield from iter_json_records(stream, record_id_column)
        else:
            yield from iter_csv_records(stream, tables, record_id_column)


def count_records(path: str | Path) -> int:
    """How many records ``read_records`` will yield (``BadRecord`` included), without building them."""
    with open(path, "rb") as stream:
        if detect_format(stream) == "json":
            return count_json_records(stream)
        return count_csv_records(stream)
