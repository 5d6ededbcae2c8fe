"""Sharing a client with another agency: grant, revoke, and the sweep that closes expired shares."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Agency
from agencies.services import require_operator
from audit.services import audit_record
from tsunagu.errors import InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from ..access import client_access, require_share_manager
from ..actions import CaseAction, Topic
from ..models import Share, ShareBasis, ShareLevel
from ..read_models import ShareView
from ..timeline_events import share_expired_event, share_granted_event, share_revoked_event
from .permissions import grant_perms, revoke_perms
from .side_effects import announce, system_entry
from .validation import MAX_BASIS_NOTE


def share_grant(
    *,
    actor: Actor,
    client_id: object,
    agency_code: str,
    level: str,
    basis: str,
    basis_note: str = "",
    expires_at: datetime | None = None,
) -> ShareView:
    """Share a client with another agency (replacing that agency's current share, if any)."""
    errors: dict[str, list[str]] = {}
    if level not in ShareLevel.values:
        errors["level"] = [gettext("共有レベルが不正です: %(value)s") % {"value": level}]
    if basis not in ShareBasis.values:
        errors["basis"] = [gettext("共有の根拠が不正です: %(value)s") % {"value": basis}]
    basis_note = (basis_note or "").strip()
    if len(basis_note) > MAX_BASIS_NOTE:
        errors["basis_note"] = [gettext("根拠の補足は%(max)s文字以内で入力してください。") % {"max": MAX_BASIS_NOTE}]
    if expires_at is not None and (
        not isinstance(expires_at, datetime) or timezone.is_naive(expires_at) or expires_at <= actor.now()
    ):
        errors["expires_at"] = [gettext("有効期限は未来の日時（タイムゾーン付き）で指定してください。")]
    target_agency = Agency.objects.filter(code=agency_code).first() if isinstance(agency_code, str) else None
    if target_agency is None:
        errors["agency"] = [gettext("機関 %(code)s は存在しません。") % {"code": agency_code}]
    if errors or target_agency is None:
        raise InvalidInput(errors)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.SHARE_GRANT, lock=True
    ) as access:
        require_share_manager(actor, access)  # manage and a share-manager role
        client = access.client
        if target_agency.pk == client.owner_agency_id:
            raise InvalidInput({"agency": [gettext("登録機関（所有機関）の共有は変更できません。")]})
        now = actor.now()
        replaced = list(Share.objects.select_for_update().filter(client=client, agency=target_agency, revoked_at=None))
        for old in replaced:
            old.revoked_at, old.revoked_by, old.revoke_reason = now, actor.account, "replaced"
            old.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        try:
            with transaction.atomic():
                share = Share.objects.create(
                    client=client,
                    agency=target_agency,
                    level=level,
                    basis=basis,
                    basis_note=basis_note,
                    granted_by=actor.account,
                    granted_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:
            raise InvalidInput(
                {"agency": [gettext("同時に別の共有設定が行われました。再度お試しください。")]}
            ) from None
        grant_perms(client, target_agency, level)
        entry = system_entry(actor=actor, agency=access.agency, client=client, event=share_granted_event(share=share))
        announce(Topic.SHARE_GRANT, client=client, agency=access.agency, entry=entry)
        audit_record(
            actor=actor,
            action=CaseAction.SHARE_GRANT,
            client_ids=[client.pk],
            target_type="share",
            target_id=share.pk,
            authorised_by=access.authorised_by,
            details={
                "agency": target_agency.code,
                "level": level,
                "basis": basis,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "replaced": [str(s.pk) for s in replaced],
            },
        )
    return ShareView.of(share, owner_agency_id=client.owner_agency_id)


def share_revoke(*, actor: Actor, client_id: object, share_id: object) -> ShareView:
    """Revoke a share; it takes effect on the agency's next request. The owner's share cannot be revoked."""
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.SHARE_REVOKE, lock=True
    ) as access:
        require_share_manager(actor, access)  # manage and a share-manager role
        client = access.client
        pk = parse_uuid(share_id)
        share = (
            Share.objects.select_for_update().select_related("agency").filter(pk=pk, client=client).first()
            if pk
            else None
        )
        if share is None:
            raise NotFound(gettext("共有設定が見つかりません。"))
        if share.agency_id == client.owner_agency_id:
            raise InvalidInput({"share": [gettext("登録機関（所有機関）の共有は解除できません。")]})
        if share.revoked_at is not None:
            raise InvalidInput({"share": [gettext("この共有は既に解除されています。")]})
        share.revoked_at, share.revoked_by, share.revoke_reason = actor.now(), actor.account, "revoked"
        share.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        revoke_perms(client, share.agency)
        entry = system_entry(actor=actor, agency=access.agency, client=client, event=share_revoked_event(share=share))
        announce(Topic.SHARE_REVOKE, client=client, agency=access.agency, entry=entry)
        audit_record(
            actor=actor,
            action=CaseAction.SHARE_REVOKE,
            client_ids=[client.pk],
            target_type="share",
            target_id=share.pk,
            authorised_by=access.authorised_by,
            details={"agency": share.agency.code},
        )
    return ShareView.of(share, owner_agency_id=client.owner_agency_id)


def share_expire_sweep(*, actor: Actor) -> int:
    """Close every share past its expiry (audited ``share.expire``). Expired shares grant nothing even before
    this runs; the sweep tidies the permissions and records the change on each timeline."""
    require_operator(actor, CaseAction.SHARE_EXPIRE)
    now = actor.now()
    count = 0
    expired_ids = list(Share.objects.filter(revoked_at=None, expires_at__lte=now).values_list("pk", flat=True)[:1000])
    for share_id in expired_ids:
        with transaction.atomic():
            share = (
                Share.objects.select_for_update()
                .select_related("agency", "client")
                .filter(pk=share_id, revoked_at=None)
                .first()
            )
            if share is None:
                continue
            share.revoked_at, share.revoke_reason = now, "expired"
            share.save(update_fields=["revoked_at", "revoke_reason"])
            revoke_perms(share.client, share.agency)
            if not share.pending:
                # A 支援会議's share its agency never confirmed never started: it closes without a timeline entry
                # or a notice (nothing changed for anyone), and grants nothing on the way.
                entry = system_entry(
                    actor=actor, agency=None, client=share.client, event=share_expired_event(share=share)
                )
                announce(Topic.SHARE_EXPIRE, client=share.client, agency=None, entry=entry)
            audit_record(
                actor=actor,
                action=CaseAction.SHARE_EXPIRE,
                client_ids=[share.client_id],
                target_type="share",
                target_id=share.pk,
                details={"agency": share.agency.code, "pending": share.pending},
            )
            count += 1
    return count
