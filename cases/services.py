"""Writes of case data. Each checks access, changes the data and records the audit event in one transaction.

Nothing here is updated in place on the timeline: a correction is a new entry pointing at the one it corrects.
"""

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from agencies.actors import Actor
from agencies.models import Agency, Role
from agencies.services import require_operator
from audit.refusals import Refusal, refusals_audited, refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound

from .access import Denied, client_access, parse_uuid, require_share_manager
from .models import (
    ALL_CLIENT_PERMS,
    LEVEL_PERMS,
    USER_ENTRY_KINDS,
    BreakGlassGrant,
    CaseNumberCounter,
    Client,
    ClientStatus,
    EntryKind,
    Share,
    ShareBasis,
    ShareLevel,
    TimelineEntry,
)
from .outbox import outbox_enqueue
from .text import KANA_MAX_LENGTH, PHONE_PATTERN, is_kana, normalize, normalize_kana
from .read_models import ClientView, EntryView, ShareView

MAX_BODY = 20000
MAX_TAGS = 10
MAX_TAG_LENGTH = 20
MAX_NAME = 100
MAX_ADDRESS = 255
MAX_PHONE = 32
MAX_BASIS_NOTE = 500
_PHONE = re.compile(PHONE_PATTERN)
# Clock skew allowance for occurred_at: an entry cannot describe something that has not happened yet.
FUTURE_TOLERANCE = timedelta(minutes=5)


# --- validation helpers --------------------------------------------------------------------------------


