"""Reads of agencies and staff for adapters. None of this is case data, so none of it is audited."""

from dataclasses import dataclass

from tsunagu.keyset import Page, keyset_page

from .actors import Actor
from .models import Agency, Staff

AGENCY_ORDER = [("code", False)]


@dataclass(frozen=True)
class AgencyView:
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


def agency_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page:
    """The agency directory (every agency, by code), one page. Open to every authenticated staff member: an
    agency's name and kind are what a supervisor needs to choose with whom to share."""
    page = keyset_page(Agency.objects.all(), order=AGENCY_ORDER, limit=limit, cursor=cursor)
    return Page(
        items=[AgencyView.of(a) for a in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )


def profile_get(*, actor: Actor) -> ProfileView:
    """The actor's own profile. A user without a staff record acts for no agency and has no role."""
    staff = None
    if actor.user is not None:
        staff = Staff.objects.select_related("agency", "user").filter(user_id=actor.user_id).first()
    return ProfileView(
        username=actor.username,
        display_name=(staff.display_name if staff else "") or actor.username,
        agency=AgencyView.of(actor.agency) if actor.agency is not None else None,
        role=actor.role,
        is_privacy_officer=actor.is_privacy_officer,
    )
