"""担当者: an agency assigns members of its own staff to a client it sees, and ends those assignments.

Every sharing agency sees every agency's assignments (「担当: 福祉課 田中」); each changes only its own. No timeline
entry and no notice: who in an agency carries a case is that agency's own organisation of its work, not support
given to the person, and reshuffling a caseload would otherwise flood the other agencies' inboxes. The audit log
keeps every change (``assignment.add`` / ``assignment.remove``).
"""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import CASEWORK_ROLES, Role, Staff
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from ..access import Access, Denied, client_access, may_assign
from ..actions import CaseAction
from ..assignees import AssigneeView, assignees_by_client
from ..models import ClientAssignment, ShareLevel

MAX_ASSIGNEES = 10  # per agency and client


def _require_assigner(actor: Actor, access: Access) -> None:
    if may_assign(actor, via_break_glass=access.break_glass is not None):
        return
    if access.break_glass is not None:
        reason = "break_glass_read_only"  # an emergency grant reads; it changes nothing
        message = gettext("緊急アクセス中の支援対象者には担当者を設定できません。")
    else:
        reason = "role"
        message = gettext("担当者は、この支援対象者を共有している機関の担当者・管理職・機関管理者が設定します。")
    raise Denied(reason, Forbidden(message))


def assignable_staff_filter(agency_id: int) -> Q:
    """Who may be assigned: active staff of the agency who work cases (an agency administrator too, unless a privacy
    officer whose role does no casework)."""
    works_cases = Q(role__in=CASEWORK_ROLES) | Q(role=Role.AGENCY_ADMIN, is_privacy_officer=False)
    return Q(agency_id=agency_id, user__is_active=True) & works_cases


def assignment_add(*, actor: Actor, client_id: object, user_id: object) -> list[AssigneeView]:
    """Assign a member of the actor's agency's staff to the client. Returns the client's assignees."""
    try:
        wanted = int(str(user_id))
    except (TypeError, ValueError):
        wanted = None
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.ASSIGNMENT_ADD, lock=True
    ) as access:
        _require_assigner(actor, access)
        client = access.client
        assignable = Staff.objects.select_related("user").filter(assignable_staff_filter(access.agency.pk))
        staff = assignable.filter(user_id=wanted).first() if wanted is not None else None
        if staff is None:
            raise InvalidInput({"user": [gettext("担当者には、自機関で支援を担当する職員を選んでください。")]})
        current = ClientAssignment.objects.filter(client=client, agency=access.agency, ended_at=None)
        if current.filter(user=staff.user).exists():
            raise InvalidInput({"user": [gettext("%(name)s さんは既に担当者です。") % {"name": str(staff)}]})
        if current.count() >= MAX_ASSIGNEES:
            raise InvalidInput({"user": [gettext("担当者は1機関あたり%(max)s人までです。") % {"max": MAX_ASSIGNEES}]})
        try:
            with transaction.atomic():
                assignment = ClientAssignment.objects.create(
                    client=client,
                    agency=access.agency,
                    user=staff.user,
                    assigned_by=actor.account,
                    assigned_at=actor.now(),
                )
        except IntegrityError:  # the same person assigned at the same moment by a colleague
            raise InvalidInput({"user": [gettext("%(name)s さんは既に担当者です。") % {"name": str(staff)}]}) from None
        audit_record(
            actor=actor,
            action=CaseAction.ASSIGNMENT_ADD,
            client_ids=[client.pk],
            target_type="assignment",
            target_id=assignment.pk,
            authorised_by=access.authorised_by,
            details={"assignee": staff.user.get_username()},
        )
        return assignees_by_client([client.pk], viewer_agency_id=access.agency.pk).get(client.pk, [])


def assignment_remove(*, actor: Actor, client_id: object, assignment_id: object) -> list[AssigneeView]:
    """End one of the actor's agency's assignments of the client. Returns the client's assignees."""
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.ASSIGNMENT_REMOVE, lock=True
    ) as access:
        _require_assigner(actor, access)
        client = access.client
        pk = parse_uuid(assignment_id)
        assignment = (
            ClientAssignment.objects.select_for_update()
            .select_related("user")
            .filter(pk=pk, client=client, agency=access.agency, ended_at=None)
            .first()
            if pk
            else None
        )
        if assignment is None:  # another agency's, already ended, or none: the same answer
            raise NotFound(gettext("担当者が見つかりません。"))
        assignment.ended_at, assignment.ended_by = actor.now(), actor.account
        assignment.save(update_fields=["ended_at", "ended_by"])
        audit_record(
            actor=actor,
            action=CaseAction.ASSIGNMENT_REMOVE,
            client_ids=[client.pk],
            target_type="assignment",
            target_id=assignment.pk,
            authorised_by=access.authorised_by,
            details={"assignee": assignment.user.get_username()},
        )
        return assignees_by_client([client.pk], viewer_agency_id=access.agency.pk).get(client.pk, [])