def _clean_profile(data: dict, *, partial: bool) -> dict:
    """Validate profile fields; returns cleaned values or raises InvalidInput with every field error at once."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    required = () if partial else ("name", "name_kana", "birth_date")
    for field in required:
        if data.get(field) in (None, ""):
            errors[field] = ["この項目は必須です。"]
    if "name" in data and data["name"] not in (None, ""):
        name = " ".join(str(data["name"]).split())
        if len(name) > MAX_NAME:
            errors["name"] = [f"氏名は{MAX_NAME}文字以内で入力してください。"]
        cleaned["name"] = name
    if "name_kana" in data and data["name_kana"] not in (None, ""):
        kana = normalize_kana(str(data["name_kana"]))
        if not is_kana(kana):
            errors["name_kana"] = ["フリガナはひらがなまたはカタカナで入力してください。"]
        elif len(kana) > KANA_MAX_LENGTH:
            errors["name_kana"] = [f"フリガナは{KANA_MAX_LENGTH}文字以内で入力してください。"]
        cleaned["name_kana"] = kana
    if "birth_date" in data and data["birth_date"] not in (None, ""):
        value = data["birth_date"]
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                value = None
        if not isinstance(value, date) or isinstance(value, datetime):
            errors["birth_date"] = ["生年月日は YYYY-MM-DD の形式で入力してください。"]
        elif value > timezone.localdate() or value.year < 1900:
            errors["birth_date"] = ["生年月日が正しくありません。"]
        else:
            cleaned["birth_date"] = value
    for field, limit in (("address", MAX_ADDRESS), ("phone", MAX_PHONE)):
        if field in data:
            value = "" if data[field] is None else str(data[field]).strip()
            if len(value) > limit:
                errors[field] = [f"{limit}文字以内で入力してください。"]
            elif field == "phone" and not _PHONE.fullmatch(value):
                errors[field] = ["電話番号は数字とハイフンで入力してください。"]
            cleaned[field] = value
    if "tags" in data:
        tags = data["tags"] if data["tags"] is not None else []
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = ["タグは文字列のリストで指定してください。"]
        else:
            tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
            if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_LENGTH or "|" in t for t in tags):
                errors["tags"] = [
                    f"タグは{MAX_TAGS}個まで、各{MAX_TAG_LENGTH}文字以内（| は使えません）で指定してください。"
                ]
            cleaned["tags"] = tags
    if "address_confidential" in data:
        if not isinstance(data["address_confidential"], bool):
            errors["address_confidential"] = ["真偽値で指定してください。"]
        cleaned["address_confidential"] = data["address_confidential"]
    if "status" in data:
        if data["status"] not in ClientStatus.values:
            errors["status"] = [f"状態が不正です: {data['status']}"]
        cleaned["status"] = data["status"]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _refresh_keys(client: Client) -> None:
    client.search_key = "|".join(normalize(part) for part in (client.name, client.name_kana, client.case_number))
    client.tag_key = "|" + "|".join(client.tags) + "|" if client.tags else ""


def _next_case_number() -> str:
    year = timezone.localdate().year
    counter, _ = CaseNumberCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{settings.CASE_NUMBER_PREFIX}-{year}-{counter.last:05d}"


def _grant_perms(client: Client, agency: Agency, level: str) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)
    for codename in LEVEL_PERMS[level]:
        assign_perm(f"cases.{codename}", agency.group, client)


def _revoke_perms(client: Client, agency: Agency) -> None:
    for codename in ALL_CLIENT_PERMS:
        remove_perm(f"cases.{codename}", agency.group, client)


def _system_entry(*, actor: Actor, client: Client, kind: str, body: str) -> TimelineEntry:
    return TimelineEntry.objects.create(
        client=client,
        kind=kind,
        occurred_at=timezone.now(),
        body=body,
        author=actor.user,
        agency=actor.agency,
    )


def _announce(topic: str, *, client: Client, agency: Agency | None, entry: TimelineEntry | None = None) -> None:
    """Tell the other sharing agencies, after commit, through the outbox (ids only)."""
    outbox_enqueue(
        topic=topic,
        payload={
            "client_id": str(client.pk),
            "entry_id": str(entry.pk) if entry else None,
            "agency_id": agency.pk if agency else None,
        },
    )


def _require_staff(actor: Actor, action: str) -> Agency:
    if actor.agency is None or actor.role not in Role.values:
        refuse(actor=actor, action=action, reason="no_agency", error=Forbidden("所属機関のある職員のみが行えます。"))
    if not actor.reads_cases:
        refuse(
            actor=actor,
            action=action,
            reason="privacy_officer",
            error=Forbidden("個人情報保護管理者は支援記録を扱いません。"),
        )
    return actor.agency


# --- clients -------------------------------------------------------------------------------------------


def client_create(
    *,
    actor: Actor,
    name: str,
    name_kana: str,
    birth_date,
    address: str = "",
    phone: str = "",
    tags: list[str] | tuple = (),
    address_confidential: bool = False,
    basis: str = ShareBasis.CONSENT,
) -> ClientView:
    """Register a client. The actor's agency becomes its owner and holds ``manage``."""
    agency = _require_staff(actor, "client.create")
    cleaned = _clean_profile(
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
        raise InvalidInput({"basis": [f"共有の根拠が不正です: {basis}"]})
    with transaction.atomic():
        client = Client(owner_agency=agency, case_number=_next_case_number(), **cleaned)
        _refresh_keys(client)
        client.save()
        share = Share.objects.create(
            client=client, agency=agency, level=ShareLevel.MANAGE, basis=basis, granted_by=actor.user
        )
        _grant_perms(client, agency, ShareLevel.MANAGE)
        audit_record(
            actor=actor,
            action="client.create",
            client_ids=[client.pk],
            target_type="client",
            target_id=client.pk,
            authorised_by=share.pk,
        )
    return ClientView.of(client, level=ShareLevel.MANAGE, viewer_agency_id=agency.pk)


def client_update(*, actor: Actor, client_id, changes: dict) -> ClientView:
    """Change profile fields or the status (支援中/終結). Needs ``manage``."""
    allowed = {"name", "name_kana", "birth_date", "address", "phone", "tags", "status", "address_confidential"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput({field: ["この項目は変更できません。"] for field in sorted(unknown)})
    cleaned = _clean_profile(changes, partial=True)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.MANAGE, action="client.update", lock=True
    ) as access:
        client = access.client
        if (
            client.address_confidential
            and client.owner_agency_id != actor.agency.pk
            and ({"address", "address_confidential"} & set(cleaned))
        ):
            raise Denied("not_owner", Forbidden("秘匿された住所は登録機関のみが変更できます。"))
        changed = [field for field, value in cleaned.items() if getattr(client, field) != value]
        old_status = client.status
        for field in changed:
            setattr(client, field, cleaned[field])
        if changed:
            _refresh_keys(client)
            client.save()
        if "status" in changed:
            label = ClientStatus(client.status).label
            status_entry = _system_entry(
                actor=actor,
                client=client,
                kind=EntryKind.STATUS_CHANGE,
                body=f"状態を「{ClientStatus(old_status).label}」から「{label}」に変更しました。",
            )
            _announce("client.status", client=client, agency=actor.agency, entry=status_entry)
        audit_record(
            actor=actor,
            action="client.update",
            client_ids=[client.pk],
            target_type="client",
            target_id=client.pk,
            authorised_by=access.authorised_by,
            details={"fields": sorted(changed)},
        )
    return ClientView.of(client, level=access.level, viewer_agency_id=actor.agency.pk)


# --- timeline ------------------------------------------------------------------------------------------


def timeline_append(
    *,
    actor: Actor,
    client_id,
    kind: str,
    body: str,
    occurred_at: datetime | None = None,
    corrects=None,
) -> EntryView:
    """Append an entry (``append`` level). With ``corrects``, a correction of one of the agency's own entries."""
    errors: dict[str, list[str]] = {}
    if kind not in USER_ENTRY_KINDS:
        errors["kind"] = [f"記録の種類が不正です: {kind}"]
    body = (body or "").strip()
    if not body:
        errors["body"] = ["内容を入力してください。"]
    elif len(body) > MAX_BODY:
        errors["body"] = [f"内容は{MAX_BODY}文字以内で入力してください。"]
    now = timezone.now()
    if occurred_at is None:
        occurred_at = now
    elif not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["日時はタイムゾーン付きで指定してください。"]
    elif occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = ["未来の日時は指定できません。"]
    elif occurred_at.year < 1900:
        errors["occurred_at"] = ["日時が正しくありません。"]
    corrects_id = None
    if corrects not in (None, ""):
        corrects_id = parse_uuid(corrects)
        if corrects_id is None:
            errors["corrects"] = ["訂正対象の記録が見つかりません。"]
    if errors:
        raise InvalidInput(errors)
    action = "timeline.correct" if corrects_id else "timeline.append"
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.APPEND, action=action) as access:
        if actor.role not in Role.values:
            raise Denied("no_role", Forbidden())
        target = None
        if corrects_id:
            target = TimelineEntry.objects.filter(pk=corrects_id, client=access.client).first()
            if target is None:
                raise InvalidInput({"corrects": ["訂正対象の記録が見つかりません。"]})
            if target.kind not in USER_ENTRY_KINDS:
                raise InvalidInput({"corrects": ["システムの記録は訂正できません。"]})
            if target.agency_id != actor.agency.pk:
                raise Denied("not_own_entry", Forbidden("自機関の記録のみ訂正できます。"))
        entry = TimelineEntry.objects.create(
            client=access.client,
            kind=kind,
            occurred_at=occurred_at,
            body=body,
            author=actor.user,
            agency=actor.agency,
            recorded_at=now,
            corrects=target,
        )
        audit_record(
            actor=actor,
            action=action,
            client_ids=[access.client.pk],
            target_type="entry",
            target_id=entry.pk,
            authorised_by=access.authorised_by,
            details={"kind": kind, "corrects": str(target.pk) if target else None},
        )
        _announce(action, client=access.client, agency=actor.agency, entry=entry)
    entry.agency = actor.agency
    entry.author = actor.user
    return EntryView.of(entry, [])


