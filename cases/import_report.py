"""An import's report (``ImportReportLine``) as the CSV the operator keeps: one line per record, and one per part
of a record that was left out. Its texts are the report's own (outcomes, reasons, case numbers), never a client's
name: the operator finds the person in kintone by the record id."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import ImportReportLine, ImportRun

OUTCOME_LABELS = {
    "created": _("登録"),
    "updated": _("更新"),
    "unchanged": _("変更なし"),
    "skipped": _("スキップ"),
    "error": _("エラー"),
    "item_skipped": _("一部スキップ"),
}

# Why a record (or a part of it) was left out, as the report page shows it (the CSV keeps the code and the message).
REASON_LABELS = {
    "missing_name": _("氏名なし"),
    "missing_kana": _("フリガナなし"),
    "missing_birth_date": _("生年月日なし"),
    "bad_date": _("日付を読めない"),
    "unknown_agency": _("対応表にない機関"),
    "duplicate": _("重複の可能性"),
    "bad_value": _("値の誤り"),
    "other_owner": _("他機関が取込済み"),
    "no_record_id": _("レコードIDなし"),
    "bad_row": _("読めない行"),
    "empty_body": _("内容なし"),
    "too_long": _("長すぎる"),
    "conflict": _("同時実行"),
    "bad_comment": _("読めないコメント"),
}


def outcome_label(code: str) -> str:
    return str(OUTCOME_LABELS.get(code, code))


def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


def report_header() -> list[str]:
    return [
        gettext("kintoneレコード"),
        gettext("位置"),
        gettext("対象"),
        gettext("結果"),
        gettext("理由"),
        gettext("内容"),
        gettext("ケース番号"),
        gettext("追加する記録"),
        gettext("追加する共有"),
    ]


def report_row(line: ImportReportLine) -> list[str]:
    return [
        line.record_id,
        line.where,
        line.item,
        str(OUTCOME_LABELS.get(line.outcome, line.outcome)),
        line.reason,
        line.message,
        line.case_number,
        str(line.entries) if not line.item else "",
        str(line.shares) if not line.item else "",
    ]


def report_lines(run: ImportRun) -> Iterator[ImportReportLine]:
    return run.report_lines.order_by("position").iterator(chunk_size=2000)


def csv_chunks(run: ImportRun) -> Iterator[str]:
    """The report as CSV text in chunks (UTF-8 with a BOM when encoded, so that Excel opens it in Japanese)."""
    yield "\ufeff"
    yield from _csv_text([report_header()])
    batch: list[list[str]] = []
    for line in report_lines(run):
        batch.append(report_row(line))
        if len(batch) >= 500:
            yield from _csv_text(batch)
            batch = []
    if batch:
        yield from _csv_text(batch)


def write_csv(run: ImportRun, path: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        for chunk in csv_chunks(run):
            out.write(chunk)


def _csv_text(rows: Iterable[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    yield buffer.getvalue()
