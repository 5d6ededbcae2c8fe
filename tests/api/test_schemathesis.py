"""Property-based contract test: schemathesis generates requests from /api/schema/ and runs them in-process.

Every operation gets positive and negative examples, sent with the key of an integration, a caseworker, a privacy
officer and a supervisor (the one role that may grant and revoke shares), and every default check must pass: no
server error, every status code documented, bodies, content types and headers as documented, auth enforced, 405
for undocumented methods, schema-invalid requests rejected — and schema-valid requests accepted (ST202).

A schema cannot state every rule (a birth date not after today, an agency code that exists, a cursor the server
issued): those are listed per operation in ``api.schema.SEMANTIC_RULES``, described in the schema and answered with
a 400 naming the field. ``keep_within_rules`` knows each of them and keeps the generated *valid* requests inside
them; a rule added without teaching it here fails ``test_every_semantic_rule_is_known_here``. Negative requests
are sent as generated. Half of the generated path ids are swapped for real objects, and list responses with a
``next`` link are followed, so real cursors, clients and shares are reached, not only 404s.

A stateful run follows the schema's OpenAPI links (register a client → grant a share → revoke it …).

Long campaign (the README's API section): ``SCHEMATHESIS_MAX_EXAMPLES=250 SCHEMATHESIS_SEED=random`` (examples per
operation and key; ``SCHEMATHESIS_STATEFUL_EXAMPLES`` for the stateful run; ``--hypothesis-seed=N`` to replay a
random run). The in-suite default is modest. The requests sent are counted in the terminal summary.
"""

import io
import os
import random
import uuid
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from PIL import Image

from agencies.models import Agency
from api.schema import SEMANTIC_RULES
from cases import services
from cases.models import (
    USER_ENTRY_KINDS,
    ActionItem,
    Client,
    Inquiry,
    InquiryStatus,
    Meeting,
    MeetingAttendee,
    Share,
    TimelineEntry,
)

from ..meetings import convene
from .conftest import SCHEMATHESIS_TALLY, issue_key

# The contract does not depend on the database: it runs once, in the PostgreSQL pass (the production database).
pytestmark = pytest.mark.postgres

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "15"))
DERANDOMIZE = os.environ.get("SCHEMATHESIS_SEED") != "random"

# Who sends the requests: ivan, the owner agency's integration (manage, no share-management role), carol, a caseworker
# of a partner with an `append` share, penny, the privacy officer (no share; the audit log), and sam, the owner's
# supervisor.
CALLERS = ["ivan", "carol", "penny", "sam"]

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


@pytest.fixture
def callers(cast, settings, _keep_test_transaction):
    """``{name: (user, plain key)}`` for every caller."""
    settings.API_THROTTLE_RATE = "1000000/min"  # these tests are about the contract, not the request budget
    settings.API_AUTH_FAILURE_RATE = "1000000/min"  # nor the budget of failed authentications (sent on purpose)
    return {name: (cast.users[name], issue_key(cast.users[name])[1]) for name in CALLERS}


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _operation_id(case) -> str:
    return case.operation.definition.raw["operationId"]


def _client(case) -> Client | None:
    params = case.path_parameters or {}
    return Client.objects.filter(pk=params["id"]).first() if _is_uuid(params.get("id")) else None


@pytest.fixture
def meeting(cast):
    """A 支援会議 of the owner agency (sam's and ivan's) with minutes and action items, so that the meeting and task
    operations reach real objects (``_point_at_real_objects``)."""
    convened = convene(cast)
    services.meeting_minutes_record(
        actor=cast.actor("sam"),
        meeting_id=convened.id,
        summary="概要",
        action_items=[
            {"agency": agency, "client": client, "task": "確認", "due_on": None}
            for agency in ("fukushi", "shisetsu")
            for client in (cast.client.id, convened.client2.id)
        ],
    )
    return convened


# --- the rules the schema cannot state, and how a valid request keeps within them ---------------------------