# --- shares --------------------------------------------------------------------------------------------


def _share_body(share: Share, verb: str) -> str:
    text = (
        f"{share.agency.name} との共有を{verb}（{ShareLevel(share.level).label}、根拠: {ShareBasis(share.basis).label}"
    )
    if share.expires_at and verb == "設定しました":
        text += f"、期限 {timezone.localtime(share.expires_at):%Y年%m月%d日 %H:%M}"
    return text + "）。"


def share_grant(
    *,
    actor: Actor,
    client_id,
    agency_code: str,
    level: str,
    basis: str,
    basis_note: str = "",
    expires_at: datetime | None = None,
) -> ShareView:
    """Share a client with another agency (replacing that agency's current share, if any)."""
    errors: dict[str, list[str]] = {}
    if level not in ShareLevel.values:
        errors["level"] = [f"共有レベルが不正です: {level}"]
    if basis not in ShareBasis.values:
        errors["basis"] = [f"共有の根拠が不正です: {basis}"]
    basis_note = (basis_note or "").strip()
    if len(basis_note) > MAX_BASIS_NOTE:
        errors["basis_note"] = [f"根拠の補足は{MAX_BASIS_NOTE}文字以内で入力してください。"]
    if expires_at is not None and (
        not isinstance(expires_at, datetime) or timezone.is_naive(expires_at) or expires_at <= timezone.now()
    ):
        errors["expires_at"] = ["有効期限は未来の日時（タイムゾーン付き）で指定してください。"]
    target_agency = Agency.objects.filter(code=agency_code).first() if isinstance(agency_code, str) else None
    if target_agency is None:
        errors["agency"] = [f"機関 {agency_code} は存在しません。"]
    if errors:
        raise InvalidInput(errors)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.MANAGE, action="share.grant", lock=True
    ) as access:
        require_share_manager(actor)
        client = access.client
        if target_agency.pk == client.owner_agency_id:
            raise InvalidInput({"agency": ["登録機関（所有機関）の共有は変更できません。"]})
        now = timezone.now()
        replaced = list(Share.objects.select_for_update().filter(client=client, agency=target_agency, revoked_at=None))
        for old in replaced:
            old.revoked_at, old.revoked_by, old.revoke_reason = now, actor.user, "replaced"
            old.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        try:
            with transaction.atomic():
                share = Share.objects.create(
                    client=client,
                    agency=target_agency,
                    level=level,
                    basis=basis,
                    basis_note=basis_note,
                    granted_by=actor.user,
                    granted_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:
            raise InvalidInput({"agency": ["同時に別の共有設定が行われました。再度お試しください。"]}) from None
        _grant_perms(client, target_agency, level)
        entry = _system_entry(
            actor=actor, client=client, kind=EntryKind.SHARE_CHANGE, body=_share_body(share, "設定しました")
        )
        _announce("share.grant", client=client, agency=actor.agency, entry=entry)
        audit_record(
            actor=actor,
            action="share.grant",
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


def share_revoke(*, actor: Actor, client_id, share_id) -> ShareView:
    """Revoke a share; it takes effect on the agency's next request. The owner's share cannot be revoked."""
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.MANAGE, action="share.revoke", lock=True
    ) as access:
        require_share_manager(actor)
        client = access.client
        pk = parse_uuid(share_id)
        share = (
            Share.objects.select_for_update().select_related("agency").filter(pk=pk, client=client).first()
            if pk
            else None
        )
        if share is None:
            raise NotFound("共有設定が見つかりません。")
        if share.agency_id == client.owner_agency_id:
            raise InvalidInput({"share": ["登録機関（所有機関）の共有は解除できません。"]})
        if share.revoked_at is not None:
            raise InvalidInput({"share": ["この共有は既に解除されています。"]})
        share.revoked_at, share.revoked_by, share.revoke_reason = timezone.now(), actor.user, "revoked"
        share.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        _revoke_perms(client, share.agency)
        entry = _system_entry(
            actor=actor, client=client, kind=EntryKind.SHARE_CHANGE, body=_share_body(share, "解除しました")
        )
        _announce("share.revoke", client=client, agency=actor.agency, entry=entry)
        audit_record(
            actor=actor,
            action="share.revoke",
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
    require_operator(actor, "share.expire")
    now = timezone.now()
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
            _revoke_perms(share.client, share.agency)
            entry = _system_entry(
                actor=actor,
                client=share.client,
                kind=EntryKind.SHARE_CHANGE,
                body=f"{share.agency.name} との共有が期限切れにより終了しました。",
            )
            _announce("share.expire", client=share.client, agency=None, entry=entry)
            audit_record(
                actor=actor,
                action="share.expire",
                client_ids=[share.client_id],
                target_type="share",
                target_id=share.pk,
                details={"agency": share.agency.code},
            )
            count += 1
    return count


# --- break-glass ---------------------------------------------------------------------------------------

BREAK_GLASS_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.AGENCY_ADMIN})


