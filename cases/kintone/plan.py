"""What the mapping makes of one kintone record (``mapping.Mapping.plan``): the client's profile, the shares the
operator stated, and the timeline entries (table rows and comments), each keyed by its kintone id so that a second
run finds what the first one imported. Still pure: agency codes and usernames are checked against the database by
``cases.services.imports``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Problem:
    """Why a record (or one of its rows or comments) is skipped: a stable code and a Japanese message."""

    # missing_name, missing_kana, missing_birth_date, bad_date, unknown_agency, bad_value, empty_body, too_long,
    # duplicate…
    reason: str
    message: str
    item: str = ""  # "" for the record itself; "row 123" / "comment 7" for a part of it


@dataclass(frozen=True)
class ShareSpec:
    agency: str  # Tsunagu agency code
    level: str  # read / append / manage
    basis: str  # consent / support_meeting / statutory / emergency
    basis_note: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class EntryPlan:
    item_type: str  # "row" (a table row) or "comment"
    item_id: str  # "<table code>:<row id>" for a row, the comment id for a comment
    kind: str  # an EntryKind value
    occurred_at: datetime  # aware
    body: str
    author_code: str  # kintone user code ("" when unknown)
    author_name: str  # kintone display name (the code when the export has no name)
    username: str | None  # the Tsunagu user it maps to ([users]), or None: kept by name, marked imported
    agency: str | None  # Tsunagu agency code from the row / the mapped user's agency is decided later; None: unknown


@dataclass
class RecordPlan:
    record_id: str
    revision: str
    where: str
    # name, name_kana (as written: clean_profile normalises it), birth_date (a date; absent when unreadable), and
    # only where the mapping maps them: address, phone, tags, address_confidential
    profile: dict[str, object]
    shares: list[ShareSpec] = field(default_factory=list)
    entries: list[EntryPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # any with item == "": the record is skipped
    skipped_items: list[Problem] = field(default_factory=list)  # rows / comments left out; the record goes on

    @property
    def birth_date(self) -> date | None:
        value = self.profile.get("birth_date")
        return value if isinstance(value, date) else None
