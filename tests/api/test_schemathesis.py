"""Property-based contract test: schemathesis generates requests from /api/schema/ and runs them in-process.

Every operation gets positive and negative examples sent with a valid Bearer key, and the default checks must
pass: no server error, every status code documented, bodies, content types and headers as documented, auth
enforced, 405 for undocumented methods. Half of the generated path ids are swapped for the standing cast's client
and shares, so the cases reach real objects (and sometimes change them), not only the 404 branch.

A longer campaign: ``SCHEMATHESIS_MAX_EXAMPLES=500 .venv/bin/pytest tests/api/test_schemathesis.py``
(``SCHEMATHESIS_SEED=random`` for a new random walk each run instead of the fixed, reproducible one).
"""

import os
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))

# Loaded once at collection: the schema endpoint is public and reads no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def _keep_test_transaction():
    """Requests go through the real WSGI handler, which closes "old" connections around each request, and the
    test's open transaction looks old. Django's own test client unhooks the same signals."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("SCHEMATHESIS_SEED") != "random",
)
def test_api_conforms_to_its_schema(case, data, cast, keys, settings, _keep_test_transaction):
    settings.API_THROTTLE_RATE = "1000000/min"  # this test is about the contract, not the request budget
    params = case.path_parameters or {}
    # Point well-formed ids at real objects half of the time; malformed ones stay as generated (negative cases).
    if _is_uuid(params.get("id")) and data.draw(st.booleans(), label="real client"):
        params["id"] = str(cast.client.id)
        if _is_uuid(params.get("share_id")) and data.draw(st.booleans(), label="real share"):
            params["share_id"] = str(data.draw(st.sampled_from(list(cast.shares.values()))).id)
    # sam: supervisor at the owner agency, so every operation can succeed as well as fail.
    # Every other default check applies. "Schema-valid data must be accepted" does not: the services own rules
    # JSON Schema cannot state (フリガナ in kana, dates relative to today, an agency or entry that must exist, a
    # share not yet revoked, an opaque cursor that must be one we issued), and answer them with 400, which every
    # such operation documents.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {keys['sam']}"}, excluded_checks=[positive_data_acceptance]
    )
