"""What the page frame costs: the actor is built once per request (an error page reuses the view's), and the
header's profile (``me``) is read only when a template shows it — never for an htmx fragment such as the unread
badge, polled every minute. The figures are pinned: a new query on these paths should be a decision. A full page
costs two queries more than a fragment for a member of staff who may break glass and works cases: the header's open
emergency grants (``emergency_grants``) and its count of open received inquiries (``open_inquiries``, one query),
read, like ``me``, only when the page frame is drawn."""

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.mfa import sign_in


def _get(client: Client, url: str, status: int, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == status, (url, response.status_code)
    return queries


@pytest.fixture
def alice(cast):
    browser = sign_in(Client(), cast.users["alice"])
    browser.get("/inbox/badge/", HTTP_HX_REQUEST="true")  # warm-up: first-request work of the session
    return browser


HTMX = {"HTTP_HX_REQUEST": "true"}

# An audit event about a client and its exposure rows: one statement on PostgreSQL, two on SQLite (audit.services).
EXPOSURES = 0 if connection.vendor == "postgresql" else 1

# The client page, one audited read (it was 38 with three audited reads).
# + the header's open emergency grants and its open received inquiries (one count), and the files of the page's
# entries (one query, however many entries have files); an allowed access checked in one statement, not three.
CLIENT_PAGE_QUERIES = 23 + EXPOSURES


@pytest.mark.parametrize(
    ("name", "url", "headers", "status", "count"),
    [
        ("badge", "/inbox/badge/", HTMX, 200, 8),
        # + the 担当者 and whom to assign; its access checks are one statement each
        ("timeline fragment", "/clients/{client}/timeline/", HTMX, 200, 28 + 3 * EXPOSURES),
        ("not found", "/clients/{missing}/", {}, 404, 22 + EXPOSURES),
    ],
)
def test_what_the_frame_costs(cast, alice, name, url, headers, status, count):
    queries = _get(alice, url.format(client=cast.client.id, missing=uuid.uuid4()), status, **headers)
    assert len(queries.captured_queries) == count, name


def _events_of(request):
    from audit.models import AuditEvent

    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    queries = request()
    return queries, list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))


def test_the_client_page_is_one_audited_read_in_a_bounded_number_of_queries(cast, alice):
    """One page load: one audited read (``client.view``) whose details name the parts read — the profile, the
    shares and a page of the timeline with what ``timeline_list`` records of it — about this client only; access is
    checked once and no part is read twice (the header, the summary and the 基本情報 card share the one read). The
    query count is pinned (it was 38 with three audited reads)."""
    from cases.models import TimelineEntry

    queries, events = _events_of(lambda: _get(alice, f"/clients/{cast.client.id}/", 200))
    assert [(e.action, e.outcome) for e in events] == [("client.view", "allowed")]
    (event,) = events
    assert event.client_ids == [str(cast.client.id)]
    assert event.details["parts"] == ["profile", "shares", "timeline"]
    entries = TimelineEntry.objects.filter(client_id=cast.client.id).count()
    assert event.details["timeline"] == {"count": entries, "filters": {}}
    assert len(queries.captured_queries) == CLIENT_PAGE_QUERIES


def test_inquiries_on_the_timeline_cost_no_query_each(cast, alice):
    """An inquiry entry names the agencies asked as they were when it was written: the page reads no agency per
    entry (it did, one query per inquiry entry)."""
    from cases import services

    for n in range(3):
        services.inquiry_create(
            actor=cast.actor("alice"),
            client_id=cast.client.id,
            to=["shakyo"],
            subject=f"件名{n}",
            body="ご確認ください。",
        )
    queries, _ = _events_of(lambda: _get(alice, f"/clients/{cast.client.id}/", 200))
    assert len(queries.captured_queries) == CLIENT_PAGE_QUERIES
    assert "三条市社会福祉協議会 に照会しました。" in alice.get(f"/clients/{cast.client.id}/").content.decode()


def test_a_filtered_client_page_records_its_filters_in_the_one_read(cast, alice):
    """The filters (and a search text, as a hash only) are recorded in the page's one read as ``timeline_list``
    records them."""
    from audit.services import terms_hash

    redirect = alice.post(f"/clients/{cast.client.id}/timeline/search/", {"f_kind": "visit", "f_q": "訪問"})
    _, events = _events_of(lambda: _get(alice, redirect["Location"].split("#")[0], 200))
    (event,) = events
    assert event.action == "client.view"
    timeline = event.details["timeline"]
    assert timeline["filters"] == {"kind": "visit"}
    assert timeline["q_hash"] == terms_hash("訪問")
    assert "訪問" not in str(event.details)