class Chooser:
    """Choices for ``keep_within_rules``: drawn by Hypothesis in the example tests (so they shrink and replay), from
    a seeded ``random.Random`` in the stateful run."""

    def __init__(self, data=None, rng: random.Random | None = None) -> None:
        self.data, self.rng = data, rng

    def one_of(self, items: list):
        items = sorted(items)
        return self.data.draw(st.sampled_from(items)) if self.data else self.rng.choice(items)

    def between(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high)) if self.data else self.rng.randint(low, high)


def _past_date(case, choose: Chooser) -> None:
    today = timezone.localdate()
    if date.fromisoformat(case.body["birth_date"]) > today:
        earliest = date(1900, 1, 1)
        case.body["birth_date"] = (earliest + timedelta(days=choose.between(0, (today - earliest).days))).isoformat()


def _not_future(case, choose: Chooser) -> None:
    value = case.body.get("occurred_at")
    if value and datetime.fromisoformat(value) > timezone.now():
        case.body["occurred_at"] = (timezone.now() - timedelta(minutes=choose.between(1, 10**6))).isoformat()


def _own_entry(case, choose: Chooser) -> None:
    if case.body.get("corrects") is None:
        return
    client = _client(case)
    # Written by a person: not the system's (a 支援会議's minutes are of kind `meeting` but written by the service).
    written = TimelineEntry.objects.filter(client=client, kind__in=USER_ENTRY_KINDS, event__isnull=True)
    entries = written if client else None
    ids = [str(pk) for pk in entries.values_list("pk", flat=True)] if entries is not None else []
    if ids:
        case.body["corrects"] = choose.one_of(ids)  # another agency's entry: 403, allowed
    elif "multipart" in (case.media_type or ""):
        del case.body["corrects"]  # a form has no null: leave it out
    else:
        case.body["corrects"] = None


# A small file of an accepted type: generated bytes are almost never one (their refusal is a 400 naming them).
SAMPLE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _accepted_files(case, choose: Chooser) -> None:
    count = len(case.body["files"]) if isinstance(case.body["files"], list) else 1
    case.body["files"] = [SAMPLE_PDF] * min(max(count, 1), 3)


def _listed_agency(case, choose: Chooser) -> None:
    client = _client(case)
    agencies = Agency.objects.exclude(pk=client.owner_agency_id) if client else Agency.objects.all()
    case.body["agency"] = choose.one_of(list(agencies.values_list("code", flat=True)))


def _future(case, choose: Chooser) -> None:
    value = case.body.get("expires_at")
    if value and datetime.fromisoformat(value) <= timezone.now() + timedelta(minutes=1):
        case.body["expires_at"] = (timezone.now() + timedelta(hours=choose.between(1, 10**5))).isoformat()


def _revocable_share(case, choose: Chooser) -> None:
    client = _client(case)
    share_id = case.path_parameters["share_id"]
    if client is None or not Share.objects.filter(pk=share_id if _is_uuid(share_id) else None).exists():
        return  # not found: 404
    revocable = Share.objects.filter(client=client, revoked_at=None).exclude(agency_id=client.owner_agency_id)
    ids = [str(pk) for pk in revocable.values_list("pk", flat=True)]
    case.path_parameters["share_id"] = choose.one_of(ids) if ids else str(uuid.uuid4())


# The callers' agencies (a meeting's attendees must be other agencies than the convener's).
CALLER_AGENCIES = {"fukushi", "houkatsu", "soumu"}


def _held_within_rules(case, choose: Chooser) -> None:
    held = date.fromisoformat(case.body["held_on"])
    today = timezone.localdate()
    days = case.body.get("share_days")
    if abs((held - today).days) > 366 or (isinstance(days, int) and (held - today).days + days <= 0):
        case.body["held_on"] = (today + timedelta(days=choose.between(0, 30))).isoformat()


def _other_agencies(case, choose: Chooser) -> None:
    codes = sorted(set(Agency.objects.values_list("code", flat=True)) - CALLER_AGENCIES)
    count = min(len(case.body["attendees"]), len(codes))
    case.body["attendees"] = [choose.one_of(codes) for _ in range(max(count, 1))]


