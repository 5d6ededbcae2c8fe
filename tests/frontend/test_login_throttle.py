"""Failed sign-ins: per account a growing delay (never a lockout), per address a limit that blocks the address.

A shared office address (NAT) must not lock one person out because a colleague mistyped, and guesses spread over
many addresses must still be slowed down.
"""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tests.cast import PASSWORD
from tests.frontend.conftest import text

WRONG = "wrong-password"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_ACCOUNT_FREE_FAILURES = 3
    settings.LOGIN_ACCOUNT_MAX_DELAY_MINUTES = 8
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 10
    settings.LOGIN_ADDRESS_WINDOW_MINUTES = 15


def attempt(username="alice", password=WRONG, ip="192.0.2.1"):
    return Client(REMOTE_ADDR=ip).post(reverse("frontend:login"), {"username": username, "password": password})


def test_failures_spread_over_many_addresses_slow_the_account_down(cast):
    for i in range(3):
        assert attempt(ip=f"198.51.100.{i}").status_code == 200
    refused = attempt(ip="198.51.100.50", password=PASSWORD)  # even the right password, unchecked
    assert refused.status_code == 429
    assert 55 <= int(refused["Retry-After"]) <= 60
    assert "このアカウントへのログインに続けて失敗したため" in text(refused) and "1分後" in text(refused)
    assert not AuditEvent.objects.filter(action="auth.login", actor_username="alice").exists()
    # Once the short delay has passed the real user signs in.
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert attempt(ip="198.51.100.50", password=PASSWORD).status_code == 302


def test_the_delay_grows_and_is_bounded(cast):
    now = timezone.now()
    waits = []
    for i in range(8):
        with time_machine.travel(now, tick=False):
            response = attempt(ip=f"203.0.113.{i}")
            if response.status_code == 429:
                waits.append(int(response["Retry-After"]))
                now += timedelta(seconds=int(response["Retry-After"]) + 1)
                with time_machine.travel(now, tick=False):
                    assert attempt(ip=f"203.0.113.{i}").status_code == 200  # a real guess, which failed
    # 3 free failures, then 1, 2, 4, 8 minutes, and never longer than the cap.
    assert waits[:4] == [60, 120, 240, 480] and set(waits[4:]) == {480}


def test_refused_attempts_do_not_extend_the_delay(cast):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        for _ in range(3):
            attempt()
        for _ in range(20):
            assert attempt().status_code == 429
    with time_machine.travel(now + timedelta(seconds=61), tick=False):
        assert attempt(password=PASSWORD).status_code == 302


def test_a_shared_office_address_does_not_stop_another_account(cast):
    for _ in range(8):
        attempt(username="alice", ip="192.0.2.10")
    assert attempt(username="alice", ip="192.0.2.10", password=PASSWORD).status_code == 429
    assert attempt(username="sam", ip="192.0.2.10", password=PASSWORD).status_code == 302


def test_many_failures_from_one_address_block_that_address_only(cast):
    for i in range(10):
        assert attempt(username=f"guess{i}", ip="192.0.2.66").status_code == 200
    blocked = attempt(username="sam", ip="192.0.2.66", password=PASSWORD)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) <= 15 * 60
    assert "このネットワークからのログインの失敗が多いため" in text(blocked)
    assert attempt(username="sam", ip="192.0.2.67", password=PASSWORD).status_code == 302
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert attempt(username="sam", ip="192.0.2.66", password=PASSWORD).status_code == 302


def test_a_success_forgives_the_accounts_failures(cast):
    attempt()
    attempt()
    assert attempt(password=PASSWORD).status_code == 302
    attempt()
    attempt()
    assert attempt(password=PASSWORD).status_code == 302


def test_failures_and_refusals_are_audited_without_the_username(cast):
    for _ in range(3):
        attempt()
    attempt()
    for i in range(10):
        attempt(username=f"guess{i}", ip="192.0.2.99")
    attempt(username="bob", ip="192.0.2.99")
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.filter(reason="bad_credentials").count() == 13
    account = failed.get(reason="throttled_account")
    address = failed.get(reason="throttled_address")
    assert account.outcome == address.outcome == "denied"
    assert account.details["retry_after"] > 0 and address.ip == "192.0.2.99"
    assert all("alice" not in str(e.details) and "guess" not in str(e.details) for e in failed)


def test_the_admin_login_is_throttled_too(cast):
    for i in range(3):
        Client(REMOTE_ADDR=f"198.51.100.{i}").post(reverse("admin:login"), {"username": "alice", "password": WRONG})
    response = Client().post(reverse("admin:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429


def test_counters_store_no_username_or_address(cast):
    from agencies.models import LoginThrottle

    attempt(ip="192.0.2.5")
    stored = " ".join(f"{r.scope} {r.key}" for r in LoginThrottle.objects.all())
    assert LoginThrottle.objects.count() == 2 and "alice" not in stored and "192.0.2.5" not in stored


def test_counters_that_hold_nobody_back_are_pruned(cast):
    from agencies.models import LoginThrottle

    with time_machine.travel(timezone.now() - timedelta(days=2)):
        for i in range(5):
            attempt(username=f"guess{i}", ip=f"192.0.2.{i}")
    assert LoginThrottle.objects.count() == 10
    attempt(username="alice", ip="192.0.2.200")
    assert LoginThrottle.objects.count() == 2