def test_a_hidden_client_page_is_one_refusal_in_the_same_queries_as_a_missing_one(cast):
    charlie = sign_in(Client(), cast.users["charlie"])
    charlie.get("/inbox/badge/", **HTMX)
    hidden, events = _events_of(lambda: _get(charlie, f"/clients/{cast.client.id}/", 404))
    assert [(e.action, e.outcome) for e in events] == [("client.view", "denied")]
    missing, _ = _events_of(lambda: _get(charlie, f"/clients/{uuid.uuid4()}/", 404))
    assert len(hidden.captured_queries) == len(missing.captured_queries)


def _notices_for_bob(cast, clients: int) -> None:
    """Bob's inbox: ``clients`` clients shared with his agency, each with two unread notices."""
    from datetime import date

    from cases import services
    from cases.models import Notification
    from cases.outbox import outbox_relay

    for i in range(clients):
        client = services.client_create(
            actor=cast.actor("alice"), name=f"試験 {i}", name_kana="シケン", birth_date=date(1950, 1, 1 + i)
        )
        services.share_grant(
            actor=cast.actor("sam"), client_id=client.id, agency_code="shakyo", level="read", basis="consent"
        )
        for body in ("一", "二"):
            services.timeline_append(actor=cast.actor("alice"), client_id=client.id, kind="visit", body=body)
    outbox_relay()
    assert Notification.objects.filter(recipient=cast.users["bob"], read_at=None).count() >= 2 * clients


@pytest.mark.parametrize("unread", ["", "1"])
def test_the_inbox_names_its_clients_in_a_bounded_number_of_queries(cast, unread):
    """However many clients the notices are about: one read of the notices, one of the clients the reader may
    still see, one of the unread counts, one audit event."""
    bob = sign_in(Client(), cast.users["bob"])
    bob.get("/inbox/badge/", **HTMX)
    url = "/inbox/" + ("?unread=1" if unread else "")
    _notices_for_bob(cast, 1)
    few = len(_get(bob, url, 200).captured_queries)
    _notices_for_bob(cast, 6)
    response_queries = _get(bob, url, 200)
    assert len(response_queries.captured_queries) == few
    assert few == 17 + EXPOSURES  # with the header's open emergency grants and inquiry count (see the module docstring)


def _meetings_for_bob(cast, meetings: int) -> None:
    """``meetings`` 支援会議 of 福祉課, each about a new client of its own, to which bob's agency (社協) is invited:
    every other one confirmed by bea and with minutes (a notice naming the client), the others awaiting confirmation
    (an invitation naming nobody)."""
    from datetime import date

    from django.utils import timezone

    from cases import services
    from cases.outbox import outbox_relay
    from tests.meetings import add_staff

    if "bea" not in cast.users:
        add_staff(cast, "bea", "reader", "supervisor")
    for i in range(meetings):
        client = services.client_create(
            actor=cast.actor("alice"), name=f"会議 {i}", name_kana="カイギ", birth_date=date(1960, 2, 1 + i)
        )
        meeting = services.meeting_create(
            actor=cast.actor("sam"),
            title=f"会議 {i} さんの支援会議",
            held_on=timezone.localdate(),
            clients=[client.id],
            attendees=["shakyo"],
            share_level="read",
            share_days=30,
        )
        if i % 2 == 0:
            services.meeting_confirm(actor=cast.actor("bea"), meeting_id=meeting.id)
            services.meeting_minutes_record(actor=cast.actor("sam"), meeting_id=meeting.id, summary="共有した。")
    outbox_relay()


@pytest.mark.parametrize("unread", ["", "1"])
def test_meeting_notices_cost_no_query_each(cast, unread):
    """Notices grouped by meeting (支援会議) as well as by client: still one read of the notices (which knows whether
    the reader sees each meeting), one of the clients, one of the unread counts, one audit event — however many
    meetings are on the page."""
    bob = sign_in(Client(), cast.users["bob"])
    bob.get("/inbox/badge/", **HTMX)
    url = "/inbox/" + ("?unread=1" if unread else "")
    _notices_for_bob(cast, 1)
    _meetings_for_bob(cast, 1)
    assert "支援会議（" in bob.get(url).content.decode()
    few = _get(bob, url, 200)
    _meetings_for_bob(cast, 5)
    many = _get(bob, url, 200)
    assert len(many.captured_queries) == len(few.captured_queries) == 17 + EXPOSURES


def test_files_on_the_timeline_cost_no_query_each(cast, alice):
    """The entries' files are read in one query for the page, whether one entry has files or three do."""
    import io

    from cases import services
    from cases.attachments import Incoming

    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

    def attach(n: int) -> None:
        files = [Incoming(name=f"書類{n}-{i}.pdf", file=io.BytesIO(pdf), size=len(pdf)) for i in range(2)]
        services.timeline_append(
            actor=cast.actor("alice"), client_id=cast.client.id, kind="visit", body=f"書類{n}", files=files
        )

    attach(0)
    one = _get(alice, f"/clients/{cast.client.id}/", 200)
    attach(1)
    attach(2)
    three = _get(alice, f"/clients/{cast.client.id}/", 200)
    assert len(three.captured_queries) == len(one.captured_queries) == CLIENT_PAGE_QUERIES
