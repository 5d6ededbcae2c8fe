"""What the caseworkers' and partners' hot paths cost in statements, and that the faster shapes read and write
exactly what the simpler ones did: the visibility filter gives guardian's answer intersected with the active shares
(plus break-glass), an allowed access is one statement, the audit event and its exposures are one statement on
PostgreSQL (with the same rows and a MAC that verifies), an API key brings its user's staff record (building the
actor costs nothing). Counts, not times: performance goals live in
the benchmark (bench/)."""

import uuid
from datetime import date

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import get_objects_for_group

from audit.models import AuditEvent, AuditExposure
from audit.services import audit_record
from audit.signing import MacCheck, check_event_mac
from cases import selectors
from cases.access import Denied, active_break_glass, active_shares, check_access, visible_clients
from cases.models import Client, ShareLevel


def _sql(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] not in ("SAVEPOINT", "RELEASE")]


@pytest.fixture(autouse=True)
def _warm_content_types(request):
    """The content type cached once per process, as in a running server (for the tests that use the database:
    in a fresh worker the first such lookup would otherwise be counted, or refused in a test without one)."""
    if "db" in request.fixturenames or "cast" in request.fixturenames:
        request.getfixturevalue("db")
        ContentType.objects.get_for_model(Client)


def _expected(agency, user=None) -> set:
    """The rule in its plain form: guardian's ``view_client`` objects that the agency also holds an active share
    of, plus the user's open break-glass grants."""
    guarded = set(
        get_objects_for_group(agency.group, "view_client", klass=Client, accept_global_perms=False).values_list(
            "pk", flat=True
        )
    )
    shared = set(active_shares(agency).values_list("client_id", flat=True))
    granted = set(active_break_glass(user, agency).values_list("client_id", flat=True)) if user else set()
    return (guarded & shared) | granted


def test_the_visibility_filter_gives_guardians_answer_within_the_active_shares(cast):
    """For every agency of the cast — an owner, readers, one with an expired share whose guardian rows remain, one
    with a revoked share, one with none — the filter sees exactly the plain rule's clients, at the right level."""
    for name, agency in cast.agencies.items():
        found = dict(visible_clients(agency).values_list("pk", "my_level"))
        assert set(found) == _expected(agency), name
        for client_id, level in found.items():
            assert level == active_shares(agency).get(client_id=client_id).level, name


def test_break_glass_adds_the_granted_client_at_read_level_only_for_its_user(cast):
    from cases import services

    charlie = cast.actor("charlie")
    outsider = cast.agencies["outsider"]
    assert not visible_clients(outsider, charlie.account).exists()
    services.break_glass_open(
        actor=charlie, name_kana="やまだ たろう", birth_date=date(1948, 4, 1), reason="急病で搬送、連絡先の確認が必要"
    )
    found = dict(visible_clients(outsider, charlie.account).values_list("pk", "my_level"))
    assert found == {cast.client.id: ShareLevel.READ}
    assert found.keys() == _expected(outsider, charlie.account)
    assert not visible_clients(outsider, cast.users["rick"]).exists()  # not another user's grant
    assert not visible_clients(outsider).exists()


def test_an_allowed_access_is_one_statement(cast):
    """The share, the client (with its owner) and the group's object permissions are read together."""
    for name, need in (("alice", ShareLevel.MANAGE), ("bob", ShareLevel.READ), ("carol", ShareLevel.APPEND)):
        with CaptureQueriesContext(connection) as queries:
            access = check_access(cast.actor(name), cast.client.id, need)
        assert len(_sql(queries)) == 1, name
        assert access.client.pk == cast.client.id
        assert access.share is not None and access.share.client_id == cast.client.id
        assert access.client.owner_agency.code == cast.agencies["owner"].code


@pytest.mark.parametrize("who", ["charlie", "erin", "rick"])  # no share, an expired one, a revoked one
def test_a_hidden_client_and_a_missing_one_cost_the_same_statements(cast, who):
    counts = []
    for client_id in (cast.client.id, uuid.uuid4()):
        with CaptureQueriesContext(connection) as queries, pytest.raises(Denied):
            check_access(cast.actor(who), client_id, ShareLevel.READ)
        counts.append(len(_sql(queries)))
    assert counts[0] == counts[1] == 4


