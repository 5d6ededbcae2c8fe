"""Registering a client and changing the profile or the status."""

from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Agency
from audit.refusals import refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput

from ..access import Access, Denied, client_access
from ..actions import CaseAction, Topic
from ..models import CaseNumberCounter, Client, Share, ShareBasis, ShareLevel
from ..read_models import ClientView
from ..text import normalize
from ..timeline_events import status_changed_event
from .permissions import grant_perms
from .side_effects import announce, system_entry
from .validation import MAX_STATUS_REASON, clean_profile


def _refresh_keys(client: Client) -> None:
    client.search_key = "|".join(normalize(part) for part in (client.name, client.name_kana, client.case_number))
    client.tag_key = "|" + "|".join(client.tags) + "|" if client.tags else ""


def _next_case_number() -> str:
    year = timezone.localdate().year
    counter, _ = CaseNumberCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{settings.CASE_NUMBER_PREFIX}-{year}-{counter.last:05d}"


def _require_staff(actor: Actor, action: str) -> Agency:
    """The actor's agency, if the actor may register clients (``Actor.registers_clients``); otherwise an audited
    refusal saying which part fell short."""
    if actor.agency is None or not actor.registers_clients:  # registers_clients implies an agency; said for mypy
        if not actor.has_staff_role:
            reason, message = "no_agency", gettext("所属機関のある職員のみが行えます。")
        else:
            reason, message = "privacy_officer", gettext("個人情報保護管理者は支援記録を扱いません。")
        refuse(actor=actor, action=action, reason=reason, error=Forbidden(message))
    return actor.agency


def client_create(
    *,
    actor: Actor,
    name: str,
    name_kana: str,
    birth_date: date | str | None,
    address: str = "",
    phone: str = "",
    tags: list[str] | tuple[str, ...] = (),
    address_confidential: bool = False,
    basis: str = ShareBasis.CONSENT,
) -> ClientView:
    """Register a client. The actor's agency becomes its owner and holds ``manage``."""
    agency = _require_staff(actor, CaseAction.CLIENT_CREATE)
    cleaned = clean_profile(
        {
            "name": name,
            "name_kana": name_kana,
            "birth_date": birth_date,
            "address": address,
            "phone": phone,
            "tags": tags,
            "address_confidential": address_confidential,
        },
        partial=False,
    )
    if basis not in ShareBasis.values:
        raise InvalidInput({"basis": [gettext("共有の根拠が不正です: %(value)s") % {"value": basis}]})
    with transaction.atomic():
        client = Client(owner_agency=agency, case_number=_next_case_number(), **cleaned)
        _refresh_keys(client)
        client.save()
        share = Share.objects.create(
            client=client,
            agency=agency,
            level=ShareLevel.MANAGE,
            basis=basis,
            granted_by=actor.account,
            granted_at=actor.now(),
        )
        grant_perms(client, agency, ShareLevel.MANAGE)
        audit_record(
            actor=actor,
            action=CaseAction.CLIENT_CREATE,
            client_ids=[client.pk],
            target_type="client",
            target_id=client.pk,
            authorised_by=share.pk,
        )
    return ClientView.of(client, level=ShareLevel.MANAGE, viewer=actor)


def client_update(*, actor: Actor, client_id: object, changes: dict[str, Any]) -> ClientView:
    """Change profile fields or the status (支援中/休止/終結). Needs ``manage`` (``may_edit_client``)."""
    allowed = {"name", "name_kana", "birth_date", "address", "phone", "tags", "status", "address_confidential"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput({field: [gettext("この項目は変更できません。")] for field in sorted(unknown)})
    cleaned = clean_profile(changes, partial=True)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.MANAGE, action=CaseAction.CLIENT_UPDATE, lock=True
    ) as access:
        return _apply_changes(actor, access, cleaned)


def client_status_change(*, actor: Actor, client_id: object, status: str, reason: str) -> ClientView:
    """Change the status (支援中 → 休止 / 終結 and back) with the reason for it, which the timeline shows with the
    change. Needs ``manage`` (``may_edit_client``), like every profile change; audited as ``client.update`` (the
    reason, being case content, is on the timeline only, never in the audit log)."""
    cleaned = clean_profile({"status": status}, partial=True)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": [gettext("変更の理由を入力してください。")]})
    if len(reason) > MAX_STATUS_REASON:
        raise InvalidInput(
            {"reason": [gettext("理由は%(max)s文字以内で入力してください。") % {"max": MAX_STATUS_REASON}]}
        )
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.MANAGE, action=CaseAction.CLIENT_UPDATE, lock=True
    ) as access:
        if access.client.status == cleaned["status"]:
            raise InvalidInput({"status": [gettext("現在と同じ状態です。変更後の状態を選んでください。")]})
        return _apply_changes(actor, access, cleaned, reason=reason)


def _apply_changes(actor: Actor, access: Access, cleaned: dict[str, Any], *, reason: str = "") -> ClientView:
    """Inside a ``client_access`` block at ``manage``: apply the cleaned changes, record a status change on the
    timeline (with ``reason``) and announce it, and write the audit event."""
    client = access.client
    if (
        client.address_confidential
        and client.owner_agency_id != access.agency.pk
        and ({"address", "address_confidential"} & set(cleaned))
    ):
        raise Denied("not_owner", Forbidden(gettext("秘匿された住所は登録機関のみが変更できます。")))
    changed = [field for field, value in cleaned.items() if getattr(client, field) != value]
    old_status = client.status
    for field in changed:
        setattr(client, field, cleaned[field])
    if changed:
        _refresh_keys(client)
        client.save()
    if "status" in changed:
        status_entry = system_entry(
            actor=actor,
            agency=access.agency,
            client=client,
            event=status_changed_event(old=old_status, new=client.status),
            body=reason,
        )
        announce(Topic.CLIENT_STATUS, client=client, agency=access.agency, entry=status_entry)
    audit_record(
        actor=actor,
        action=CaseAction.CLIENT_UPDATE,
        client_ids=[client.pk],
        target_type="client",
        target_id=client.pk,
        authorised_by=access.authorised_by,
        details={"fields": sorted(changed)},
    )
    return ClientView.of(client, level=access.level, viewer=actor)
