"""Failed sign-ins slow down an account and, past a higher limit, block an address.

Per account (the attempted username): the first ``LOGIN_ACCOUNT_FREE_FAILURES`` failures cost nothing; after
that each further attempt must wait 1, 2, 4, 8 … minutes after the last failure, never more than
``LOGIN_ACCOUNT_MAX_DELAY_MINUTES``. The account is never locked: its owner signs in as soon as the short delay
has passed, and a success forgets the failures (so do 24 quiet hours). Guesses spread over many addresses are
slowed just the same.

Per address: ``LOGIN_ADDRESS_FAILURE_LIMIT`` failures within ``LOGIN_ADDRESS_WINDOW_MINUTES`` (across every
username) block that address until the window ends. The limit is far above what one office behind a shared
address (NAT) produces, and one colleague's failures never delay another colleague's account.

An attempt refused by either rule is not checked (the password is not even compared) and does not count as a
failure, so hammering a delayed account does not keep its owner out longer. Counters live in the database (one
row per account or address, keyed by an HMAC of the value), so every worker process sees the same counts.
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import LoginThrottle, LoginThrottleScope

ACCOUNT_FORGET_AFTER = timedelta(hours=24)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginRefusal:
    """Why an attempt is refused before the password is checked, and for how many seconds more."""

    scope: str  # LoginThrottleScope
    retry_after: int

    @property
    def reason(self) -> str:
        return f"throttled_{self.scope}"

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _key(scope: str, value: str) -> str:
    return salted_hmac(f"tsunagu.login_throttle.{scope}", value, algorithm="sha256").hexdigest()


def _keys(username: str, ip: str | None) -> dict[str, str]:
    keys: dict[str, str] = {LoginThrottleScope.ACCOUNT: _key(LoginThrottleScope.ACCOUNT, username)}
    if ip:
        keys[LoginThrottleScope.ADDRESS] = _key(LoginThrottleScope.ADDRESS, ip)
    return keys


def account_delay(failures: int) -> timedelta:
    """How long after its last failure an account with ``failures`` failures must wait: 0, then 1, 2, 4 … min."""
    over = failures - settings.LOGIN_ACCOUNT_FREE_FAILURES
    if over < 0:
        return timedelta(0)
    minutes = min(2 ** min(over, 30), settings.LOGIN_ACCOUNT_MAX_DELAY_MINUTES)
    return timedelta(minutes=minutes)


def _address_window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_ADDRESS_WINDOW_MINUTES)


def _blocked_until(row: LoginThrottle, now: datetime) -> datetime | None:
    if row.scope == LoginThrottleScope.ADDRESS:
        end = row.window_started_at + _address_window()
        if row.failures >= settings.LOGIN_ADDRESS_FAILURE_LIMIT and now < end:
            return end
        return None
    if now - row.last_failure_at > ACCOUNT_FORGET_AFTER:
        return None
    until = row.last_failure_at + account_delay(row.failures)
    return until if now < until else None


def login_refusal(*, username: str, ip: str | None) -> LoginRefusal | None:
    """The refusal for an attempt now (the address rule first), or None when it may be checked."""
    now = timezone.now()
    keys = _keys(username, ip)
    rows = {row.scope: row for row in LoginThrottle.objects.filter(key__in=keys.values()) if keys[row.scope] == row.key}
    for scope in (LoginThrottleScope.ADDRESS, LoginThrottleScope.ACCOUNT):
        row = rows.get(scope)
        until = _blocked_until(row, now) if row is not None else None
        if until is not None:
            refusal = LoginRefusal(scope=scope, retry_after=max(1, math.ceil((until - now).total_seconds())))
            logger.warning("Sign-in from %s held back by the %s throttle for %ss", ip, scope, refusal.retry_after)
            return refusal
    return None


def login_failure_record(*, username: str, ip: str | None) -> None:
    """Count a failed attempt (wrong password or unknown username) for the account and the address."""
    logger.info("Failed sign-in from %s", ip)  # never the username: it may be a password typed in the wrong box
    now = timezone.now()
    # Rows that can no longer hold anyone back go, so guessing many usernames does not grow the table for good.
    LoginThrottle.objects.filter(last_failure_at__lt=now - max(ACCOUNT_FORGET_AFTER, _address_window())).delete()
    for scope, key in _keys(username, ip).items():
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row, _ = LoginThrottle.objects.select_for_update().get_or_create(
                        scope=scope, key=key, defaults={"window_started_at": now, "last_failure_at": now}
                    )
            except IntegrityError:  # created concurrently
                row = LoginThrottle.objects.select_for_update().get(scope=scope, key=key)
            stale = (
                now - row.window_started_at > _address_window()
                if scope == LoginThrottleScope.ADDRESS
                else now - row.last_failure_at > ACCOUNT_FORGET_AFTER
            )
            if stale:
                row.failures, row.window_started_at = 0, now
            row.failures += 1
            row.last_failure_at = now
            row.save()


def login_success_record(*, username: str) -> None:
    """A correct password: the account's failures are forgiven (the address's are not)."""
    LoginThrottle.objects.filter(
        scope=LoginThrottleScope.ACCOUNT, key=_key(LoginThrottleScope.ACCOUNT, username)
    ).delete()