def _not_confirmed(case, choose: Chooser) -> None:
    # None of the callers' agencies attends a meeting (the callers convene or are outsiders): never a 400.
    meeting_id = case.path_parameters.get("id")
    confirmed = MeetingAttendee.objects.filter(
        meeting_id=meeting_id if _is_uuid(meeting_id) else None, confirmed_at__isnull=False
    )
    assert not confirmed.filter(agency__code__in=CALLER_AGENCIES).exists()


def _meeting_parties(case, choose: Chooser) -> None:
    meeting_id = case.path_parameters.get("id")
    meeting = Meeting.objects.filter(pk=meeting_id if _is_uuid(meeting_id) else None).first()
    if meeting is None:
        return  # not found: 404
    parties = [meeting.convened_by.code, *meeting.attendees.values_list("agency__code", flat=True)]
    clients = [str(pk) for pk in meeting.clients.values_list("pk", flat=True)]
    for item in case.body["action_items"]:
        if isinstance(item, dict):
            item["agency"], item["client"] = choose.one_of(parties), choose.one_of(clients)


def _open_task(case, choose: Chooser) -> None:
    task_id = case.path_parameters.get("id")
    task = ActionItem.objects.filter(pk=task_id if _is_uuid(task_id) else None).first()
    if task is not None and (task.status != "open" or task.superseded_at is not None):
        case.path_parameters["id"] = str(uuid.uuid4())  # done already: a task nobody has instead (404)


def _issued_cursor(case, choose: Chooser) -> None:
    # Only a cursor the server issued is valid: generated ones are dropped, and real ones are sent by following
    # the `next` links of the responses (``_follow_next``).
    (case.query or {}).pop("cursor", None)


# The agencies the callers act for: an inquiry is asked of another agency, so a valid `to` names none of them.
CALLER_AGENCIES = {"fukushi", "houkatsu", "soumu"}


def _sharing_agencies(case, choose: Chooser) -> None:
    client = _client(case)
    if client is None:
        return  # not found: 404
    codes = Share.objects.filter(client=client).active().values_list("agency__code", flat=True)
    candidates = sorted(set(codes) - CALLER_AGENCIES)
    case.body["to"] = [choose.one_of(candidates)] if candidates else case.body["to"]


def _not_past(case, choose: Chooser) -> None:
    value = case.body.get("due_on")
    if value and date.fromisoformat(value) < timezone.localdate():
        case.body["due_on"] = (timezone.localdate() + timedelta(days=choose.between(0, 3650))).isoformat()


def _open_inquiry(case, choose: Chooser) -> None:
    inquiry_id = case.path_parameters["id"]
    found = Inquiry.objects.filter(pk=inquiry_id if _is_uuid(inquiry_id) else None).first()
    if found is None or found.status != InquiryStatus.CLOSED:
        return  # not found (404), or not closed
    ids = [str(pk) for pk in Inquiry.objects.exclude(status=InquiryStatus.CLOSED).values_list("pk", flat=True)]
    case.path_parameters["id"] = choose.one_of(ids) if ids else str(uuid.uuid4())


def _until_after_since(case, choose: Chooser) -> None:
    query = case.query or {}
    since, until = query.get("since"), query.get("until")
    if since and until and datetime.fromisoformat(until) <= datetime.fromisoformat(since):
        query.pop("until")


