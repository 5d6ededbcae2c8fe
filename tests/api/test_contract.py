"""PRODUCT §6 endpoint by endpoint, field by field, for every member of the standing cast."""

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from cases import services
from tests.cast import AGENCIES

from .helpers import (
    APPENDERS,
    CLIENT_FIELDS,
    ENTRY_FIELDS,
    EVERYONE,
    INVISIBLE,
    SHARE_FIELDS,
    SHARE_MANAGERS,
    VISIBLE,
    assert_problem,
    events_since,
    last_seq,
)

# --- /me/ and /agencies/ -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_me(cast, api, who):
    response = api(who).get("/api/v1/me/")
    assert response.status_code == 200
    staff = cast.users[who].staff
    assert response.json() == {
        "username": who,
        "display_name": who.capitalize(),
        "agency": {"code": staff.agency.code, "name": staff.agency.name, "kind": staff.agency.kind},
        "role": staff.role,
        "is_privacy_officer": who == "penny",
    }


@pytest.mark.parametrize("who", ["alice", "charlie", "penny"])
def test_agency_directory_is_a_paged_list(cast, api, who):
    everyone = sorted((code, name, kind) for code, name, kind in AGENCIES.values())
    response = api(who).get("/api/v1/agencies/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert (body["next"], body["previous"]) == (None, None)
    assert [(a["code"], a["name"], a["kind"]) for a in body["results"]] == everyone

    seen, url = [], "/api/v1/agencies/?page_size=3"
    while url:
        page = api(who).get(url).json()
        assert len(page["results"]) <= 3
        seen += [a["code"] for a in page["results"]]
        url = page["next"]
    assert seen == [code for code, _, _ in everyone]
    back = api(who).get(page["previous"]).json()
    assert [a["code"] for a in back["results"]] == [code for code, _, _ in everyone][3:6]


def test_agency_directory_reads_no_case_data_and_writes_no_audit(cast, api):
    seq = last_seq()
    api("alice").get("/api/v1/me/")
    api("alice").get("/api/v1/agencies/")
    assert events_since(seq) == []


# --- client list and search ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_client_list(cast, api, who):
    seq = last_seq()
    response = api(who).get("/api/v1/clients/")
    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    [event] = events_since(seq)
    assert (event.action, event.outcome, event.channel) == ("client.list", "allowed", "api")
    if who in VISIBLE:
        [item] = body["results"]
        assert set(item) == CLIENT_FIELDS
        assert item["id"] == str(cast.client.id)
        assert item["my_level"] == VISIBLE[who]
        assert event.client_ids == [str(cast.client.id)]
    else:
        assert body["results"] == []
        assert event.client_ids == []


@pytest.mark.parametrize("who", EVERYONE)
def test_client_search_filters(cast, api, who):
    expected = [str(cast.client.id)] if who in VISIBLE else []
    for query, hit in [
        ("q=ヤマダ", True),
        ("q=山田", True),
        (f"q={cast.client.case_number}", True),
        ("q=佐藤", False),
        ("status=active", True),
        ("status=closed", False),
        ("tag=8050", True),
        ("tag=子ども", False),
        ("q=やまだ&status=active&tag=高齢", True),
    ]:
        seq = last_seq()
        response = api(who).get(f"/api/v1/clients/?{query}")
        assert response.status_code == 200, query
        assert [c["id"] for c in response.json()["results"]] == (expected if hit else []), query
        [event] = events_since(seq)
        assert event.action == ("client.search" if "q=" in query else "client.list")
        assert "ヤマダ" not in str(event.details) and "山田" not in str(event.details)


def test_client_detail_fields(cast, api):
    response = api("alice").get(f"/api/v1/clients/{cast.client.id}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == CLIENT_FIELDS
    assert body == {
        "id": str(cast.client.id),
        "case_number": cast.client.case_number,
        "name": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "birth_date": "1948-04-01",
        "address": "新潟県三条市旭町2丁目3-1",
        "phone": "0256-00-0000",
        "tags": ["高齢", "8050"],
        "status": "active",
        "owner_agency": "fukushi",
        "my_level": "manage",
        "updated_at": body["updated_at"],
    }
    assert body["updated_at"].endswith("+09:00")


@pytest.mark.parametrize("who", EVERYONE)
def test_client_detail_by_role(cast, api, who):
    seq = last_seq()
    response = api(who).get(f"/api/v1/clients/{cast.client.id}/")
    [event] = events_since(seq)
    assert event.action == "client.view"
    if who in VISIBLE:
        assert response.status_code == 200
        assert response.json()["my_level"] == VISIBLE[who]
        assert event.outcome == "allowed"
    else:
        assert_problem(response, 404)
        assert event.outcome == "denied"
        assert event.api_key_id


def _comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
    return response.status_code, headers, response.content


@pytest.mark.parametrize("who", INVISIBLE)
def test_hidden_client_is_byte_identical_to_a_missing_one(cast, api, who):
    cid, missing = cast.client.id, uuid.uuid4()
    for suffix, method, data in [
        ("", "get", None),
        ("", "patch", {"phone": "0256-99-9999"}),
        ("timeline/", "get", None),
        ("timeline/", "post", {"kind": "call", "body": "電話"}),
        ("shares/", "get", None),
        ("shares/", "post", {"agency": "shisetsu", "level": "read", "basis": "consent"}),
    ]:
        hidden = getattr(api(who), method)(f"/api/v1/clients/{cid}/{suffix}", data)
        absent = getattr(api(who), method)(f"/api/v1/clients/{missing}/{suffix}", data)
        assert_problem(hidden, 404)
        assert _comparable(hidden) == _comparable(absent), (suffix, method)
    share = cast.shares["reader"].id
    hidden = api(who).delete(f"/api/v1/clients/{cid}/shares/{share}/")
    absent = api(who).delete(f"/api/v1/clients/{missing}/shares/{share}/")
    assert _comparable(hidden) == _comparable(absent)


def test_malformed_client_id_is_not_found(cast, api):
    for bad in ["not-a-uuid", "1", "%00"]:
        assert_problem(api("alice").get(f"/api/v1/clients/{bad}/"), 404)


def test_confidential_address_is_null_except_for_the_owner(cast, api):
    created = api("alice").post(
        "/api/v1/clients/",
        {
            "name": "佐藤 花子",
            "name_kana": "サトウ ハナコ",
            "birth_date": "1990-05-05",
            "address": "秘匿住所",
            "address_confidential": True,
        },
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    services.share_grant(actor=cast.actor("sam"), client_id=cid, agency_code="shakyo", level="read", basis="consent")
    assert api("alice").get(f"/api/v1/clients/{cid}/").json()["address"] == "秘匿住所"
    assert api("bob").get(f"/api/v1/clients/{cid}/").json()["address"] is None
    listed = {c["id"]: c for c in api("bob").get("/api/v1/clients/").json()["results"]}
    assert listed[cid]["address"] is None


@pytest.mark.parametrize(
    "query,field",
    [
        ("status=deleted", "status"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=abc", "page_size"),
        ("cursor=garbage!", "cursor"),
        ("cursor=eyJkIjoibiIsImsiOltudWxsLG51bGxdfQ", "cursor"),  # {"d":"n","k":[null,null]}
        (f"q={'あ' * 101}", "q"),
    ],
)
def test_client_list_bad_input(cast, api, query, field):
    body = assert_problem(api("alice").get(f"/api/v1/clients/?{query}"), 400)
    assert field in body["errors"]


def test_client_list_paginates_with_cursor_links(cast, api):
    for i in range(4):
        services.client_create(
            actor=cast.actor("alice"),
            name=f"利用者{i}",
            name_kana=f"リヨウシャ{'アイウエ'[i]}",
            birth_date=date(1950, 1, 1),
        )
    first = api("alice").get("/api/v1/clients/?page_size=2&status=active").json()
    assert first["previous"] is None and len(first["results"]) == 2
    assert first["next"].startswith("http://testserver/api/v1/clients/?")
    assert "status=active" in first["next"] and "page_size=2" in first["next"]
    second = api("alice").get(first["next"]).json()
    third = api("alice").get(second["next"]).json()
    assert third["next"] is None
    ids = [c["id"] for page in (first, second, third) for c in page["results"]]
    assert len(ids) == len(set(ids)) == 5
    back = api("alice").get(second["previous"]).json()
    assert [c["id"] for c in back["results"]] == [c["id"] for c in first["results"]]
    # A cursor from one agency's list grants nothing to another: its boundary client is not in charlie's list,
    # so it is refused exactly like a forged one (tests/tsunagu/test_keyset.py).
    assert set(assert_problem(api("charlie").get(first["next"]), 400)["errors"]) == {"cursor"}


# --- client create and update --------------------------------------------------------------------------

NEW_CLIENT = {"name": "鈴木 一郎", "name_kana": "すずき いちろう", "birth_date": "1960-01-02", "tags": ["生活困窮"]}


@pytest.mark.parametrize("who", EVERYONE)
def test_client_create(cast, api, who):
    seq = last_seq()
    response = api(who).post("/api/v1/clients/", NEW_CLIENT)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CLIENT_FIELDS
    assert body["owner_agency"] == cast.users[who].staff.agency.code
    assert body["my_level"] == "manage"
    assert body["name_kana"] == "スズキ イチロウ"
    assert body["address"] == "" and body["phone"] == "" and body["status"] == "active"
    assert [(e.action, e.outcome, e.channel) for e in events_since(seq)] == [("client.create", "allowed", "api")]
    assert api(who).get(f"/api/v1/clients/{body['id']}/").status_code == 200


@pytest.mark.parametrize(
    "data,fields",
    [
        ({}, {"name", "name_kana", "birth_date"}),
        ({**NEW_CLIENT, "name_kana": "Suzuki"}, {"name_kana"}),
        ({**NEW_CLIENT, "birth_date": "2999-01-01"}, {"birth_date"}),
        ({**NEW_CLIENT, "birth_date": "01/02/1960"}, {"birth_date"}),
        ({**NEW_CLIENT, "phone": "call me"}, {"phone"}),
        ({**NEW_CLIENT, "tags": "高齢"}, {"tags"}),
        ({**NEW_CLIENT, "tags": ["a|b"]}, {"tags.0"}),
        ({**NEW_CLIENT, "owner_agency": "shakyo"}, {"owner_agency"}),
        ({**NEW_CLIENT, "name": "x\x00y"}, {"name"}),
    ],
)
def test_client_create_bad_input(cast, api, data, fields):
    body = assert_problem(api("alice").post("/api/v1/clients/", data), 400)
    assert set(body["errors"]) == fields


def test_client_create_rejects_a_body_that_is_not_an_object(cast, api):
    assert_problem(api("alice").post("/api/v1/clients/", ["x"]), 400)
    bad_json = api("alice").post("/api/v1/clients/", "{", content_type="application/json")
    assert "non_field_errors" in assert_problem(bad_json, 400)["errors"]


@pytest.mark.parametrize("who", EVERYONE)
def test_client_update_by_role(cast, api, who):
    response = api(who).patch(f"/api/v1/clients/{cast.client.id}/", {"phone": "0256-12-3456", "tags": ["高齢"]})
    if VISIBLE.get(who) == "manage":
        assert response.status_code == 200
        assert response.json()["phone"] == "0256-12-3456"
        assert response.json()["tags"] == ["高齢"]
    elif who in VISIBLE:
        assert_problem(response, 403)
    else:
        assert_problem(response, 404)


def test_client_status_change_is_recorded_on_the_timeline(cast, api):
    response = api("sam").patch(f"/api/v1/clients/{cast.client.id}/", {"status": "closed"})
    assert response.status_code == 200 and response.json()["status"] == "closed"
    entries = api("bob").get(f"/api/v1/clients/{cast.client.id}/timeline/?kind=status_change").json()["results"]
    assert len(entries) == 1 and "終結" in entries[0]["body"]


def test_client_update_bad_input(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/"
    assert set(assert_problem(api("alice").patch(url, {"case_number": "X"}), 400)["errors"]) == {"case_number"}
    assert set(assert_problem(api("alice").patch(url, {"status": "gone"}), 400)["errors"]) == {"status"}
    assert set(assert_problem(api("alice").patch(url, {"name_kana": "abc"}), 400)["errors"]) == {"name_kana"}


# --- timeline ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_timeline_list(cast, api, who):
    seq = last_seq()
    response = api(who).get(f"/api/v1/clients/{cast.client.id}/timeline/")
    [event] = events_since(seq)
    assert event.action == "timeline.view"
    if who not in VISIBLE:
        assert_problem(response, 404)
        assert event.outcome == "denied"
        return
    assert response.status_code == 200
    entries = response.json()["results"]
    assert all(set(e) == ENTRY_FIELDS for e in entries)
    occurred = [e["occurred_at"] for e in entries]
    assert occurred == sorted(occurred, reverse=True)
    visit = next(e for e in entries if e["id"] == str(cast.entry.id))
    assert visit == {
        "id": str(cast.entry.id),
        "kind": "visit",
        "occurred_at": visit["occurred_at"],
        "recorded_at": visit["recorded_at"],
        "body": "自宅を訪問。体調は安定している。",
        "author": {"username": "alice", "display_name": "Alice"},
        "agency": {"code": "fukushi", "name": "三条市 福祉課"},
        "corrects": None,
        "corrected_by": [],
        "attachments": [],
    }


def test_timeline_filters_and_pages(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    api("carol").post(url, {"kind": "call", "body": "電話で様子を確認。"})
    kinds = {e["kind"] for e in api("bob").get(f"{url}?kind=visit").json()["results"]}
    assert kinds == {"visit"}
    agencies = {e["agency"]["code"] for e in api("bob").get(f"{url}?agency=houkatsu").json()["results"]}
    assert agencies == {"houkatsu"}
    everything = [e["id"] for e in api("bob").get(url).json()["results"]]
    seen, next_url = [], f"{url}?page_size=2"
    while next_url:
        page = api("bob").get(next_url).json()
        seen += [e["id"] for e in page["results"]]
        next_url = page["next"]
    assert seen == everything
    assert "kind" in assert_problem(api("bob").get(f"{url}?kind=gossip"), 400)["errors"]
    assert "cursor" in assert_problem(api("bob").get(f"{url}?cursor=eyJ4IjoxfQ"), 400)["errors"]


@pytest.mark.parametrize("who", EVERYONE)
def test_timeline_append_by_role(cast, api, who):
    seq = last_seq()
    occurred = (timezone.now() - timedelta(hours=2)).isoformat()
    response = api(who).post(
        f"/api/v1/clients/{cast.client.id}/timeline/",
        {"kind": "visit", "body": "訪問しました。", "occurred_at": occurred},
    )
    [event] = events_since(seq)
    assert event.action == "timeline.append"
    if who in APPENDERS:
        assert response.status_code == 201
        body = response.json()
        assert set(body) == ENTRY_FIELDS
        assert body["author"]["username"] == who
        assert body["agency"]["code"] == cast.users[who].staff.agency.code
        assert body["corrects"] is None and body["corrected_by"] == []
        assert event.outcome == "allowed" and event.target_id == body["id"]
    elif who in VISIBLE:
        assert_problem(response, 403)
        assert event.outcome == "denied"
    else:
        assert_problem(response, 404)
        assert event.outcome == "denied"


def test_corrections(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    fix = api("alice").post(url, {"kind": "visit", "body": "訂正: 体調はやや不安定。", "corrects": str(cast.entry.id)})
    assert fix.status_code == 201
    assert fix.json()["corrects"] == str(cast.entry.id)
    listed = {e["id"]: e for e in api("bob").get(url).json()["results"]}
    assert listed[str(cast.entry.id)]["corrected_by"] == [fix.json()["id"]]
    # Another agency may not correct alice's agency's entry; a missing target is bad input.
    assert_problem(api("carol").post(url, {"kind": "note", "body": "x", "corrects": str(cast.entry.id)}), 403)
    body = assert_problem(api("alice").post(url, {"kind": "note", "body": "x", "corrects": str(uuid.uuid4())}), 400)
    assert set(body["errors"]) == {"corrects"}


@pytest.mark.parametrize(
    "data,fields",
    [
        ({"kind": "share_change", "body": "x"}, {"kind"}),
        ({"kind": "visit", "body": ""}, {"body"}),
        ({"kind": "visit"}, {"body"}),
        ({"kind": "visit", "body": "x", "occurred_at": "2999-01-01T00:00:00+09:00"}, {"occurred_at"}),
        ({"kind": "visit", "body": "x", "occurred_at": "yesterday"}, {"occurred_at"}),
        ({"kind": "visit", "body": "x", "corrects": "nope"}, {"corrects"}),
        ({"kind": "visit", "body": "x", "author": "sam"}, {"author"}),
    ],
)
def test_timeline_append_bad_input(cast, api, data, fields):
    body = assert_problem(api("alice").post(f"/api/v1/clients/{cast.client.id}/timeline/", data), 400)
    assert set(body["errors"]) == fields


# --- shares --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_share_list(cast, api, who):
    response = api(who).get(f"/api/v1/clients/{cast.client.id}/shares/")
    if who not in VISIBLE:
        assert_problem(response, 404)
        return
    assert response.status_code == 200
    shares = response.json()["results"]
    assert all(set(s) == SHARE_FIELDS for s in shares)
    by_agency = {s["agency"]: s for s in shares}
    assert set(by_agency) == {"fukushi", "shakyo", "houkatsu", "kaigo", "soudan"}
    reader = by_agency["shakyo"]
    assert reader == {
        "id": str(cast.shares["reader"].id),
        "agency": "shakyo",
        "level": "read",
        "basis": "consent",
        "basis_note": "",
        "granted_by": "sam",
        "granted_at": reader["granted_at"],
        "expires_at": None,
        "revoked_at": None,
    }
    assert by_agency["soudan"]["revoked_at"] is not None
    assert by_agency["kaigo"]["expires_at"] is not None
    # Open shares first, then the revoked one.
    assert shares[-1]["agency"] == "soudan"


def test_share_list_pages(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/shares/"
    everything = [s["id"] for s in api("alice").get(url).json()["results"]]
    first = api("alice").get(f"{url}?page_size=2").json()
    assert first["previous"] is None
    seen, page = [s["id"] for s in first["results"]], first
    while page["next"]:
        page = api("alice").get(page["next"]).json()
        seen += [s["id"] for s in page["results"]]
    assert seen == everything
    assert [s["id"] for s in api("alice").get(page["previous"]).json()["results"]] == everything[2:4]
    assert "cursor" in assert_problem(api("alice").get(f"{url}?cursor=%%%"), 400)["errors"]


@pytest.mark.parametrize("who", EVERYONE)
def test_share_grant_by_role(cast, api, who):
    data = {"agency": "shisetsu", "level": "read", "basis": "support_meeting", "basis_note": "第3回支援会議"}
    seq = last_seq()
    response = api(who).post(f"/api/v1/clients/{cast.client.id}/shares/", data)
    assert events_since(seq)[-1].action == "share.grant"
    if who in SHARE_MANAGERS:
        assert response.status_code == 201
        body = response.json()
        assert set(body) == SHARE_FIELDS
        assert (body["agency"], body["level"], body["basis"], body["granted_by"]) == (
            "shisetsu",
            "read",
            "support_meeting",
            who,
        )
        assert api("charlie").get(f"/api/v1/clients/{cast.client.id}/").status_code == 200
    elif who in VISIBLE:
        assert_problem(response, 403)  # visible: alice manages but is a caseworker; bob and carol lack manage
    else:
        assert_problem(response, 404)


def test_share_grant_with_expiry(cast, api):
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    response = api("sam").post(
        f"/api/v1/clients/{cast.client.id}/shares/",
        {"agency": "shisetsu", "level": "append", "basis": "emergency", "expires_at": expires},
    )
    assert response.status_code == 201
    assert response.json()["expires_at"] is not None


@pytest.mark.parametrize(
    "data,fields",
    [
        ({"agency": "nowhere", "level": "read", "basis": "consent"}, {"agency"}),
        ({"agency": "shisetsu", "level": "admin", "basis": "consent"}, {"level"}),
        ({"agency": "shisetsu", "level": "read", "basis": "gut_feeling"}, {"basis"}),
        ({"agency": "fukushi", "level": "read", "basis": "consent"}, {"agency"}),
        (
            {"agency": "shisetsu", "level": "read", "basis": "consent", "expires_at": "2000-01-01T00:00:00Z"},
            {"expires_at"},
        ),
        ({"level": "read", "basis": "consent"}, {"agency"}),
    ],
)
def test_share_grant_bad_input(cast, api, data, fields):
    body = assert_problem(api("sam").post(f"/api/v1/clients/{cast.client.id}/shares/", data), 400)
    assert set(body["errors"]) == fields


@pytest.mark.parametrize("who", EVERYONE)
def test_share_revoke_by_role(cast, api, who):
    url = f"/api/v1/clients/{cast.client.id}/shares/{cast.shares['reader'].id}/"
    response = api(who).delete(url)
    if who in SHARE_MANAGERS:
        assert response.status_code == 200
        body = response.json()
        assert set(body) == SHARE_FIELDS
        assert body["revoked_at"] is not None
        # Takes effect on bob's next request, which is then indistinguishable from a missing client.
        assert_problem(api("bob").get(f"/api/v1/clients/{cast.client.id}/"), 404)
    elif who in VISIBLE:
        assert_problem(response, 403)
    else:
        assert_problem(response, 404)


def test_share_revoke_edge_cases(cast, api):
    base = f"/api/v1/clients/{cast.client.id}/shares/"
    owner_share = next(s for s in api("sam").get(base).json()["results"] if s["agency"] == "fukushi")
    assert "share" in assert_problem(api("sam").delete(f"{base}{owner_share['id']}/"), 400)["errors"]
    assert "share" in assert_problem(api("sam").delete(f"{base}{cast.shares['revoked'].id}/"), 400)["errors"]
    assert_problem(api("sam").delete(f"{base}{uuid.uuid4()}/"), 404)
    assert_problem(api("sam").delete(f"{base}not-a-uuid/"), 404)


# --- HTTP-level errors ---------------------------------------------------------------------------------


def test_method_not_allowed_is_a_problem_with_allow(cast, api):
    response = api("alice").delete("/api/v1/me/")
    assert_problem(response, 405)
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert_problem(api("alice").put(f"/api/v1/clients/{cast.client.id}/", {}), 405)


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/me", "/api/v2/clients/", "/api/", "/api/v1/clients/x/y/z/"])
def test_unknown_api_paths_are_problem_404(cast, api, path):
    assert_problem(api("alice").get(path), 404)
    assert_problem(api(None).post(path, {}), 404)


def test_a_server_error_is_a_problem_without_details(cast, api, monkeypatch):
    from cases import selectors

    def broken(**kwargs):
        raise RuntimeError("secret internals: connection string postgres://x")

    monkeypatch.setattr(selectors, "client_get", broken)
    response = api("alice").get(f"/api/v1/clients/{cast.client.id}/")
    body = assert_problem(response, 500)
    assert "secret" not in response.content.decode() and "RuntimeError" not in body["detail"]


def test_django_500_handler_under_api_is_a_problem(rf):
    from api.problems import handler400, handler500

    response = handler500(rf.get("/api/v1/clients/"))
    assert (response.status_code, response["Content-Type"]) == (500, "application/problem+json")
    assert handler400(rf.get("/api/v1/clients/")).status_code == 400
    assert handler500(rf.get("/")).status_code == 500
    assert handler500(rf.get("/"))["Content-Type"].startswith("text/html")


def test_unsupported_media_type_is_a_problem(cast, api):
    response = api("alice").post("/api/v1/clients/", "name=x", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_throttled_per_key_with_retry_after(cast, api, settings):
    settings.API_THROTTLE_RATE = "3/min"
    for _ in range(3):
        assert api("alice").get("/api/v1/me/").status_code == 200
    response = api("alice").get("/api/v1/me/")
    assert_problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another key (another user) has its own budget.
    assert api("bob").get("/api/v1/me/").status_code == 200
    seq = last_seq()
    assert_problem(api("alice").get(f"/api/v1/clients/{cast.client.id}/"), 429)
    assert events_since(seq) == []  # throttled before any data is read


def test_every_call_is_audited_once_on_the_api_channel(cast, api):
    cid = cast.client.id
    seq = last_seq()
    api("sam").get("/api/v1/clients/")
    api("sam").get(f"/api/v1/clients/{cid}/")
    api("sam").get(f"/api/v1/clients/{cid}/timeline/")
    api("sam").get(f"/api/v1/clients/{cid}/shares/")
    api("sam").post(f"/api/v1/clients/{cid}/timeline/", {"kind": "note", "body": "メモ"})
    events = events_since(seq)
    assert [e.action for e in events] == [
        "client.list",
        "client.view",
        "timeline.view",
        "share.list",
        "timeline.append",
    ]
    assert {(e.channel, e.actor_username) for e in events} == {("api", "sam")}
    assert len({e.request_id for e in events}) == 5
    assert AuditEvent.objects.filter(seq__gt=seq, api_key_id="").count() == 0


@pytest.mark.parametrize("path", ["/api/v1/clients/", "/api/v1/clients/{id}/timeline/", "/api/v1/clients/{id}/shares/"])
def test_list_query_count_does_not_grow_with_rows(cast, api, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = path.format(id=cast.client.id)
    client = api("sam")
    client.get("/api/v1/me/")  # the key's last-use stamp is written at most once a minute: take it out of the count

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{url}?page_size=200").status_code == 200
        return len(queries)

    before = count()
    for i in range(15):
        services.client_create(
            actor=cast.actor("sam"), name=f"件数{i}", name_kana="ケンスウ", birth_date=date(1970, 1, 1)
        )
        services.timeline_append(actor=cast.actor("sam"), client_id=cast.client.id, kind="note", body=f"メモ{i}")
    for code in ("shisetsu", "soumu"):
        services.share_grant(
            actor=cast.actor("sam"), client_id=cast.client.id, agency_code=code, level="read", basis="consent"
        )
    assert count() == before
