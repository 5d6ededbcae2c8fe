"""Browser-UI test helpers: sign the cast in, read pages, and (for the Playwright tests) Debian's Chromium."""

import os
import re

import pytest
from django.test import Client

from cases.models import Notification
from cases.outbox import outbox_relay

# Live-server tests drive the browser from the test thread while the ORM is used in the same thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright: Debian's Chromium (``playwright install`` cannot download browsers here)."""
    return {"executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "ja-JP", "timezone_id": "Asia/Tokyo"}


@pytest.fixture
def as_user(cast):
    """``as_user("alice")``: a test client signed in as a member of the cast."""

    def make(name: str, **kwargs) -> Client:
        client = Client(**kwargs)
        client.force_login(cast.users[name])
        return client

    return make


@pytest.fixture
def settled(cast):
    """The cast with the notices of its own setup delivered and read."""
    outbox_relay()
    Notification.objects.update(read_at="2026-01-01T00:00:00Z")
    return cast


def text(response) -> str:
    return response.content.decode()


def strip_tokens(content: bytes) -> bytes:
    """A page without its per-render CSRF tokens (the only part that differs between two renders)."""
    return re.sub(rb"[A-Za-z0-9]{64}", b"", content)
