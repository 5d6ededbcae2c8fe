"""Agencies, staff and API keys: the audited write path."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from audit.refusals import Refusal, refuse
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from .actions import AgencyAction
from .actors import Actor
from .models import FULL_SCOPES, READ_ONLY_SCOPES, Agency, AgencyKind, ApiKey, Role, Staff

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEY_PREFIX = "tsg_"


def require_operator(actor: Actor, action: str) -> None:
    """Provisioning and housekeeping are the operator's (commands and tasks: the system actor), never a signed-in
    user's or a key's."""
    if not actor.is_system:
        refuse(
            actor=actor, action=action, reason="not_operator", error=Forbidden(gettext("運用担当者のみが行えます。"))
        )


def require_agency_admin(actor: Actor, action: str, message: str | None = None) -> Agency:
    """The actor's agency, if the actor administers it (``Actor.administers_agency``); otherwise an audited refusal
    with ``message`` (by default: agency administrators only)."""
    agency = actor.agency
    if agency is None or not actor.administers_agency:  # administers_agency implies an agency; said for mypy
        refuse(
            actor=actor,
            action=action,
            reason="role",
            error=Forbidden(message or gettext("機関管理者のみが利用できます。")),
        )
    return agency


def agency_create(*, actor: Actor, code: str, name: str, kind: str) -> Agency:
    require_operator(actor, AgencyAction.AGENCY_CREATE)
    errors: dict[str, list[str]] = {}
    if kind not in AgencyKind.values:
        errors["kind"] = [
            gettext("種別が不正です: %(value)s（%(choices)s）")
            % {"value": kind, "choices": ", ".join(AgencyKind.values)}
        ]
    if not name.strip():
        errors["name"] = [gettext("名称を入力してください。")]
    try:
        Agency._meta.get_field("code").run_validators(code)
    except ValidationError:
        errors["code"] = [gettext("コードは英数字・ハイフン・下線のみ使えます: %(value)s") % {"value": code}]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        if Agency.objects.filter(code=code).exists():
            raise InvalidInput({"code": [gettext("コード %(code)s の機関は既に存在します。") % {"code": code}]})
        group, _ = Group.objects.get_or_create(name=f"agency:{code}")
        agency = Agency.objects.create(code=code, name=name.strip(), kind=kind, group=group)
        audit_record(actor=actor, action=AgencyAction.AGENCY_CREATE, target_type="agency", target_id=agency.code)
    return agency


def staff_create(
    *,
    actor: Actor,
    username: str,
    agency_code: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    is_privacy_officer: bool = False,
) -> Staff:
    """Create a staff user. Without a password the account cannot log in (API-only integration users)."""
    require_operator(actor, AgencyAction.STAFF_CREATE)
    user_model = get_user_model()
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [
            gettext("役割が不正です: %(value)s（%(choices)s）") % {"value": role, "choices": ", ".join(Role.values)}
        ]
    agency = Agency.objects.filter(code=agency_code).first()
    if agency is None:
        errors["agency"] = [gettext("機関 %(code)s は存在しません。") % {"code": agency_code}]
    if not username or user_model.objects.filter(username=username).exists():
        errors["username"] = [
            gettext("ユーザー名 %(username)s は既に使われているか、空です。") % {"username": username}
        ]
    if password is not None:
        try:
            validate_password(password, user_model(username=username))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors or agency is None:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            user = user_model.objects.create_user(username=username, password=password)
            if password is None:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(agency.group)
            staff = Staff.objects.create(
                user=user,
                agency=agency,
                role=role,
                display_name=display_name or username,
                is_privacy_officer=is_privacy_officer,
            )
            audit_record(
                actor=actor,
                action=AgencyAction.STAFF_CREATE,
                target_type="user",
                target_id=user.pk,
                details={"agency": agency.code, "role": role, "privacy_officer": is_privacy_officer},
            )
    except IntegrityError:
        raise InvalidInput(
            {"username": [gettext("ユーザー名 %(username)s は既に使われています。") % {"username": username}]}
        ) from None
    return staff


def _hash_secret(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (a slow KDF would only slow every request).
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _key_refusal(actor: Actor, user: User, staff: Staff) -> Refusal | None:
    """Why ``actor`` may not issue a key for ``user`` (a staff user), or None. A key acts as its user, so issuing
    one for somebody else is acting as them: an agency administrator issues keys only for integration users of
    the own agency, a person for themselves, and nobody for a privacy officer but that officer. The operator's
    command (the system actor) provisions integration users of any agency, never a person."""
    if not actor.is_system and actor.user == user:
        return None if actor.has_staff_role else Refusal("no_role", Forbidden())
    if not actor.is_system:
        if actor.agency is None or not actor.has_staff_role:  # has_staff_role implies an agency; said for mypy
            return Refusal("no_role", Forbidden())
        if not actor.administers_agency:
            return Refusal("not_agency_admin", Forbidden(gettext("他の職員のキーは機関管理者のみが発行できます。")))
        if staff.agency_id != actor.agency.pk:
            return Refusal("other_agency", NotFound(gettext("職員が見つかりません。")))
    if not user.is_active:
        return Refusal("inactive_user", Forbidden(gettext("無効化された利用者にはキーを発行できません。")))
    if staff.is_privacy_officer:
        return Refusal("privacy_officer", Forbidden(gettext("個人情報保護管理者のキーは本人のみが発行できます。")))
    if staff.role != Role.INTEGRATION:
        return Refusal(
            "not_integration",
            Forbidden(gettext("他の人のキーは連携システムの利用者にのみ発行できます。職員のキーは本人が発行します。")),
        )
    return None


def apikey_issue(
    *,
    actor: Actor,
    user: User | int | str | None,
    name: str,
    expires_in_days: int | None = None,
    read_only: bool = False,
) -> tuple[ApiKey, str]:
    """Issue a key for ``user`` (a User, or a user id as a form sends it); returns the key row and the plain
    key, which is never stored. A ``read_only`` key may only read (its writes are refused and audited). Who may
    issue for whom: ``_key_refusal``; a refusal is audited."""
    if not name.strip():
        raise InvalidInput({"name": [gettext("キーの名前を入力してください。")]})
    if expires_in_days is not None and expires_in_days < 1:
        raise InvalidInput({"expires_in_days": [gettext("有効期限は1日以上で指定してください。")]})
    if not isinstance(user, get_user_model()):
        user = _user_by_id(user)
        if user is None:
            refuse(
                actor=actor,
                action=AgencyAction.APIKEY_ISSUE,
                reason="not_found",
                error=NotFound(gettext("職員が見つかりません。")),
            )
    staff = Staff.objects.select_related("agency").filter(user=user).first()
    if staff is None:
        raise InvalidInput({"user": [gettext("所属機関のないユーザーにはキーを発行できません。")]})
    refusal = _key_refusal(actor, user, staff)
    if refusal is not None:
        refuse(
            actor=actor,
            action=AgencyAction.APIKEY_ISSUE,
            reason=refusal.reason,
            error=refusal.error,
            target_type="user",
            target_id=user.pk,
        )
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    expires_at = actor.now() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=name.strip(),
            prefix=prefix,
            secret_hash=_hash_secret(secret),
            expires_at=expires_at,
            scopes=READ_ONLY_SCOPES if read_only else FULL_SCOPES,
        )
        audit_record(
            actor=actor,
            action=AgencyAction.APIKEY_ISSUE,
            target_type="apikey",
            target_id=key.pk,
            details={
                "user": user.get_username(),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "scopes": key.scopes,
            },
        )
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def _user_by_id(value: object) -> User | None:
    if not isinstance(value, int | str):  # a form sends a string, a caller an int
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return get_user_model().objects.filter(pk=pk).first()


def apikey_revoke(*, actor: Actor, key_id: object) -> ApiKey:
    with transaction.atomic():
        # Lock the key row only: PostgreSQL refuses FOR UPDATE on the nullable side of the join to staff.
        pk = parse_uuid(key_id)
        keys = ApiKey.objects.select_for_update(of=("self",)).select_related("user__staff")
        key = keys.filter(pk=pk).first() if pk is not None else None
        allowed = key is not None and (
            actor.is_system
            or actor.user == key.user
            or (
                actor.administers_agency
                and actor.agency is not None  # administers_agency implies it; said for mypy
                and key.user.staff.agency_id == actor.agency.pk
            )
        )
        if not allowed:
            key = None
        if key is not None:
            if key.revoked_at is None:
                key.revoked_at = actor.now()
                key.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action=AgencyAction.APIKEY_REVOKE, target_type="apikey", target_id=key.pk)
            return key
    refuse(
        actor=actor,
        action=AgencyAction.APIKEY_REVOKE,
        reason="not_found",
        error=NotFound(),
        target_type="apikey",
        target_id=str(key_id)[:64],
    )


class KeyRejected(Exception):
    """The presented key is malformed, unknown, expired or revoked. ``reason`` says which (for the audit)."""

    def __init__(self, reason: str, key_id: str = "") -> None:
        self.reason = reason
        self.key_id = key_id
        super().__init__(reason)


def apikey_authenticate(raw: str) -> ApiKey:
    """The active key for ``raw`` (with its user), or ``KeyRejected``. Constant-time on the secret."""
    # Keys are printable ASCII; anything else would fail in the hash (non-ASCII) or the query (NUL), not here.
    if not raw.startswith(KEY_PREFIX) or raw.count("_") < 2 or not (raw.isascii() and raw.isprintable()):
        raise KeyRejected("malformed")
    prefix, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    # The user's staff record and agency come with the key: the request's actor is built from them (agencies.actors).
    key = ApiKey.objects.select_related("user__staff__agency__group").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash_secret(secret)):
        raise KeyRejected("unknown")
    now = timezone.now()
    if key.revoked_at is not None:
        raise KeyRejected("revoked", str(key.pk))
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRejected("expired", str(key.pk))
    if not key.user.is_active:
        raise KeyRejected("inactive_user", str(key.pk))
    # last_used_at at minute granularity: one write a minute per key, not one per request.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
