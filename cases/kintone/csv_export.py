"""kintone's CSV export: the browser's 「ファイルに書き出す」 (headers are field names) and the command-line tool's
``record export`` (headers are field codes), read line by line.

Encoding: a UTF-8 BOM means UTF-8; otherwise the first 64 KiB are tried as strict UTF-8 (a character cut by the
sample's end does not count against it), and anything else is Shift_JIS as Windows writes it (cp932, which has
①, ～ and 髙 that plain Shift_JIS lacks). Each physical line is decoded on its own, so a line with a byte that does
not decode spoils only the record it belongs to. Delimiter: comma or tab, whichever the header line has more of.

Tables (the documented layout): the first column is headed ``*`` (command-line tool) or ``レコードの開始行``
(browser); a line whose first column is ``*`` starts a record, and the lines after it, up to the next ``*``, carry
the rest of its table rows. Fields outside the tables are read from the starting line only. A table's own column
(headed with the table's code or name) holds the row id, the columns of the fields inside it that row's values; a
line with nothing in a table's columns adds no row to that table. Which columns belong to which table the CSV does
not say: ``tables`` (table → its column names, from the mapping) does; a column not named there is a record field.
A row whose id column is empty (or absent) gets the id ``"line:<physical line number>"``: a second run then finds
the same rows only if the file's lines have not moved.

Without the ``*`` column each line is one record (its table columns, if any, one row).

Values are plain strings (``KField(type="", value=…)``, ``None`` for empty, CRLF inside a value made LF); the
mapping reads multi-valued fields (one value a line). A line with the wrong number of columns or an undecodable
byte makes its record a ``BadRecord`` (``where`` = "CSV 12行目", the record's first line) and the reader goes on
with the next record.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from .errors import ExportError
from .model import BadRecord, KField, KRecord, KRow

SAMPLE_BYTES = 64 * 1024
START_COLUMNS = ("*", "レコードの開始行")
START_MARK = "*"
RECORD_ID_COLUMNS = ("$id", "レコード番号", "レコードID")
REVISION_COLUMNS = ("$revision", "リビジョン")

# kintone writes fields of any length; the csv module's default limit (128 KiB) is below a long 経過 text.
csv.field_size_limit(16 * 1024 * 1024)


def detect_encoding(stream: IO[bytes]) -> str:
    """``utf-8-sig``, ``utf-8`` or ``cp932``, from the first 64 KiB. Leaves the stream at its start."""
    stream.seek(0)
    sample = stream.read(SAMPLE_BYTES)
    at_end = not stream.read(1)
    stream.seek(0)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(sample, final=at_end)
    except UnicodeDecodeError:
        return "cp932"
    return "utf-8"


class LineSource:
    """The decoded physical lines of the file, for ``csv.reader``; remembers which lines did not decode."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream = stream
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.line_number = 0
        self.bad_lines: set[int] = set()
        if encoding == "utf-8-sig" and stream.read(3) != codecs.BOM_UTF8:
            stream.seek(0)

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.line_number += 1
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self.bad_lines.add(self.line_number)
                yield raw.decode(self.encoding, errors="replace")


def sniff_delimiter(header_line: str) -> str:
    return "\t" if header_line.count("\t") > header_line.count(",") else ","


@dataclass
class Layout:
    """Where things are in the header: the record-start column, the id columns, each table's columns."""

    header: list[str]
    start: int | None
    record_id: int
    revision: int | None
    table_id: dict[str, int | None] = field(default_factory=dict)  # table → index of its own (row id) column
    table_columns: dict[str, list[int]] = field(default_factory=dict)  # table → indexes of its fields' columns
    record_columns: list[int] = field(default_factory=list)