def break_glass_open(*, actor: Actor, name_kana: str, birth_date, reason: str) -> list[ClientView]:
    """Emergency access (PRODUCT §4.6): exact フリガナ + birth date and a stated reason give this staff member
    time-boxed read access. Audited as ``break_glass`` (flagged for the privacy officer), shown on the timeline,
    and announced to the sharing agencies. No match is "not found", audited as denied."""
    if actor.agency is None or actor.role not in BREAK_GLASS_ROLES:
        refuse(
            actor=actor,
            action="break_glass",
            reason="role",
            error=Forbidden("緊急アクセスは職員（連携システムを除く）のみが行えます。"),
        )
    if not actor.may_break_glass:
        refuse(
            actor=actor,
            action="break_glass",
            reason="privacy_officer",
            error=Forbidden("個人情報保護管理者は緊急アクセスを利用できません。"),
        )
    cleaned = _clean_profile({"name_kana": name_kana, "birth_date": birth_date}, partial=True)
    missing = {f: ["この項目は必須です。"] for f in ("name_kana", "birth_date") if f not in cleaned}
    if missing:
        raise InvalidInput(missing)
    reason = (reason or "").strip()
    if len(reason) < 5 or len(reason) > 1000:
        raise InvalidInput({"reason": ["緊急アクセスの理由を5文字以上1000文字以内で入力してください。"]})
    key = normalize(cleaned["name_kana"])
    with refusals_audited(actor=actor, action="break_glass"), transaction.atomic():
        matches = [
            c
            for c in Client.objects.select_related("owner_agency").filter(birth_date=cleaned["birth_date"])
            if normalize(c.name_kana) == key
        ]
        if not matches:
            raise Refusal("no_match", NotFound("該当する支援対象者が見つかりません。"))
        now = timezone.now()
        expires = now + timedelta(hours=settings.BREAK_GLASS_HOURS)
        # One open grant per person and client (a database constraint): a repeat while a grant is active is a
        # renewal, which needs a new reason and is flagged as such; it never stacks or silently extends access.
        open_grants = {
            g.client_id: g
            for g in BreakGlassGrant.objects.select_for_update().filter(
                user=actor.user, client__in=matches, ended_at=None
            )
        }
        if any(g.expires_at > now and _same_reason(g.reason, reason) for g in open_grants.values()):
            raise Refusal(
                "renewal_same_reason",
                InvalidInput({"reason": ["緊急アクセスを延長するには、新しい理由を入力してください。"]}),
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
                user=actor.user,
                agency=actor.agency,
                reason=reason,
                granted_at=now,
                expires_at=expires,
                renews=renews,
            )
            entry = _system_entry(
                actor=actor,
                client=client,
                kind=EntryKind.BREAK_GLASS,
                body=(
                    f"{actor.agency.name} の職員が緊急アクセス（閲覧、"
                    f"{timezone.localtime(expires):%Y年%m月%d日 %H:%M} まで）を"
                    f"{'延長しました' if renews else '行いました'}。理由は監査ログに記録されています。"
                ),
            )
            _announce("break_glass", client=client, agency=actor.agency, entry=entry)
            details = {"flag": True, "expires_at": expires.isoformat(), "hours": settings.BREAK_GLASS_HOURS}
            if renews:
                details["renewal_of"] = str(renews.pk)
            audit_record(
                actor=actor,
                action="break_glass",
                client_ids=[client.pk],
                target_type="client",
                target_id=client.pk,
                authorised_by=f"break_glass:{grant.pk}",
                details=details,
            )
            views.append(ClientView.of(client, level=ShareLevel.READ, viewer_agency_id=actor.agency.pk))
    return views


def _same_reason(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
