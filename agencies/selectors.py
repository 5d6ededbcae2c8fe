"""Reads of agencies and staff for adapters: the agency directory, the actor's own profile, and for an agency
administrator the agency's own staff and API keys.

Agency names and kinds are not case data: the directory and the profile are not audited. Staff and key lists are
for the agency administrator of that agency only; those reads are audited (and a refusal too), so "who looked at
our staff list" has an answer like any other access.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from audit.refusals import refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden
from tsunagu.keyset import Page, keyset_page

from .actions import AgencyAction
from .actors import Actor
from .models import Agency, ApiKey, Role, Staff
from .people import person_name
from .services import require_agency_admin

AGENCY_ORDER = [("code", False)]


@dataclass(frozen=True)
class AgencyView:
    """An agency as every staff member may see it: the API's directory, the site's choices, one's own agency."""

    code: str
    name: str
    kind: str

    @classmethod
    def of(cls, agency: Agency) -> "AgencyView":
        return cls(code=agency.code, name=agency.name, kind=agency.kind)


@dataclass(frozen=True)
class ProfileView:
    """Who the actor is: the staff profile behind a session or an API key."""

    username: str
    display_name: str
    agency: AgencyView | None
    role: str
    is_privacy_officer: bool
    can_administer_agency: bool  # the agency's staff and API keys (``staff_of_agency``, ``apikey_list``)
    can_register_clients: bool  # ``cases.services.client_create`` (``Actor.registers_clients``)


@dataclass(frozen=True)
class StaffView:
    user_id: int
    username: str
    display_name: str
    role: str
    is_privacy_officer: bool
    is_active: bool
    can_log_in: bool
    last_login: datetime | None


@dataclass(frozen=True)
class ApiKeyView:
    id: UUID
    name: str
    prefix: str
    username: str
    display_name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    read_only: bool = False

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @property
    def is_expired(self) -> bool:
        return self.revoked_at is None and self.expires_at is not None and self.expires_at <= timezone.now()


def agency_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page:
    """The agency directory (every agency, by code), one page. Open to every authenticated staff member: an
    agency's name and kind are what a supervisor needs to choose with whom to share."""
    page = keyset_page(Agency.objects.all(), order=AGENCY_ORDER, limit=limit, cursor=cursor)
    return Page(
        items=[AgencyView.of(a) for a in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )


def agency_choices(*, actor: Actor) -> list[AgencyView]:
    """Every agency, by kind and name: whom a supervisor may share with (the site's choices). Empty for an actor
    without an agency."""
    if actor.user is None or actor.agency is None:
        return []
    return [AgencyView.of(a) for a in Agency.objects.order_by("kind", "name")]


def profile_get(*, actor: Actor) -> ProfileView:
    """The actor's own profile. A user without a staff record acts for no agency and has no role."""
    staff = None
    if actor.user_id is not None:
        staff = Staff.objects.select_related("agency", "user").filter(user_id=actor.user_id).first()
    return ProfileView(
        username=actor.username,
        display_name=(staff.display_name if staff else "") or actor.username,
        agency=AgencyView.of(actor.agency) if actor.agency is not None else None,
        role=actor.role,
        is_privacy_officer=actor.is_privacy_officer,
        can_administer_agency=actor.administers_agency,
        can_register_clients=actor.registers_clients,
    )


def _staff_view(s: Staff) -> StaffView:
    return StaffView(
        user_id=s.user.pk,
        username=s.user.get_username(),
        display_name=person_name(s.user),
        role=s.role,
        is_privacy_officer=s.is_privacy_officer,
        is_active=s.user.is_active,
        can_log_in=s.user.has_usable_password(),
        last_login=s.user.last_login,
    )


def staff_of_agency(*, actor: Actor) -> list[StaffView]:
    """The staff of the actor's own agency (agency administrators only). Audited as ``staff.list``."""
    agency = require_agency_admin(actor, AgencyAction.STAFF_LIST)
    with transaction.atomic():
        rows = Staff.objects.filter(agency=agency).select_related("user").order_by("role", "user__username")
        staff = [_staff_view(s) for s in rows]
        audit_record(
            actor=actor,
            action=AgencyAction.STAFF_LIST,
            target_type="agency",
            target_id=agency.code,
            details={"count": len(staff)},
        )
    return staff


def apikey_holders(*, actor: Actor) -> list[StaffView]:
    """Whom the actor may issue an API key for (the form offers only these): oneself, and for an agency
    administrator the integration users of the own agency who are not privacy officers. The service decides
    again (``agencies.services.apikey_issue``); this only keeps the form honest. A list of the agency's staff is
    audited as ``staff.list`` like the staff page."""
    agency = actor.agency
    if agency is None or not actor.has_staff_role:  # has_staff_role implies an agency; said for mypy
        refuse(
            actor=actor,
            action=AgencyAction.APIKEY_ISSUE,
            reason="no_role",
            error=Forbidden(gettext("所属機関のある職員のみが利用できます。")),
        )
    rows = Staff.objects.filter(user=actor.account)
    if actor.administers_agency:
        rows = rows | Staff.objects.filter(
            agency=agency, role=Role.INTEGRATION, is_privacy_officer=False, user__is_active=True
        )
    with transaction.atomic():
        holders = [_staff_view(s) for s in rows.select_related("user").order_by("role", "user__username")]
        if actor.administers_agency:
            audit_record(
                actor=actor,
                action=AgencyAction.STAFF_LIST,
                target_type="agency",
                target_id=agency.code,
                details={"count": len(holders), "purpose": "apikey_holders"},
            )
    return holders


def apikey_list(*, actor: Actor) -> list[ApiKeyView]:
    """The API keys of the actor's agency's staff, newest first (agency administrators only). Never the secret:
    only a hash is stored. Audited as ``apikey.list``."""
    agency = require_agency_admin(actor, AgencyAction.APIKEY_LIST)
    with transaction.atomic():
        rows = ApiKey.objects.filter(user__staff__agency=agency).select_related("user__staff").order_by("-created_at")
        keys = [
            ApiKeyView(
                id=k.id,
                name=k.name,
                prefix=k.prefix,
                username=k.user.get_username(),
                display_name=person_name(k.user),
                created_at=k.created_at,
                expires_at=k.expires_at,
                last_used_at=k.last_used_at,
                revoked_at=k.revoked_at,
                read_only=not k.allows_writes,
            )
            for k in rows
        ]
        audit_record(
            actor=actor,
            action=AgencyAction.APIKEY_LIST,
            target_type="agency",
            target_id=agency.code,
            details={"count": len(keys)},
        )
    return keys


def agency_names_by_code(codes) -> dict[str, str]:
    """Agency names for codes (the audit layer's names of the agencies its events carry; directory data)."""
    return dict(Agency.objects.filter(code__in=list(codes)).values_list("code", "name"))
