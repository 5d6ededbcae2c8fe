"""The disclosure report as a CSV file: a document for the resident who asked (agency names and words, not codes),
unlike the audit log export (``audit.exports``), which keeps the log's own codes. Both go through one writer."""

from django.utils import timezone
from django.utils.formats import date_format

from audit import actions
from audit.models import Channel, Outcome
from tsunagu.csvfile import csv_bytes

from ..labels import choice_label

DISCLOSURE_HEADER = ["日時（日本時間）", "機関", "機関コード", "職員", "操作", "結果", "経路", "根拠"]


def disclosure_rows(rows) -> list[list[str]]:
    """The report's rows (``EventRow``) under ``DISCLOSURE_HEADER``."""
    return [
        [
            date_format(timezone.localtime(r.event.occurred_at), "DATETIME_FORMAT"),
            r.agency_name,
            r.event.actor_agency_code,
            r.event.actor_username,
            actions.event_label(r.event.action, r.event.details),
            choice_label(Outcome, r.event.outcome),
            choice_label(Channel, r.event.channel),
            r.basis,
        ]
        for r in rows
    ]


def disclosure_csv(rows) -> bytes:
    """The file: UTF-8 with a BOM, so that Excel opens it as Japanese text."""
    return csv_bytes(DISCLOSURE_HEADER, disclosure_rows(rows))