def unique_header(names: list[str]) -> list[str]:
    """The header with repeated names made distinct (the browser export heads columns with field names, which
    kintone does not require to be unique): the second ``備考`` is ``備考#2``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip()
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def layout_for(header: list[str], tables: dict[str, list[str]], record_id_column: str | None) -> Layout:
    index = {name: position for position, name in enumerate(header)}
    start = 0 if header and header[0] in START_COLUMNS else None
    candidates = (record_id_column,) if record_id_column else RECORD_ID_COLUMNS
    id_at = next((index[name] for name in candidates if name in index), None)
    if id_at is None:
        raise ExportError(
            f"CSV にレコード ID の列 ({' / '.join(candidates)}) がありません。"
            " レコード番号 ($id) の列も含めて書き出してください。"
        )
    revision = next((index[name] for name in REVISION_COLUMNS if name in index), None)
    layout = Layout(header, start, id_at, revision)
    in_tables: set[int] = set()
    for table, columns in tables.items():
        if table not in index and not any(name in index for name in columns):
            continue  # the table was not exported: no rows, rather than an empty list that claims it was
        layout.table_id[table] = index.get(table)
        layout.table_columns[table] = [index[name] for name in columns if name in index and name != table]
        in_tables.update(layout.table_columns[table])
        if index.get(table) is not None:
            in_tables.add(index[table])
    layout.record_columns = [p for p in range(len(header)) if p != start and p not in in_tables]
    return layout


def value_of(text: str) -> str | None:
    text = text.replace("\r\n", "\n")
    return text if text != "" else None


@dataclass
class Pending:
    """The lines of the record being read, until the next record starts."""

    first_line: int
    record_id: str = ""
    lines: list[tuple[int, list[str]]] = field(default_factory=list)
    problem: str = ""


def build_record(pending: Pending, layout: Layout) -> KRecord | BadRecord:
    where = f"CSV {pending.first_line}行目"
    record_id = pending.record_id
    if pending.problem:
        return BadRecord(where, record_id, "bad_row", f"{where}: {pending.problem}")
    if not record_id:
        return BadRecord(
            where, "", "no_record_id", f"{where}: レコード ID ({layout.header[layout.record_id]}) が空です。"
        )
    first = pending.lines[0][1]
    fields = {layout.header[p]: KField("", value_of(first[p])) for p in layout.record_columns}
    tables: dict[str, list[KRow]] = {table: [] for table in layout.table_columns}
    for line_number, values in pending.lines:
        for table, columns in layout.table_columns.items():
            id_at = layout.table_id[table]
            row_id = values[id_at].strip() if id_at is not None else ""
            if not row_id and not any(values[p] != "" for p in columns):
                continue
            row_fields = {layout.header[p]: KField("", value_of(values[p])) for p in columns}
            tables[table].append(KRow(row_id or f"line:{line_number}", row_fields))
    revision = first[layout.revision].strip() if layout.revision is not None else ""
    return KRecord(record_id, fields, tables, revision=revision, where=f"record {record_id} ({where})")


def open_rows(stream: IO[bytes]) -> tuple[LineSource, Iterator[list[str]], list[str]]:
    """The line source, the csv reader over it, and the header (names made unique)."""
    encoding = detect_encoding(stream)
    source = LineSource(stream, encoding)
    lines = iter(source)
    header_line = next(lines, None)
    if header_line is None:
        raise ExportError("CSV ファイルが空です。")
    delimiter = sniff_delimiter(header_line)

    def chained() -> Iterable[str]:
        yield header_line
        yield from lines

    reader = csv.reader(chained(), delimiter=delimiter)
    try:
        header = unique_header(next(reader))
    except (csv.Error, StopIteration) as error:
        raise ExportError(f"CSV の見出し行が読めません: {error}") from error
    if source.bad_lines:
        raise ExportError(f"CSV の見出し行の文字コードが読めません ({encoding} として)。")
    return source, reader, header


def iter_csv_records(
    stream: IO[bytes], tables: dict[str, list[str]] | None = None, record_id_column: str | None = None
) -> Iterator[KRecord | BadRecord]:
    source, reader, header = open_rows(stream)
    layout = layout_for(header, tables or {}, record_id_column)
    pending: Pending | None = None
    previous_end = source.line_number  # physical lines consumed by the header
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            line = previous_end + 1
            previous_end = source.line_number
            if pending is None:
                pending = Pending(line)
            pending.problem = pending.problem or f"{line}行目が CSV として読めません ({error})。"
            continue
        line, previous_end = previous_end + 1, source.line_number
        if not values:
            continue  # a blank line (kintone ends the file with one newline; editors add more)
        starts = layout.start is None or values[layout.start].strip() == START_MARK
        if starts:
            if pending is not None:
                yield build_record(pending, layout)
            pending = Pending(line, values[layout.record_id].strip() if len(values) > layout.record_id else "")
        elif pending is None:
            pending = Pending(line, problem="レコードの開始行 (*) の前に行があります。")
        if len(values) != len(header):
            pending.problem = (
                pending.problem or f"{line}行目の列の数が見出しと違います ({len(values)} 列 / {len(header)} 列)。"
            )
        elif any(line <= bad <= previous_end for bad in source.bad_lines):
            pending.problem = pending.problem or f"{line}行目に文字コードの読めない文字があります。"
        else:
            pending.lines.append((line, values))
    if pending is not None:
        yield build_record(pending, layout)


def count_csv_records(stream: IO[bytes]) -> int:
    """The number of records: lines marked ``*`` where the file has the record-start column, otherwise data
    lines."""
    _source, reader, header = open_rows(stream)
    start = 0 if header and header[0] in START_COLUMNS else None
    count = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return count
        except csv.Error:
            count = max(count, 1)  # a broken first line is a record (a BadRecord) of its own
            continue
        if not values:
            continue
        if start is None or values[start].strip() == START_MARK or count == 0:
            count += 1  # lines before the first * are one BadRecord
