"""Writes of case data. Each checks access, changes the data and records the audit event in one transaction.

One module per feature: ``clients``, ``timeline``, ``shares``, ``break_glass``, ``assignments``, ``inquiries``,
``meetings``, ``imports`` (moving in from kintone);
``validation`` holds the input checks and limits they share. The public services are re-exported here
(``from cases import services``).
"""

from .assignments import assignment_add, assignment_remove
from .break_glass import break_glass_open
from .clients import client_create, client_status_change, client_update
from .imports import import_kintone, import_start
from .inquiries import MAX_ADDRESSEES, MAX_SUBJECT, inquiry_close, inquiry_create, inquiry_reply
from .meetings import meeting_confirm, meeting_create, meeting_minutes_record, task_done
from .shares import share_expire_sweep, share_grant, share_revoke
from .timeline import timeline_append
from .validation import (
    MAX_ADDRESS,
    MAX_BASIS_NOTE,
    MAX_BODY,
    MAX_NAME,
    MAX_PHONE,
    MAX_STATUS_REASON,
    MAX_TAG_LENGTH,
    MAX_TAGS,
)

__all__ = [
    "MAX_ADDRESS",
    "MAX_ADDRESSEES",
    "MAX_BASIS_NOTE",
    "MAX_BODY",
    "MAX_NAME",
    "MAX_PHONE",
    "MAX_STATUS_REASON",
    "MAX_SUBJECT",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "assignment_add",
    "assignment_remove",
    "break_glass_open",
    "client_create",
    "client_status_change",
    "client_update",
    "import_kintone",
    "import_start",
    "inquiry_close",
    "inquiry_create",
    "inquiry_reply",
    "meeting_confirm",
    "meeting_create",
    "meeting_minutes_record",
    "share_expire_sweep",
    "share_grant",
    "share_revoke",
    "task_done",
    "timeline_append",
]
