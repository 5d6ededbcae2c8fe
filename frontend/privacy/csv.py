"""The disclosure report as a CSV file: a document for the resident who asked (agency names and words, not codes),
unlike the audit log export (``audit.exports``), which keeps the log's own codes. Both go through one writer."""

from tsunagu.csvfile import csv_bytes

from ..templatetags.tsunagu import jdt
from . import labels

DISCLOSURE_HEADER = ["日時（日本時間）", "機関", "機関コード", "職員", "操作", "結果", "経路", "根拠"]


def disclosure_rows(rows) -> list[list[str]]:
    """The report's rows (``EventRow``) under ``DISCLOSURE_HEADER``."""
    return [
        [
            jdt(r.event.occurred_at),
            r.agency_name,
            r.event.actor_agency_code,
            r.event.actor_username,
            labels.action_label(r.event.action),
            labels.table_label(labels.OUTCOMES, r.event.outcome),
            labels.table_label(labels.CHANNELS, r.event.channel),
            r.basis,
        ]
        for r in rows
    ]


def disclosure_csv(rows) -> bytes:
    """The file: UTF-8 with a BOM, so that Excel opens it as Japanese text."""
    return csv_bytes(DISCLOSURE_HEADER, disclosure_rows(rows))
