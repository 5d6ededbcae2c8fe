"""The privacy officer's review of the audit log: searches, seal status, disclosure reports, statistics, anomaly
flags and their review notes, CSV exports.

Every function is for privacy officers only: anyone else is refused with ``Forbidden`` after a denied event is
recorded (``officer.require_privacy_officer``). Each read records its own ``audit.view`` (or more specific) event
in the same transaction as the read, so a read whose audit row cannot be written returns nothing (fail closed).
Audit rows written here carry ids, filters and counts, never case content; the text of a review note stays in the
note.

This package sits in ``audit``: it imports no domain app. The actor is anything with the
``audit.services.AuditActor`` attributes plus ``is_privacy_officer``.

Modules: ``officer`` (who may review), ``search`` (the log, per client, per user, by search term), ``dashboard``
(statistics and seal status), ``disclosure`` (開示請求), ``flags`` (anomaly flags and review notes), ``export``
(CSV exports of a search). Callers import the names below from ``audit.review``.
"""

from .dashboard import ReviewStats, review_seal_status, review_stats
from .disclosure import DisclosureReport, review_disclosure
from .export import export_get, export_open, export_start
from .flags import FlagDetail, GrantActivity, detect_anomalies, flag_add_note, flag_get, flags_list, is_about
from .officer import require_privacy_officer
from .search import (
    ClientHistory,
    event_filters,
    review_client_history,
    review_events,
    review_events_authorised_by,
    review_term_search,
)

__all__ = [
    "ClientHistory",
    "DisclosureReport",
    "FlagDetail",
    "GrantActivity",
    "ReviewStats",
    "detect_anomalies",
    "event_filters",
    "export_get",
    "export_open",
    "export_start",
    "flag_add_note",
    "flag_get",
    "flags_list",
    "is_about",
    "require_privacy_officer",
    "review_client_history",
    "review_disclosure",
    "review_events",
    "review_events_authorised_by",
    "review_seal_status",
    "review_stats",
    "review_term_search",
]