def test_the_lower_of_share_level_and_object_permissions_wins(cast):
    """bob's share says read; give his agency's group every permission: he still reads only."""
    from guardian.shortcuts import assign_perm

    from cases.models import Client as ClientModel

    client = ClientModel.objects.get(pk=cast.client.id)
    for codename in ("append_client", "manage_client"):
        assign_perm(codename, cast.agencies["reader"].group, client)
    assert check_access(cast.actor("bob"), cast.client.id, ShareLevel.READ).level == ShareLevel.READ
    with pytest.raises(Denied):
        check_access(cast.actor("bob"), cast.client.id, ShareLevel.APPEND)


def _record(cast, **fields):
    return audit_record(actor=cast.actor("alice"), action="client.view", **fields)


@pytest.mark.parametrize(
    ("client_ids", "target", "expected"),
    [
        ("both", True, {"a": True, "b": True}),  # exposed, the target among them
        ("a", True, {"a": True}),
        ("none", True, {"a": False}),  # only the target: not exposed
        ("both", False, {"a": True, "b": True}),
        ("none", False, {}),  # nothing about a client: no exposure row
    ],
)
def test_the_audit_insert_writes_the_event_and_its_exposures(cast, client_ids, target, expected):
    a, b = cast.client.id, uuid.uuid4()
    ids = {"both": [a, b, a], "a": [a], "none": []}[client_ids]
    target_fields = {"target_type": "client", "target_id": a} if target else {}
    statements = 1 if connection.vendor == "postgresql" and expected else (2 if expected else 1)
    with CaptureQueriesContext(connection) as queries:
        event = _record(cast, client_ids=ids, details={"count": len(ids)}, **target_fields)
    assert len(_sql(queries)) == statements
    stored = AuditEvent.objects.get(seq=event.seq)
    assert stored.uuid == event.uuid and stored.mac == event.mac
    assert check_event_mac(stored) == MacCheck.OK
    assert stored.client_ids == [str(c) for c in ids]
    rows = {e.client_id: e.exposed for e in AuditExposure.objects.filter(event_id=event.seq)}
    assert rows == {{"a": a, "b": b}[k]: v for k, v in expected.items()}


def test_events_are_numbered_in_order_by_the_database(cast):
    first = _record(cast, client_ids=[cast.client.id])
    second = _record(cast, client_ids=[])
    third = _record(cast, client_ids=[cast.client.id])
    assert first.seq < second.seq < third.seq
    assert not first._state.adding and first._state.db == "default"


def test_a_list_page_costs_a_fixed_number_of_statements(cast):
    """The page, its 担当者, the audit (event and exposures: one statement on PostgreSQL)."""
    actor = cast.actor("alice")
    selectors.client_list(actor=actor)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.client_list(actor=actor)
    assert [c.id for c in page.items] == [cast.client.id]
    assert len(_sql(queries)) == (3 if connection.vendor == "postgresql" else 4)


@pytest.mark.postgres
def test_the_search_column_has_a_trigram_index(cast):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'client_search_trgm'")
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "gin_trgm_ops" in definition and "search_key" in definition
    number = Client.objects.get(pk=cast.client.id).case_number
    for term in (number, number[-3:], number[-1:]):  # long enough for trigrams, and too short for them
        page = selectors.client_list(actor=cast.actor("alice"), q=term)
        assert [c.id for c in page.items] == [cast.client.id], term


def test_the_outbox_nudge_only_enqueues_and_never_retries(monkeypatch):
    """After commit the request sends one message to the broker (the relay runs in a worker), and a broker that is
    slow or away is not retried inside the request: the periodic relay publishes what the nudge could not."""
    from cases import outbox

    sent = []
    relay = outbox._task(outbox.RELAY_TASK)
    monkeypatch.setattr(relay, "apply_async", lambda *args, **kwargs: sent.append(kwargs))
    outbox._nudge()
    assert sent == [{"retry": False}]

    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(relay, "apply_async", down)
    outbox._nudge()  # logged, not raised: the response is not failed by the broker


def test_a_broker_that_is_away_costs_the_request_no_waiting(monkeypatch, caplog):
    """The real publish path (kombu) against a port nothing listens on: the nudge gives up at the first refused
    connection instead of retrying the connection with sleeps until the connect timeout (2 s a request)."""
    import kombu.utils.functional

    from cases import outbox
    from tests.cases.processes import celery_broker, free_port

    slept = []
    monkeypatch.setattr(kombu.utils.functional, "sleep", slept.append)
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        outbox._nudge()
    assert "outbox nudge not sent" in caplog.text
    assert slept == []
