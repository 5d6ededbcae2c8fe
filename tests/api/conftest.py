import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.services import apikey_issue


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def issue_key(user, **kwargs) -> tuple:
    return apikey_issue(actor=Actor.system(channel="cli"), user=user, name="test", **kwargs)


@pytest.fixture
def keys(cast):
    """One API key (plain text) per member of the standing cast."""
    return {name: issue_key(user)[1] for name, user in cast.users.items()}


@pytest.fixture
def api(keys):
    """``api("alice")``: a client sending alice's key; ``api(None)``: no credentials."""

    def make(name: str | None) -> APIClient:
        client = APIClient()
        if name is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[name]}")
        return client

    return make
