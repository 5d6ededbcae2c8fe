"""No case content in the audit log or the application log: distinctive strings planted in names, addresses,
bodies, basis notes, break-glass reasons and search terms never appear in any audit row (every field, the
details JSON included) nor in any captured log line — as the records, and as the JSON lines production writes
(``LOG_FORMAT=json``: every value of every line searched) — after the services, the web pages, the API and the admin
ran."""

import json
import logging
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.urls import reverse

from agencies.services import apikey_issue
from audit.models import AuditEvent, AuditExposure, AuditSeal
from cases import selectors, services
from cases.outbox import outbox_relay
from tests.api.conftest import issue_key
from tests.cast import PASSWORD
from tests.logs import json_log
from tests.mfa import enrol, fresh_code

from .conftest import seal_all, sealing_db

NAME = "鳥籠ZQ01 カナリア"
KANA = "トリカゴ カナリア"
ADDRESS = "canary-ZQ02 新潟県三条市"
PHONE = "0256-77-1357"
BODY = "canary-ZQ03 体調の記録"
CORRECTION = "canary-ZQ04 訂正の記録"
BASIS = "canary-ZQ05 支援会議の補足"
QUERY = "canaryZQ06"
REASON = "canary-ZQ07 救急搬送の確認"
TYPED_USERNAME = "canary-ZQ08-typed-as-username"
CANARIES = [NAME, "鳥籠ZQ01", KANA, ADDRESS, "canary-ZQ02", PHONE, BODY, CORRECTION, BASIS, QUERY, REASON]
CANARIES += [TYPED_USERNAME, "ZQ0"]  # the marker alone catches a partial leak


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def test_the_leak_detector_detects():
    assert leaks(f"...{BODY}...") == [BODY, "ZQ0"]
    assert leaks(json.dumps({"details": {"q": QUERY}}, ensure_ascii=False)) == [QUERY, "ZQ0"]


def _values(node):
    """Every string in a parsed JSON line, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield str(node)


@pytest.fixture
def json_lines():
    """The application log as production writes it: one JSON object per line, the request filter applied."""
    with json_log() as stream:
        yield stream


@sealing_db
def test_no_case_content_reaches_the_audit_log_or_the_logs(sealed_cast, client, caplog, json_lines):
    cast = sealed_cast
    caplog.set_level(logging.DEBUG)
    alice, sam, carol = cast.actor("alice"), cast.actor("sam"), cast.actor("carol")
    canary = services.client_create(
        actor=alice, name=NAME, name_kana=KANA, birth_date=date(1951, 2, 3), address=ADDRESS, phone=PHONE, tags=["高齢"]
    )
    cid = canary.id
    services.share_grant(
        actor=sam, client_id=cid, agency_code="houkatsu", level="append", basis="support_meeting", basis_note=BASIS
    )
    entry = services.timeline_append(actor=carol, client_id=cid, kind="visit", body=BODY)
    services.timeline_append(actor=carol, client_id=cid, kind="visit", body=CORRECTION, corrects=entry.id)
    services.client_update(actor=alice, client_id=cid, changes={"address": ADDRESS + " 2階", "phone": PHONE})
    for q in (QUERY, NAME, KANA, ADDRESS):
        selectors.client_list(actor=alice, q=q[:100])
    selectors.client_find_duplicates(actor=alice, name_kana=KANA, birth_date=date(1951, 2, 3))
    selectors.client_get(actor=carol, client_id=cid)
    selectors.timeline_list(actor=carol, client_id=cid)
    selectors.share_list(actor=carol, client_id=cid)
    services.break_glass_open(actor=cast.actor("charlie"), name_kana=KANA, birth_date=date(1951, 2, 3), reason=REASON)
    apikey_issue(actor=alice, user=cast.users["alice"], name="鍵")

    # The web pages, including a failed login with a name typed into the username box.
    client.post(reverse("frontend:login"), {"username": TYPED_USERNAME, "password": "wrong-password-x"})
    assert client.post(reverse("frontend:login"), {"username": "carol", "password": PASSWORD}).status_code == 302
    for url, params in [
        (reverse("frontend:client_list"), {}),
        (reverse("frontend:client_list"), {"q": QUERY}),  # an old link: moved into the session, redirected to "/"
        (reverse("frontend:client_detail", args=[cid]), {}),
    ]:
        assert client.get(url, params, follow=True).status_code == 200
    assert client.post(reverse("frontend:client_list"), {"q": KANA}, follow=True).status_code == 200
    body = client.get(reverse("frontend:client_detail", args=[cid])).content.decode()
    assert BODY in body  # the page did show the case content the log must not hold
    client.post(reverse("frontend:logout"))

    # The API, with the name in a query string, a body and a header, and a request that is refused.
    _, key = issue_key(cast.users["carol"])
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/clients/", {"q": QUERY}, headers=bearer).status_code == 200
    appended = client.post(
        f"/api/v1/clients/{cid}/timeline/",
        {"kind": "visit", "body": BODY},
        content_type="application/json",
        headers=bearer | {"X-Request-ID": "canary-request"},
    )
    assert appended.status_code == 201
    refused = client.post(
        f"/api/v1/clients/{cid}/timeline/",
        {"kind": NAME, "body": BODY},
        content_type="application/json",
        headers=bearer,
    )
    assert refused.status_code == 400
    outbox_relay()  # the consumers run (eagerly) and log under the request's id

    # The admin, as an operator.
    oscar = get_user_model().objects.create_superuser("oscar", password=PASSWORD)
    enrol(oscar)
    client.post(reverse("admin:login"), {"username": "oscar", "password": PASSWORD, "next": "/admin/"})
    client.post(reverse("frontend:mfa_verify"), {"code": fresh_code(oscar), "next": "/admin/"})
    for url, params in [
        (reverse("admin:cases_client_changelist"), {"q": NAME}),
        (reverse("admin:cases_client_change", args=[cid]), {}),
        (reverse("admin:cases_timelineentry_changelist"), {}),
        (reverse("admin:cases_share_changelist"), {}),
    ]:
        assert client.get(url, params).status_code == 200

    seal_all()  # the seals hold hashes of the rows; nothing else

    rows = [model_to_dict(e) | {"seq": e.seq, "uuid": str(e.uuid)} for e in AuditEvent.objects.all()]
    assert len(rows) > 40
    dumped = json.dumps(rows, ensure_ascii=False, default=str)
    assert leaks(dumped) == []
    assert leaks(json.dumps(list(AuditSeal.objects.values("seqs", "seal_hash", "prev_hash")), default=str)) == []
    assert AuditExposure.objects.filter(client_id=cid).count() > 10  # the ids were recorded, just not the content

    logged = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records  # the application did log (sign-in, requests); none of it may carry case content
    assert leaks(logged) == []
    assert leaks(caplog.text) == []

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]  # each line one JSON object
    assert len(lines) > 20
    assert [line for line in lines if line["logger"] == "tsunagu.access" and line["status"] == 400]
    assert [line for line in lines if line["logger"] == "cases.outbox" and line["request_id"] == "canary-request"]
    for line in lines:
        assert leaks(" ".join(_values(line))) == [], line
    assert leaks(json_lines.getvalue()) == []
