"""Emergency access (break-glass): time-boxed read access to a client found by exact フリガナ and birth date."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Role
from audit.refusals import Refusal, refusals_audited, refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound

from ..actions import CaseAction, Topic
from ..models import BreakGlassGrant, Client, ShareLevel
from ..read_models import ClientView
from ..text import normalize
from ..timeline_events import break_glass_event
from .side_effects import announce, system_entry
from .validation import clean_profile

BREAK_GLASS_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.AGENCY_ADMIN})


def break_glass_open(*, actor: Actor, name_kana: str, birth_date: date | str | None, reason: str) -> list[ClientView]:
    """Emergency access (PRODUCT §4.6): exact フリガナ + birth date and a stated reason give this staff member
    time-boxed read access. Audited as ``break_glass`` (flagged for the privacy officer), shown on the timeline,
    and announced to the sharing agencies. No match is "not found", audited as denied."""
    if actor.agency is None or actor.account is None or actor.role not in BREAK_GLASS_ROLES:
        refuse(
            actor=actor,
            action=CaseAction.BREAK_GLASS,
            reason="role",
            error=Forbidden(gettext("緊急アクセスは職員（連携システムを除く）のみが行えます。")),
        )
    if not actor.may_break_glass:
        refuse(
            actor=actor,
            action=CaseAction.BREAK_GLASS,
            reason="privacy_officer",
            error=Forbidden(gettext("個人情報保護管理者は緊急アクセスを利用できません。")),
        )
    cleaned = clean_profile({"name_kana": name_kana, "birth_date": birth_date}, partial=True)
    missing = {f: [gettext("この項目は必須です。")] for f in ("name_kana", "birth_date") if f not in cleaned}
    if missing:
        raise InvalidInput(missing)
    reason = (reason or "").strip()
    if len(reason) < 5 or len(reason) > 1000:
        raise InvalidInput({"reason": [gettext("緊急アクセスの理由を5文字以上1000文字以内で入力してください。")]})
    key = normalize(cleaned["name_kana"])
    with refusals_audited(actor=actor, action=CaseAction.BREAK_GLASS), transaction.atomic():
        matches = [
            c
            for c in Client.objects.select_related("owner_agency").filter(birth_date=cleaned["birth_date"])
            if normalize(c.name_kana) == key
        ]
        if not matches:
            raise Refusal("no_match", NotFound(gettext("該当する支援対象者が見つかりません。")))
        now = actor.now()
        expires = now + timedelta(hours=settings.BREAK_GLASS_HOURS)
        # One open grant per person and client (a database constraint): a repeat while a grant is active is a
        # renewal, which needs a new reason and is flagged as such; it never stacks or silently extends access.
        open_grants = {
            g.client_id: g
            for g in BreakGlassGrant.objects.select_for_update().filter(
                user=actor.account, client__in=matches, ended_at=None
            )
        }
        if any(g.expires_at > now and _same_reason(g.reason, reason) for g in open_grants.values()):
            raise Refusal(
                "renewal_same_reason",
                InvalidInput({"reason": [gettext("緊急アクセスを延長するには、新しい理由を入力してください。")]}),
            )
        views = []
        for client in matches:
            previous = open_grants.get(client.pk)
            renews = previous if previous is not None and previous.expires_at > now else None
            if previous is not None:
                previous.ended_at = now if renews else previous.expires_at
                previous.save(update_fields=["ended_at"])
            grant = BreakGlassGrant.objects.create(
                client=client,
                user=actor.account,
                agency=actor.agency,
                reason=reason,
                granted_at=now,
                expires_at=expires,
                renews=renews,
            )
            entry = system_entry(
                actor=actor,
                agency=actor.agency,
                client=client,
                event=break_glass_event(agency=actor.agency, expires_at=expires, renewal=renews is not None),
            )
            announce(Topic.BREAK_GLASS, client=client, agency=actor.agency, entry=entry)
            details = {"flag": True, "expires_at": expires.isoformat(), "hours": settings.BREAK_GLASS_HOURS}
            if renews:
                details["renewal_of"] = str(renews.pk)
            audit_record(
                actor=actor,
                action=CaseAction.BREAK_GLASS,
                client_ids=[client.pk],
                target_type="client",
                target_id=client.pk,
                authorised_by=f"break_glass:{grant.pk}",
                details=details,
            )
            views.append(ClientView.of(client, level=ShareLevel.READ, viewer=actor))
    return views


def _same_reason(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
