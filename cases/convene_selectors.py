"""Whom a support meeting (支援会議) may discuss: the clients the convening agency manages (PRODUCT §6.1: the
convener holds ``manage`` on every client listed), for the 支援会議を開催 form. Audited like the case list."""

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from agencies.actors import Actor
from audit.services import audit_record, terms_hash
from tsunagu.errors import InvalidInput
from tsunagu.ids import parse_uuid

from .access import actor_visible_clients, may_manage_shares
from .actions import CaseAction
from .models import ShareLevel
from .read_models import ClientView
from .selectors import MAX_QUERY
from .text import normalize

CHOICES_LIMIT = 50
INCLUDE_LIMIT = 50


def convene_client_choices(
    *, actor: Actor, q: str = "", include: list | tuple = (), limit: int = CHOICES_LIMIT
) -> list[ClientView]:
    """The clients the actor's agency manages (``manage``), 五十音順: those matching ``q`` (氏名, フリガナ or case
    number, as the case list searches), or the first ``limit`` without it; plus the ones in ``include`` (already
    ticked on the form) that the agency manages. Empty for an actor who may not convene (a caseworker, an agency
    without clients). Audited as ``client.list`` (``client.search`` with ``q``, its terms as a hash) naming every
    client shown."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise InvalidInput({"client_q": [gettext("検索語は%(max)s文字以内で入力してください。") % {"max": MAX_QUERY}]})
    wanted = [pk for pk in (parse_uuid(v) for v in list(include)[:INCLUDE_LIMIT]) if pk is not None]
    action = CaseAction.CLIENT_SEARCH if q else CaseAction.CLIENT_LIST
    with transaction.atomic():
        found: list = []
        if may_manage_shares(actor, ShareLevel.MANAGE):
            managed = actor_visible_clients(actor).filter(Q(my_level=ShareLevel.MANAGE)).select_related("owner_agency")
            listed = managed.filter(search_key__contains=normalize(q)) if q else managed
            found = list(listed.order_by("name_kana", "id")[:limit])
            seen = {c.pk for c in found}
            missing = [pk for pk in wanted if pk not in seen]
            if missing:
                found += list(managed.filter(pk__in=missing).order_by("name_kana", "id"))
        details: dict = {"purpose": "meeting_clients", "count": len(found)}
        if q:
            details["q_hash"] = terms_hash(normalize(q))
        audit_record(actor=actor, action=action, client_ids=[c.pk for c in found], details=details)
    return [ClientView.of(c, level=ShareLevel.MANAGE, viewer=actor) for c in found]
