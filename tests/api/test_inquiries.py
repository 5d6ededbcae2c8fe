"""The inquiry (照会) operations of PRODUCT §6.1 over HTTP: paths, fields, status codes, idempotency, problems."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from cases.models import Notification, OutboxMessage
from cases.outbox import outbox_consume

from .helpers import PROBLEM, assert_problem, events_since, last_seq

INQUIRY_FIELDS = {"id", "client", "from_agency", "to", "subject", "body", "status", "due_on", "created_at", "replies"}
REPLY_FIELDS = {"id", "agency", "author", "body", "created_at"}


def _ask(api, cast, who="alice", **overrides):
    data = {"to": ["houkatsu"], "subject": "通所の状況", "body": "最近の通所状況を教えてください。", **overrides}
    return api(who).post(f"/api/v1/clients/{cast.client.id}/inquiries/", data, format="json")


def _deliver_all() -> None:
    for pk in OutboxMessage.objects.filter(finished_at=None).values_list("pk", flat=True):
        outbox_consume(message_id=pk)


def test_create_returns_201_with_the_contract_fields(cast, api):
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    seq = last_seq()
    response = _ask(api, cast, due_on=due)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == INQUIRY_FIELDS
    assert body["client"] == str(cast.client.id)
    assert (body["from_agency"], body["to"], body["status"], body["due_on"]) == ("fukushi", ["houkatsu"], "open", due)
    assert body["replies"] == []
    [event] = [e for e in events_since(seq) if e.action == "inquiry.create"]
    assert (event.outcome, event.target_type, event.target_id) == ("allowed", "inquiry", body["id"])
    assert event.client_ids == [str(cast.client.id)]
    assert event.authorised_by.startswith("share:")
    assert "通所" not in str(event.details)  # no case content in the audit log
    # On the timeline, kind inquiry, with the words.
    timeline = api("alice").get(f"/api/v1/clients/{cast.client.id}/timeline/?kind=inquiry").json()["results"]
    assert len(timeline) == 1 and "通所の状況" in timeline[0]["body"]


def test_the_addressees_only_are_notified(cast, api):
    assert _ask(api, cast).status_code == 201
    _deliver_all()
    notified = set(Notification.objects.filter(topic="inquiry.create").values_list("recipient__username", flat=True))
    assert notified == {"carol"}  # the addressee's staff: not the reader agency, not the sender's colleagues


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"to": []}, "to"),
        ({"to": ["fukushi"]}, "to"),  # the caller's own agency
        ({"to": ["shisetsu"]}, "to"),  # holds no share
        ({"to": ["kaigo"]}, "to"),  # its share expired
        ({"to": ["nosuch"]}, "to"),
        ({"subject": ""}, "subject"),
        ({"subject": "あ" * 201}, "subject"),
        ({"body": " "}, "body"),
        ({"due_on": "2000-01-01"}, "due_on"),
        ({"due_on": "2026-13-01"}, "due_on"),
        ({"extra": 1}, "extra"),
    ],
)
def test_create_bad_input_is_400_by_field(cast, api, overrides, field):
    body = assert_problem(_ask(api, cast, **overrides), 400)
    assert field in body["errors"]


@pytest.mark.parametrize(
    ("who", "status"), [("bob", 403), ("charlie", 404), ("erin", 404), ("rick", 404), ("penny", 404)]
)
def test_create_refused(cast, api, who, status):
    seq = last_seq()
    assert_problem(_ask(api, cast, who=who, to=["shakyo"]), status)
    assert [(e.action, e.outcome) for e in events_since(seq)] == [("inquiry.create", "denied")]


def test_list_boxes_newest_first_with_status_filter(cast, api):
    first = _ask(api, cast, subject="一件目").json()
    second = _ask(api, cast, subject="二件目", to=["houkatsu", "shakyo"]).json()
    sent = api("alice").get("/api/v1/inquiries/?box=sent").json()
    assert set(sent) == {"next", "previous", "results"}
    assert [i["id"] for i in sent["results"]] == [second["id"], first["id"]]
    received = api("carol").get("/api/v1/inquiries/?box=received").json()["results"]
    assert [i["id"] for i in received] == [second["id"], first["id"]]
    assert [i["id"] for i in api("bob").get("/api/v1/inquiries/").json()["results"]] == [second["id"]]
    assert api("carol").get("/api/v1/inquiries/?box=sent").json()["results"] == []
    assert api("charlie").get("/api/v1/inquiries/").json()["results"] == []
    assert api("alice").get("/api/v1/inquiries/?box=sent&status=answered").json()["results"] == []
    page = api("alice").get("/api/v1/inquiries/?box=sent&page_size=1").json()
    assert len(page["results"]) == 1 and page["next"]
    assert api("alice").get(page["next"]).json()["results"][0]["id"] == first["id"]
    assert_problem(api("alice").get("/api/v1/inquiries/?box=other"), 400)
    assert_problem(api("alice").get("/api/v1/inquiries/?status=other"), 400)
    event = AuditEvent.objects.filter(action="inquiry.list").order_by("-seq").first()
    assert event is not None and event.outcome == "allowed"


def test_detail_reply_answers_and_close(cast, api):
    inquiry = _ask(api, cast).json()
    url = f"/api/v1/inquiries/{inquiry['id']}/"
    assert api("carol").get(url).json() == inquiry
    reply = api("carol").post(url + "replies/", {"body": "週3回通所しています。"}, format="json")
    assert reply.status_code == 201, reply.content
    answered = reply.json()
    assert answered["status"] == "answered"
    [r] = answered["replies"]
    assert set(r) == REPLY_FIELDS
    assert (r["agency"], r["author"]["username"], r["body"]) == ("houkatsu", "carol", "週3回通所しています。")
    _deliver_all()
    assert set(Notification.objects.filter(topic="inquiry.reply").values_list("recipient__username", flat=True)) == {
        "alice",
        "sam",
        "ada",
    }
    # A follow-up by the sender keeps it answered.
    assert api("alice").post(url + "replies/", {"body": "ありがとうございます。"}, format="json").json()["status"] == (
        "answered"
    )
    assert_problem(api("carol").post(url + "close/"), 403)
    closed = api("alice").post(url + "close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (
        "inquiry" in assert_problem(api("carol").post(url + "replies/", {"body": "追記"}, format="json"), 400)["errors"]
    )
    assert "inquiry" in assert_problem(api("alice").post(url + "close/"), 400)["errors"]


@pytest.mark.parametrize("who", ["bob", "charlie", "erin", "rick", "penny"])
def test_non_parties_find_nothing_identical_to_missing(cast, api, who):
    inquiry = _ask(api, cast).json()  # to houkatsu only: bob's agency shares the client but is not addressed
    for suffix, method, data in [("", "get", None), ("replies/", "post", {"body": "x"}), ("close/", "post", None)]:
        seq = last_seq()
        hidden = getattr(api(who), method)(f"/api/v1/inquiries/{inquiry['id']}/{suffix}", data, format="json")
        missing = getattr(api(who), method)(
            f"/api/v1/inquiries/00000000-0000-4000-8000-000000000000/{suffix}", data, format="json"
        )
        assert_problem(hidden, 404)
        assert hidden.content == missing.content
        assert hidden["Content-Type"] == PROBLEM
        assert [e.outcome for e in events_since(seq)] == ["denied", "denied"]


def test_a_reader_addressee_sees_but_cannot_reply(cast, api):
    inquiry = _ask(api, cast, to=["shakyo"]).json()
    assert api("bob").get(f"/api/v1/inquiries/{inquiry['id']}/").status_code == 200
    assert_problem(api("bob").post(f"/api/v1/inquiries/{inquiry['id']}/replies/", {"body": "x"}, format="json"), 403)


def test_idempotency_key_on_every_post(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/inquiries/"
    data = {"to": ["houkatsu"], "subject": "件名", "body": "本文"}
    first = api("alice").post(url, data, format="json", HTTP_IDEMPOTENCY_KEY="inq-1")
    again = api("alice").post(url, data, format="json", HTTP_IDEMPOTENCY_KEY="inq-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert len(api("alice").get("/api/v1/inquiries/?box=sent").json()["results"]) == 1
    assert_problem(api("alice").post(url, {**data, "body": "別"}, format="json", HTTP_IDEMPOTENCY_KEY="inq-1"), 409)
    replies = f"/api/v1/inquiries/{first.json()['id']}/replies/"
    r1 = api("carol").post(replies, {"body": "回答"}, format="json", HTTP_IDEMPOTENCY_KEY="rep-1")
    r2 = api("carol").post(replies, {"body": "回答"}, format="json", HTTP_IDEMPOTENCY_KEY="rep-1")
    assert r1.status_code == r2.status_code == 201 and r2.json() == r1.json()
    assert len(api("carol").get(f"/api/v1/inquiries/{first.json()['id']}/").json()["replies"]) == 1
    close = f"/api/v1/inquiries/{first.json()['id']}/close/"
    c1 = api("alice").post(close, HTTP_IDEMPOTENCY_KEY="close-1")
    c2 = api("alice").post(close, HTTP_IDEMPOTENCY_KEY="close-1")
    assert c1.status_code == c2.status_code == 200 and c2["Idempotent-Replayed"] == "true"


def test_operations_are_in_the_schema(cast, api):
    schema = api("alice").get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/clients/{id}/inquiries/"]) >= {"post"}
    assert set(paths["/api/v1/inquiries/"]) >= {"get"}
    assert set(paths["/api/v1/inquiries/{id}/"]) >= {"get"}
    assert set(paths["/api/v1/inquiries/{id}/replies/"]) >= {"post"}
    assert set(paths["/api/v1/inquiries/{id}/close/"]) >= {"post"}
