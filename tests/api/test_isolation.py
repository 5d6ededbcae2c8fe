"""A key of one agency never reads, lists, searches or appends for a client shared only with another agency."""

from datetime import date

import pytest

from audit.models import AuditEvent
from cases import services

from .helpers import assert_problem, events_since, last_seq

# houkatsu (carol's agency) registers a client and shares it with nobody: it is the only agency holding a share.
OTHERS = ["alice", "sam", "ada", "bob", "charlie", "erin", "rick", "penny"]


@pytest.fixture
def secret(cast):
    return services.client_create(
        actor=cast.actor("carol"),
        name="秘密 花子",
        name_kana="ひみつ はなこ",
        birth_date=date(1980, 7, 7),
        address="三条市どこか1-1",
        tags=["DV"],
        address_confidential=True,
    )


def test_the_owning_agency_sees_it(cast, api, secret):
    assert api("carol").get(f"/api/v1/clients/{secret.id}/").status_code == 200
    listed = [c["id"] for c in api("carol").get("/api/v1/clients/?q=ひみつ").json()["results"]]
    assert listed == [str(secret.id)]


@pytest.mark.parametrize("who", OTHERS)
def test_no_other_agency_reaches_it_through_any_endpoint(cast, api, secret, who):
    client = api(who)
    cid = secret.id
    [owner_share] = [s["id"] for s in api("carol").get(f"/api/v1/clients/{cid}/shares/").json()["results"]]
    seq = last_seq()

    # Lists and searches: no trace, by any term that matches the client.
    for query in ["", "?q=秘密", "?q=ヒミツ", "?q=ﾋﾐﾂ", f"?q={secret.case_number}", "?tag=DV", "?status=active&tag=DV"]:
        response = client.get(f"/api/v1/clients/{query}")
        assert response.status_code == 200
        assert str(cid) not in response.content.decode(), query
        assert "秘密" not in response.content.decode()

    # Direct reads and writes: 404, as for a client that does not exist.
    requests = [
        client.get(f"/api/v1/clients/{cid}/"),
        client.patch(f"/api/v1/clients/{cid}/", {"phone": "0000"}),
        client.get(f"/api/v1/clients/{cid}/timeline/"),
        client.get(f"/api/v1/clients/{cid}/timeline/?kind=visit"),
        client.post(f"/api/v1/clients/{cid}/timeline/", {"kind": "note", "body": "覗き見"}),
        client.post(
            f"/api/v1/clients/{cid}/timeline/", {"kind": "note", "body": "覗き見"}, HTTP_IDEMPOTENCY_KEY="probe-1"
        ),
        client.get(f"/api/v1/clients/{cid}/shares/"),
        client.post(f"/api/v1/clients/{cid}/shares/", {"agency": "shisetsu", "level": "read", "basis": "consent"}),
        client.delete(f"/api/v1/clients/{cid}/shares/{owner_share}/"),
    ]
    for response in requests:
        assert_problem(response, 404)
        assert "秘密" not in response.content.decode()

    # Every direct attempt was audited as denied; the lists exposed nothing.
    events = events_since(seq)
    listings = [e for e in events if e.action in ("client.list", "client.search")]
    assert len(listings) == 7 and all(str(cid) not in e.client_ids for e in listings)
    denied = [e for e in events if e.outcome == "denied"]
    assert len(denied) == len(requests)
    assert all(e.target_id == str(cid) and e.channel == "api" for e in denied)
    assert not [e for e in AuditEvent.objects.filter(seq__gt=seq, outcome="allowed") if str(cid) in e.client_ids]

    # Nothing was written.
    entries = api("carol").get(f"/api/v1/clients/{cid}/timeline/").json()["results"]
    assert entries == []
    assert [s["agency"] for s in api("carol").get(f"/api/v1/clients/{cid}/shares/").json()["results"]] == ["houkatsu"]


@pytest.mark.parametrize("who", ["alice", "bob"])  # a caseworker of the managing agency; a read share
def test_a_refused_share_change_says_who_may_manage_shares(cast, api, who):
    """The API shows the service's refusal as the browser does: who may manage shares, whichever fell short."""
    grant = api(who).post(
        f"/api/v1/clients/{cast.client.id}/shares/",
        {"agency": "shisetsu", "level": "read", "basis": "consent"},
        format="json",
    )
    revoke = api(who).delete(f"/api/v1/clients/{cast.client.id}/shares/{cast.shares['reader'].id}/")
    for response in (grant, revoke):
        assert assert_problem(response, 403)["detail"] == (
            "共有設定は、この支援対象者を管理する機関の管理職・主任または機関管理者のみが行えます。"
        )
