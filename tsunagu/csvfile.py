"""CSV files for people who open them in a spreadsheet (Excel): one writer for every CSV the service hands out.

Rows end in CRLF, and a cell that a spreadsheet would run as a formula (one starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading ``'`` so that it stays text. Each document keeps its
own header; the writer only writes.
"""

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


class SheetWriter:
    """Writes a header, then rows in as many batches as needed, to a text handle opened with ``newline=""``."""

    def __init__(self, handle, header: Sequence[str]):
        self._writer = csv.writer(handle, lineterminator="\r\n")
        self._writer.writerow(header)

    def writerows(self, rows: Iterable[Sequence]) -> None:
        self._writer.writerows([safe_cell(value) for value in row] for row in rows)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence], *, encoding: str = "utf-8-sig") -> bytes:
    """A whole (small) CSV document in memory; UTF-8 with a BOM by default, so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    SheetWriter(buffer, header).writerows(rows)
    return buffer.getvalue().encode(encoding)