# (operation, field) → how a valid request keeps within the rule; `body` rules apply when the field is sent.
KEEP_WITHIN = {
    ("clients_create", "birth_date"): _past_date,
    ("clients_update", "birth_date"): _past_date,
    ("timeline_create", "occurred_at"): _not_future,
    ("timeline_create", "corrects"): _own_entry,
    ("timeline_create", "files"): _accepted_files,
    ("shares_create", "agency"): _listed_agency,
    ("shares_create", "expires_at"): _future,
    ("shares_revoke", "share"): _revocable_share,
    ("audit_events_list", "until"): _until_after_since,
    ("inquiries_create", "to"): _sharing_agencies,
    ("inquiries_create", "due_on"): _not_past,
    ("inquiries_reply", "inquiry"): _open_inquiry,
    ("inquiries_close", "inquiry"): _open_inquiry,
    ("meetings_create", "held_on"): _held_within_rules,
    ("meetings_create", "attendees"): _other_agencies,
    ("meetings_confirm", "meeting"): _not_confirmed,
    ("meetings_minutes_create", "action_items"): _meeting_parties,
    ("tasks_done", "task"): _open_task,
    **{(operation, "cursor"): _issued_cursor for operation, rules in SEMANTIC_RULES.items() if "cursor" in rules},
}
_BODY_FIELDS = {
    *("birth_date", "occurred_at", "corrects", "files", "agency", "expires_at", "to", "due_on"),
    *("held_on", "attendees", "action_items"),
}


def keep_within_rules(case, choose: Chooser) -> None:
    """Bring a schema-valid (positive) case within the rules a schema cannot state; leave negative cases alone."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    operation = _operation_id(case)
    for field in SEMANTIC_RULES.get(operation, {}):
        if field not in _BODY_FIELDS or (isinstance(case.body, dict) and field in case.body):
            KEEP_WITHIN[operation, field](case, choose)


def test_every_semantic_rule_is_known_here():
    assert set(KEEP_WITHIN) == {(op, field) for op, rules in SEMANTIC_RULES.items() for field in rules}
    documented = {op.definition.raw["operationId"]: op for op in (r.ok() for r in schema.get_all_operations())}
    for operation, rules in SEMANTIC_RULES.items():
        for field in rules:
            assert f"`errors.{field}`" in documented[operation].definition.raw["description"]


@pytest.fixture
def inquiries(cast):
    """Inquiries about the standing cast's client for the inquiry operations to reach: the owner asks the
    appender (which answers it), the appender and the reader together, and the reader alone (open)."""
    alice, carol = cast.actor("alice", "api"), cast.actor("carol", "api")
    asked = [
        services.inquiry_create(
            actor=alice, client_id=cast.client.id, to=to, subject="照会", body="状況を教えてください。"
        )
        for to in (["houkatsu"], ["houkatsu", "shakyo"], ["shakyo"])
    ]
    services.inquiry_reply(actor=carol, inquiry_id=asked[0].id, body="回答します。")
    return [str(i.id) for i in asked]


INQUIRY_OPERATIONS = {"inquiries_retrieve", "inquiries_reply", "inquiries_close"}


@pytest.fixture
def attachments(cast):
    """Files on the standing cast's client (a PDF and a PNG), for the download operation to reach."""
    from cases.attachments import Incoming

    png = io.BytesIO()
    Image.new("RGB", (16, 16), "teal").save(png, format="PNG")
    entry = services.timeline_append(
        actor=cast.actor("alice", "api"),
        client_id=cast.client.id,
        kind="visit",
        body="書類を受け取った。",
        files=[
            Incoming(name="同意書.pdf", file=io.BytesIO(SAMPLE_PDF), size=len(SAMPLE_PDF)),
            Incoming(name="玄関.png", file=io.BytesIO(png.getvalue()), size=len(png.getvalue())),
        ],
    )
    return [str(a.id) for a in entry.attachments]


