"""担当者 as every sharing agency sees them: 「担当: 福祉課 田中」 (the agency's short name and the family name).

A helper of the selectors and services (it checks nothing itself): callers pass only clients the viewer may see.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef

from agencies.models import Agency

from .models import ClientAssignment, Share


def agency_short_name(agency: Agency) -> str:
    """The last word of the agency's name: 「三条市 福祉課」 → 「福祉課」; a name in one word stays whole."""
    words = agency.name.split()
    return words[-1] if words else agency.code


def family_name(user: AbstractBaseUser) -> str:
    """The first word of the staff member's display name (姓), or the username when there is none."""
    staff = getattr(user, "staff", None)
    words = (staff.display_name if staff is not None else "").split()
    return words[0] if words else user.get_username()


@dataclass(frozen=True)
class AssigneeView:
    id: UUID  # the assignment
    user_id: int
    display_name: str
    family_name: str
    agency_code: str
    agency_short_name: str
    own_agency: bool  # the viewer's agency: the viewer's colleagues (whom the viewer's agency may remove)

    @property
    def label(self) -> str:
        return f"{self.agency_short_name} {self.family_name}"


def assignees_by_client(client_ids: Iterable[UUID], *, viewer_agency_id: int | None) -> dict[UUID, list[AssigneeView]]:
    """Open assignments of the given clients, every agency's, the viewer's own agency first (one query). Only agencies
    that see the client now: an agency whose share ended (revoked or expired) carries it no more."""
    ids = list(client_ids)
    found: dict[UUID, list[AssigneeView]] = {}
    if not ids:
        return found
    sharing = Share.objects.active().filter(client_id=OuterRef("client_id"), agency_id=OuterRef("agency_id"))
    rows = (
        ClientAssignment.objects.filter(client_id__in=ids, ended_at=None)
        .filter(Exists(sharing))
        .select_related("agency", "user__staff")
        .order_by("assigned_at", "id")
    )
    for a in rows:
        staff = getattr(a.user, "staff", None)
        found.setdefault(a.client_id, []).append(
            AssigneeView(
                id=a.id,
                user_id=a.user_id,
                display_name=(staff.display_name if staff else "") or a.user.get_username(),
                family_name=family_name(a.user),
                agency_code=a.agency.code,
                agency_short_name=agency_short_name(a.agency),
                own_agency=a.agency_id == viewer_agency_id,
            )
        )
    for views in found.values():
        views.sort(key=lambda v: not v.own_agency)  # stable: the viewer's agency first, then by time
    return found
