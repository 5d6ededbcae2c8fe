"""Two-factor sign-in: who needs a second factor, enrolment, checking a code, an operator's reset.

The second factor is a TOTP authenticator app (django-otp's ``TOTPDevice``) plus ten one-time recovery codes
(a ``StaticDevice``; each code is deleted when used). Required of operators (Django admin), privacy officers and
agency administrators, and of every staff member when ``MFA_REQUIRED_FOR_ALL_STAFF`` is on. Each outcome is an
audit event: ``auth.mfa_enrol``, ``auth.mfa_verify`` (allowed, or denied while throttled), ``auth.mfa_failed``
(a wrong code), ``auth.mfa_recovery_used``, ``auth.mfa_reset``. Neither secrets nor codes reach the audit log.

Wrong codes are throttled by django-otp on the device: after n consecutive failures the next attempt waits
2^(n-1) seconds (``OTP_TOTP_THROTTLE_FACTOR``, ``OTP_STATIC_THROTTLE_FACTOR``), and is refused unchecked until then.
"""

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import audit_denied, audit_record
from tsunagu.errors import DomainError, InvalidInput

from .actions import AgencyAction
from .models import Role, Staff

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"
BAD_CODE = _("確認コードが正しくありません。もう一度入力してください。")
_TOTP_CODE = re.compile(r"^\d{6}$")


class MfaThrottled(DomainError):
    """Too many wrong codes in a row: the next attempt must wait ``retry_after`` seconds."""

    default_message = _("確認コードの入力に続けて失敗しました。しばらく待ってから再度お試しください。")

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__()


@dataclass(frozen=True)
class Enrolment:
    """A device waiting for its first code: the secret for manual entry and the ``otpauth://`` URL for the QR."""

    device: TOTPDevice
    secret: str  # base32, as authenticator apps take it
    config_url: str


def mfa_required(user) -> bool:
    """Whether ``user`` must give a second factor when signing in with a password."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True  # operators: Django admin
    staff = Staff.objects.filter(user=user).only("role", "is_privacy_officer").first()
    if staff is None:
        return False
    return settings.MFA_REQUIRED_FOR_ALL_STAFF or staff.is_privacy_officer or staff.role == Role.AGENCY_ADMIN


def mfa_device(user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_enrolment_begin(*, user) -> Enrolment | None:
    """The pending enrolment (created on the first call, the same one until confirmed); None once enrolled."""
    if mfa_device(user) is not None:
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return Enrolment(device=device, secret=base64.b32encode(device.bin_key).decode(), config_url=device.config_url)


def _recovery_codes_issue(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


def _retry_after(device) -> int:
    """Seconds until a throttled device accepts another attempt (0: now)."""
    allowed, _ = device.verify_is_allowed()
    if allowed:
        return 0
    delay = device.get_throttle_factor() * 2 ** (device.throttling_failure_count - 1)
    until = device.throttling_failure_timestamp + timedelta(seconds=delay)
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def _user_target(user) -> dict:
    return {"target_type": "user", "target_id": user.pk}


def mfa_enrolment_confirm(*, actor, user, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending enrolment with the first code the app shows; returns the device and the recovery
    codes (shown once, never again)."""
    code = (code or "").strip().replace(" ", "")
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if pending is None or mfa_device(user) is not None:
        raise InvalidInput({"code": [gettext("登録を最初からやり直してください。")]})
    wait = _retry_after(pending)
    if wait:
        audit_denied(
            actor=actor,
            action=AgencyAction.AUTH_MFA_ENROL,
            reason="throttled",
            details={"retry_after": wait},
            **_user_target(user),
        )
        raise MfaThrottled(wait)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=pending.pk)
        ok = device.verify_token(code)  # a wrong code counts towards the throttle, also when malformed
        if ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            codes = _recovery_codes_issue(user)
            audit_record(
                actor=actor,
                action=AgencyAction.AUTH_MFA_ENROL,
                details={"recovery_codes": len(codes)},
                **_user_target(user),
            )
    if not ok:
        audit_denied(
            actor=actor,
            action=AgencyAction.AUTH_MFA_FAILED,
            reason="bad_code",
            details={"method": "totp", "step": "enrol"},
            **_user_target(user),
        )
        raise InvalidInput({"code": [str(BAD_CODE)]})
    return device, codes


def mfa_verify(*, actor, user, code: str):
    """Check a code at sign-in: six digits from the app, or a recovery code (used up). Returns the device that
    accepted it (for django-otp's ``login``); raises ``InvalidInput`` for a wrong code and ``MfaThrottled``."""
    code = re.sub(r"[\s-]", "", code or "").lower()
    method = "totp" if _TOTP_CODE.match(code) else "recovery"
    model = TOTPDevice if method == "totp" else StaticDevice
    device = model.objects.filter(user=user, confirmed=True).first()
    if device is None:
        audit_denied(
            actor=actor,
            action=AgencyAction.AUTH_MFA_FAILED,
            reason="no_device",
            details={"method": method},
            **_user_target(user),
        )
        raise InvalidInput({"code": [str(BAD_CODE)]})
    wait = _retry_after(device)
    if wait:
        audit_denied(
            actor=actor,
            action=AgencyAction.AUTH_MFA_VERIFY,
            reason="throttled",
            details={"method": method, "retry_after": wait},
            **_user_target(user),
        )
        raise MfaThrottled(wait)
    with transaction.atomic():
        device = model.objects.select_for_update().get(pk=device.pk)
        ok = device.verify_token(code)
        if ok and method == "totp":
            audit_record(
                actor=actor, action=AgencyAction.AUTH_MFA_VERIFY, details={"method": method}, **_user_target(user)
            )
        elif ok:
            remaining = device.token_set.count()
            audit_record(
                actor=actor,
                action=AgencyAction.AUTH_MFA_RECOVERY_USED,
                details={"remaining": remaining},
                **_user_target(user),
            )
    if not ok:
        audit_denied(
            actor=actor,
            action=AgencyAction.AUTH_MFA_FAILED,
            reason="bad_code",
            details={"method": method},
            **_user_target(user),
        )
        raise InvalidInput({"code": [str(BAD_CODE)]})
    return device


def mfa_reset(*, actor, user) -> int:
    """An operator's reset (lost phone, used-up recovery codes): every device of the user is removed, so the next
    sign-in enrols again, and a session verified by a removed device is verified no more. Returns the count."""
    with transaction.atomic():
        totp, _ = TOTPDevice.objects.filter(user=user).delete()
        static = StaticDevice.objects.filter(user=user).count()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action=AgencyAction.AUTH_MFA_RESET,
            details={"username": user.get_username(), "devices": totp + static},
            **_user_target(user),
        )
    return totp + static


def mfa_enrol_known_secret(*, actor, user, secret: str) -> TOTPDevice:
    """Enrol ``user`` with a given base32 secret (the demo's published secrets; tests). Idempotent."""
    try:
        key = base64.b32decode(secret.replace(" ", "").upper()).hex()
    except binascii.Error:
        raise InvalidInput({"secret": [gettext("シークレットは base32 で指定してください。")]}) from None
    with transaction.atomic():
        device = mfa_device(user)
        if device is not None and device.key == key:
            return device
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, key=key, confirmed=True)
        audit_record(
            actor=actor, action=AgencyAction.AUTH_MFA_ENROL, details={"provisioned": True}, **_user_target(user)
        )
    return device
