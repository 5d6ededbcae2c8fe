"""The actor: who acts, for which agency, over which channel, with which request id. Passed to every service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from tsunagu.logs import current_request_id

from .models import CASEWORK_ROLES, SHARE_MANAGER_ROLES, Agency, Role, Staff

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CHANNELS = frozenset({"web", "api", "task", "cli", "admin"})


@dataclass(frozen=True)
class Actor:
    user: User | AnonymousUser | None  # the request's user, or None for the system
    agency: Agency | None
    role: str
    is_privacy_officer: bool
    channel: str
    # The request's (or the task's: tsunagu.logs) id, as on its log lines and in its X-Request-ID.
    request_id: str = field(default_factory=lambda: current_request_id() or uuid.uuid4().hex)
    ip: str | None = None
    user_agent: str = ""
    api_key_id: str = ""
    # When the action happens: None (always, for people and systems) means the server's clock. Only the demo
    # seeder sets a time, to replay a week of use; no adapter passes one (tests/test_architecture.py).
    at: datetime | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")

    def now(self) -> datetime:
        return self.at or timezone.now()

    # --- the audit.AuditActor protocol -------------------------------------------------------------
    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def username(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        # No user: a system job (task, command), or an unauthenticated caller on the web or the API.
        return "anonymous" if self.channel in ("web", "api") else "system"

    @property
    def agency_code(self) -> str:
        return self.agency.code if self.agency is not None else ""

    @property
    def account(self) -> User | None:
        """The user's row (what a user foreign key takes): None for the system and for an anonymous user."""
        return None if isinstance(self.user, AnonymousUser) else self.user

    # --- roles -----------------------------------------------------------------------------------
    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def has_staff_role(self) -> bool:
        """A member of an agency's staff, in any role: what registering clients, writing entries and holding an API
        key need first. Users without a staff record (and the system) have no agency and no role."""
        return self.agency is not None and self.role in Role.values

    @property
    def can_manage_shares(self) -> bool:
        return self.role in SHARE_MANAGER_ROLES

    @property
    def administers_agency(self) -> bool:
        """The agency administrator of an agency: its staff list and API keys (``agencies.selectors``)."""
        return self.agency is not None and self.role == Role.AGENCY_ADMIN

    @property
    def reads_cases(self) -> bool:
        """Privacy officers review access, not cases (PRODUCT §1, §4.4). An officer who also does casework (a
        caseworker or supervisor role) reads through the agency's shares like colleagues; any other officer reads
        no case data. Break-glass is never theirs (``may_break_glass``)."""
        return not self.is_privacy_officer or self.role in CASEWORK_ROLES

    @property
    def registers_clients(self) -> bool:
        """What ``cases.services.client_create`` requires: a staff role, and casework for a privacy officer."""
        return self.has_staff_role and self.reads_cases

    @property
    def may_break_glass(self) -> bool:
        return not self.is_privacy_officer

    @classmethod
    def for_user(
        cls,
        user: User | AnonymousUser | None,
        *,
        channel: str,
        request_id: str | None = None,
        ip: str | None = None,
        user_agent: str = "",
        api_key_id: str = "",
    ) -> Actor:
        """The actor for an authenticated staff user. Users without an agency act for none and see nothing."""
        staff = _staff_of(user)
        return cls(
            user=user,
            agency=staff.agency if staff else None,
            role=staff.role if staff else "",
            is_privacy_officer=bool(staff and staff.is_privacy_officer),
            channel=channel,
            request_id=request_id or current_request_id() or uuid.uuid4().hex,
            ip=ip,
            user_agent=user_agent,
            api_key_id=api_key_id,
        )

    @classmethod
    def system(cls, *, channel: str, request_id: str | None = None) -> Actor:
        """The actor for scheduled tasks and commands acting on nobody's behalf."""
        return cls(
            user=None,
            agency=None,
            role="",
            is_privacy_officer=False,
            channel=channel,
            request_id=request_id or current_request_id() or uuid.uuid4().hex,
        )


def _staff_of(user: User | AnonymousUser | None) -> Staff | None:
    """The user's staff record with its agency. No query when the user was loaded with it (``select_related(
    "user__staff__agency__group")``, as API-key authentication does): building the actor then costs nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    loaded = user._state.fields_cache  # what select_related brought (works through the request's lazy user)
    if "staff" in loaded:  # None: loaded, and the user has no staff record
        staff = loaded["staff"]
        if staff is None or "agency" in staff._state.fields_cache:
            return staff
    try:
        return Staff.objects.select_related("agency__group").get(user=user)
    except Staff.DoesNotExist:
        return None
