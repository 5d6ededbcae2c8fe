"""Client identifiers for the privacy officer: case number, 氏名 and フリガナ, so that audit events (which carry
client ids only) can be read and a resident's record found for a disclosure request. Never case content (no
address, phone, birth date, tags or timeline): the officer reviews access, not the case (separation of duties).
And the emergency-access grants behind break-glass flags: who, for which client, the reason they gave, and when the
access began, was due to end and ended.

Privacy officers only; each identifier call is audited as ``audit.client_lookup`` with the ids of the clients it
showed (search terms recorded as a hash, never the terms), a grant read as ``audit.view``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from audit.actions import AuditAction
from audit.refusals import refuse
from audit.review import require_privacy_officer
from audit.services import audit_record, terms_hash
from tsunagu.errors import Forbidden, InvalidInput
from tsunagu.ids import parse_uuid

from .models import Attachment, BreakGlassGrant, Client
from .services.attachments import IntegrityState, attachment_integrity_state
from .text import normalize

LOOKUP_LIMIT = 20
IDENTIFY_LIMIT = 500


@dataclass(frozen=True)
class ClientIdentity:
    id: uuid.UUID
    case_number: str
    name: str
    name_kana: str
    owner_agency_code: str


def _require_officer(actor) -> None:
    if not getattr(actor, "is_privacy_officer", False):
        refuse(
            actor=actor,
            action=AuditAction.CLIENT_LOOKUP,
            reason="not_privacy_officer",
            error=Forbidden(gettext("対象者の識別情報は個人情報保護管理者のみが参照できます。")),
        )


def _identities(qs) -> list[ClientIdentity]:
    rows = qs.values_list("id", "case_number", "name", "name_kana", "owner_agency__code")
    return [ClientIdentity(*row) for row in rows]


def client_identify(*, actor, client_ids: list) -> dict[uuid.UUID, ClientIdentity]:
    """Identifiers of the given clients (ids that are malformed or unknown are left out)."""
    _require_officer(actor)
    ids = {cid for cid in (parse_uuid(v) for v in client_ids or []) if cid is not None}
    if len(ids) > IDENTIFY_LIMIT:
        raise InvalidInput(
            {"client_ids": [gettext("一度に照会できるのは%(max)s件までです。") % {"max": IDENTIFY_LIMIT}]}
        )
    if not ids:
        return {}
    with transaction.atomic():
        found = _identities(Client.objects.filter(pk__in=ids).order_by("case_number"))
        audit_record(
            actor=actor,
            action=AuditAction.CLIENT_LOOKUP,
            client_ids=[c.id for c in found],
            details={"purpose": "identify", "count": len(found)},
        )
    return {c.id: c for c in found}


def client_lookup(*, actor, q: str) -> list[ClientIdentity]:
    """Clients whose case number, 氏名 or フリガナ matches ``q`` (normalised like the client search), at most 20,
    by case number."""
    _require_officer(actor)
    q = (q or "").strip()
    if not q:
        raise InvalidInput({"q": [gettext("ケース番号、氏名またはフリガナを入力してください。")]})
    if len(q) > 100:
        raise InvalidInput({"q": [gettext("検索語は100文字以内で入力してください。")]})
    key = normalize(q)
    with transaction.atomic():
        qs = Client.objects.filter(Q(case_number__iexact=q) | Q(search_key__contains=key)).order_by("case_number")
        found = _identities(qs[:LOOKUP_LIMIT])
        audit_record(
            actor=actor,
            action=AuditAction.CLIENT_LOOKUP,
            client_ids=[c.id for c in found],
            details={"purpose": "lookup", "count": len(found), "q_hash": terms_hash(key)},
        )
    return found


GRANTS_LIMIT = 20


@dataclass(frozen=True)
class BreakGlassGrantReview:
    """One emergency-access grant as the privacy officer reviews it (the reason is what the caseworker typed)."""

    id: uuid.UUID
    client: ClientIdentity
    username: str
    display_name: str
    agency_code: str
    agency_name: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    ended_at: datetime | None  # replaced by a later grant (a renewal, or a new grant after it expired)
    renews_id: uuid.UUID | None

    @property
    def access_ended_at(self) -> datetime:
        """When the access ended or will end: at expiry, or earlier when a renewal replaced it."""
        return min(self.expires_at, self.ended_at) if self.ended_at else self.expires_at

    @property
    def replaced_early(self) -> bool:
        return self.ended_at is not None and self.ended_at < self.expires_at


def break_glass_grants(*, actor, grant_ids: list) -> dict[uuid.UUID, BreakGlassGrantReview]:
    """The given emergency-access grants (ids malformed or unknown are left out), for the flag that reports them.
    Audited as ``audit.view`` with the clients they are about: the reason may say more about the client than an
    identifier does."""
    _require_officer(actor)
    ids = {gid for gid in (parse_uuid(v) for v in grant_ids or []) if gid is not None}
    if len(ids) > GRANTS_LIMIT:
        raise InvalidInput({"grant_ids": [gettext("一度に照会できるのは%(max)s件までです。") % {"max": GRANTS_LIMIT}]})
    if not ids:
        return {}
    with transaction.atomic():
        grants = list(
            BreakGlassGrant.objects.filter(pk__in=ids)
            .select_related("client__owner_agency", "user__staff", "agency")
            .order_by("granted_at", "id")
        )
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            client_ids=sorted({g.client_id for g in grants}, key=str),
            target_type="break_glass",
            target_id=grants[0].pk if len(grants) == 1 else "",
            details={"purpose": "break_glass_grants", "grants": sorted(str(g.pk) for g in grants)},
        )
    found = {}
    for g in grants:
        staff = getattr(g.user, "staff", None)
        client = g.client
        found[g.pk] = BreakGlassGrantReview(
            id=g.pk,
            client=ClientIdentity(
                client.pk, client.case_number, client.name, client.name_kana, client.owner_agency.code
            ),
            username=g.user.get_username(),
            display_name=(staff.display_name if staff else "") or g.user.get_username(),
            agency_code=g.agency.code,
            agency_name=g.agency.name,
            reason=g.reason,
            granted_at=g.granted_at,
            expires_at=g.expires_at,
            ended_at=g.ended_at,
            renews_id=g.renews_id,
        )
    return found


def case_numbers(client_ids) -> dict[str, str]:
    """Case numbers by client id, for the audit CSV export (registered with ``audit.names``): the export itself is
    the audited read (``export``, started and downloaded by a privacy officer); identifiers only."""
    ids = [cid for cid in (parse_uuid(v) for v in client_ids) if cid is not None]
    return {str(pk): number for pk, number in Client.objects.filter(pk__in=ids).values_list("pk", "case_number")}


ATTACHMENT_NAMES_LIMIT = 500


def attachment_names(*, actor, client_id: object, attachment_ids: list) -> dict[uuid.UUID, str]:
    """The file names of the given attachments of ONE client, for that client's access history: the officer sees
    which file was uploaded, viewed or downloaded. Attachments of any other client are left out (a list across
    clients never names files), as are malformed and unknown ids. Audited as ``audit.client_lookup`` with the
    client and the number of names shown."""
    _require_officer(actor)
    cid = parse_uuid(client_id)
    ids = {aid for aid in (parse_uuid(v) for v in attachment_ids or []) if aid is not None}
    if len(ids) > ATTACHMENT_NAMES_LIMIT:
        raise InvalidInput(
            {"attachment_ids": [gettext("一度に照会できるのは%(max)s件までです。") % {"max": ATTACHMENT_NAMES_LIMIT}]}
        )
    if cid is None or not ids:
        return {}
    with transaction.atomic():
        found = dict(Attachment.objects.filter(client_id=cid, pk__in=ids).values_list("pk", "filename"))
        audit_record(
            actor=actor,
            action=AuditAction.CLIENT_LOOKUP,
            client_ids=[cid],
            details={"purpose": "attachment_names", "count": len(found)},
        )
    return found


def attachment_integrity(*, actor) -> IntegrityState:
    """The integrity state of the stored files for the dashboard: the last verification run and how many files
    are failed now (counts and times only). Audited as ``audit.view``."""
    require_privacy_officer(actor=actor, details={"purpose": "attachment_integrity"})
    with transaction.atomic():
        state = attachment_integrity_state()
        audit_record(actor=actor, action=AuditAction.VIEW, details={"purpose": "attachment_integrity"})
    return state
