"""Client identifiers for the privacy officer: case number, 氏名 and フリガナ, so that audit events (which carry
client ids only) can be read and a resident's record found for a disclosure request. Never case content (no
address, phone, birth date, tags or timeline): the officer reviews access, not the case (separation of duties).

Privacy officers only; each call is audited as ``audit.client_lookup`` with the ids of the clients it showed
(search terms recorded as a hash, never the terms).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from audit.actions import AuditAction
from audit.refusals import refuse
from audit.services import audit_record, terms_hash
from tsunagu.errors import Forbidden, InvalidInput
from tsunagu.ids import parse_uuid

from .models import Client
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