def _point_at_real_objects(case, data, cast, inquiry_ids=(), meeting=None, attachment_ids=()) -> None:
    params = case.path_parameters or {}
    operation = _operation_id(case)
    if operation == "attachment_download":
        if attachment_ids and _is_uuid(params.get("id")) and data.draw(st.booleans(), label="real attachment"):
            params["id"] = data.draw(st.sampled_from(sorted(attachment_ids)))
        return
    if operation in INQUIRY_OPERATIONS:
        if inquiry_ids and _is_uuid(params.get("id")) and data.draw(st.booleans(), label="real inquiry"):
            params["id"] = data.draw(st.sampled_from(sorted(inquiry_ids)))
        return
    if meeting is not None and operation.startswith(("meetings_", "tasks_")):
        if _is_uuid(params.get("id")) and data.draw(st.booleans(), label="real meeting or task"):
            if operation.startswith("meetings_"):
                params["id"] = str(meeting.id)
            else:
                tasks = sorted(str(pk) for pk in ActionItem.objects.filter(status="open").values_list("pk", flat=True))
                if tasks:
                    params["id"] = data.draw(st.sampled_from(tasks), label="real task")
        body = case.body
        real = operation == "meetings_create" and isinstance(body, dict) and isinstance(body.get("clients"), list)
        if real and data.draw(st.booleans(), label="real clients"):
            body["clients"] = [str(cast.client.id)]
        return
    if _is_uuid(params.get("id")) and data.draw(st.booleans(), label="real client"):
        params["id"] = str(cast.client.id)
        if _is_uuid(params.get("share_id")) and data.draw(st.booleans(), label="real share"):
            params["share_id"] = str(data.draw(st.sampled_from(sorted(s.id for s in cast.shares.values()))))


def _tally(caller: str, case, response) -> None:
    mode = "positive" if case.meta is None or case.meta.generation.mode.is_positive else "negative"
    SCHEMATHESIS_TALLY[caller, mode, response.status_code] += 1


def _follow_next(case, response, headers, caller: str) -> None:
    """A list with more pages: fetch the next one with the cursor the server issued (a valid request)."""
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
    if response.status_code != 200 or case.method != "GET" or "application/json" not in " ".join(content_type):
        return  # not a page of a list (a file, say)
    if not isinstance(response.json(), dict):
        return
    link = response.json().get("next")
    if not link or not case.meta.generation.mode.is_positive:
        return
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    case.query = {**(case.query or {}), "cursor": cursor}
    _tally(caller, case, case.call_and_validate(headers=headers))


@pytest.mark.parametrize("caller", CALLERS)
@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=DERANDOMIZE,
)
def test_api_conforms_to_its_schema(case, data, caller, cast, callers, inquiries, meeting, attachments):
    key = callers[caller][1]
    _point_at_real_objects(case, data, cast, inquiries, meeting, attachments)
    keep_within_rules(case, Chooser(data=data))
    headers = {"Authorization": f"Bearer {key}"}
    response = case.call_and_validate(headers=headers)
    _tally(caller, case, response)
    _follow_next(case, response, headers, caller)


# A client and its shares, which the links connect (a walk over every operation seldom gets as far as a revocation;
# the example tests above cover the rest).
LINKED_OPERATIONS = ["clients_create", "clients_retrieve", "shares_create", "shares_list", "shares_revoke"]


def test_api_links_lead_to_the_operations_that_use_the_ids(callers):
    """Stateful: schemathesis chains operations along the OpenAPI links (a new client → its profile and shares; a
    new share → its revocation), with the supervisor's key, so DELETE …/shares/{share_id}/ sees real ids. A
    generated share id never names a share, so a 200 from the revocation means the id came through a link."""
    auth = {"Authorization": f"Bearer {callers['sam'][1]}"}
    reached = []

    linked = schema.include(operation_id=LINKED_OPERATIONS)

    class Workflow(linked.as_state_machine()):
        def setup(self):
            # Each scenario starts from the standing cast: what one scenario wrote is rolled back at its end, so
            # the same choices meet the same state (Hypothesis replays and shrinks scenarios).
            self.scenario = transaction.atomic()
            self.scenario.__enter__()
            self.choose = Chooser(rng=random.Random(0))

        def teardown(self):
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def before_call(self, case):
            keep_within_rules(case, self.choose)

        def get_call_kwargs(self, case):
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # The key is named as the caller's own (not generated), so the auth checks know to probe without it.
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=auth,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

        def after_call(self, response, case):
            super().after_call(response, case)
            reached.append((_operation_id(case), response.status_code))
            _tally("sam (stateful)", case, response)

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=DERANDOMIZE,
            stateful_step_count=8,
        ),
    )
    assert ("shares_revoke", 200) in reached, str(sorted(set(reached)))
