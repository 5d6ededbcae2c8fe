"""Privacy officers review access, not cases (PRODUCT §1, §4.4; issue 10, finding 2).

The rule: an officer whose staff role is caseworker or supervisor reads through the agency's shares like
colleagues (penny); any other officer reads no case data at all (olga, the office's administrator); break-glass is
refused to every officer, and a grant they somehow hold grants nothing. Nobody annotates or closes a flag about
themselves. Each refusal leaves exactly one denied event.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import anomalies, review
from audit.flag_summaries import SummaryCode
from audit.models import AnomalyFlag, AnomalyRule, AuditEvent, FlagNote
from cases import selectors, services
from cases.models import BreakGlassGrant
from tsunagu.errors import Forbidden, NotFound


def _seq():
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _only(seq):
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


@pytest.fixture
def office_share(cast):
    """The office (penny's and olga's agency) is given a read share of the client."""
    return services.share_grant(
        actor=cast.actor("sam"), client_id=cast.client.id, agency_code="soumu", level="read", basis="consent"
    )


def test_an_officer_who_does_casework_reads_through_the_agencys_share(cast, office_share):
    view = selectors.client_get(actor=cast.actor("penny"), client_id=cast.client.id)
    assert view.id == cast.client.id and view.my_level == "read"
    assert [c.id for c in selectors.client_list(actor=cast.actor("penny")).items] == [cast.client.id]


@pytest.mark.parametrize(
    "read",
    [
        lambda c, a: selectors.client_get(actor=a, client_id=c.client.id),
        lambda c, a: selectors.timeline_list(actor=a, client_id=c.client.id),
        lambda c, a: selectors.share_list(actor=a, client_id=c.client.id),
    ],
    ids=["client.view", "timeline.view", "share.list"],
)
def test_an_officer_without_casework_reads_nothing_even_where_the_agency_shares(cast, office_share, read):
    seq = _seq()
    with pytest.raises(NotFound):
        read(cast, cast.actor("olga"))
    [event] = _only(seq)
    assert (event.outcome, event.reason, event.actor_username) == ("denied", "privacy_officer", "olga")
    assert event.client_ids == []


def test_an_officer_without_casework_lists_no_client(cast, office_share):
    seq = _seq()
    assert selectors.client_list(actor=cast.actor("olga")).items == []
    [event] = _only(seq)
    assert event.client_ids == []
    # the office's administrator who is no officer sees the office's share, as any administrator would
    assert [c.id for c in selectors.client_list(actor=cast.actor("otis")).items] == [cast.client.id]


@pytest.mark.parametrize("who", ["penny", "olga"])
def test_break_glass_is_refused_to_every_officer(cast, who):
    seq = _seq()
    with pytest.raises(Forbidden):
        services.break_glass_open(
            actor=cast.actor(who), name_kana="ヤマダ タロウ", birth_date="1948-04-01", reason="救急搬送の照会のため"
        )
    [event] = _only(seq)
    assert (event.action, event.outcome, event.reason) == ("break_glass", "denied", "privacy_officer")
    assert not BreakGlassGrant.objects.exists()


def test_a_grant_an_officer_holds_grants_nothing(cast):
    """A grant from before this rule (or written behind the service's back) does not open the client."""
    penny = cast.users["penny"]
    BreakGlassGrant.objects.create(
        client_id=cast.client.id,
        user=penny,
        agency=cast.agencies["office"],
        reason="以前の緊急アクセス",
        expires_at=timezone.now() + timedelta(hours=4),
    )
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("penny"), client_id=cast.client.id)
    assert selectors.client_list(actor=cast.actor("penny")).items == []
    assert AuditEvent.objects.filter(action="client.view").get().outcome == "denied"


# --- nobody reviews a flag about themselves -----------------------------------------------------------------


def _flag_about(username: str, agency: str = "soumu", seqs=()) -> AnomalyFlag:
    now = timezone.now()
    anomalies.raise_flag(
        rule=AnomalyRule.AFTER_HOURS,
        subject_key=f"user:{username}",
        username=username,
        agency=agency,
        window_start=now - timedelta(hours=1),
        window_end=now,
        seqs=list(seqs),
        summary=SummaryCode.AFTER_HOURS,
        params={"user": username, "agency": agency, "day": "2026-11-24", "start": 8, "end": 19},
    )
    return AnomalyFlag.objects.get(subject_key=f"user:{username}")


@pytest.mark.parametrize("close", [False, True])
def test_an_officer_may_not_annotate_or_close_a_flag_about_herself(cast, close):
    flag = _flag_about("penny")
    seq = _seq()
    with pytest.raises(Forbidden):
        review.flag_add_note(actor=cast.actor("penny"), flag_id=flag.pk, note="問題ありません", close=close)
    [event] = _only(seq)
    assert (event.action, event.outcome, event.reason) == ("audit.flag_review", "denied", "own_flag")
    assert event.target_id == str(flag.pk)
    flag.refresh_from_db()
    assert flag.status == "open" and not FlagNote.objects.exists()
    # another officer reviews it
    review.flag_add_note(actor=cast.actor("olga"), flag_id=flag.pk, note="業務上の必要を確認", close=True)
    flag.refresh_from_db()
    assert flag.status == "closed" and flag.closed_by_username == "olga"


def test_a_flag_whose_events_are_hers_is_about_her_too(cast, office_share):
    """An after-share-end flag names an agency and lists several users: being behind one of its events is enough."""
    selectors.client_get(actor=cast.actor("penny"), client_id=cast.client.id)
    seq = AuditEvent.objects.filter(actor_username="penny", action="client.view").get().seq
    flag = _flag_about("sam", agency="fukushi", seqs=[seq])
    with pytest.raises(Forbidden):
        review.flag_add_note(actor=cast.actor("penny"), flag_id=flag.pk, note="確認済み")
    assert review.flag_add_note(actor=cast.actor("olga"), flag_id=flag.pk, note="確認済み").note == "確認済み"


def test_notices_go_to_officers_only_while_they_do_casework(cast, office_share, django_capture_on_commit_callbacks):
    from cases.models import Notification

    with django_capture_on_commit_callbacks(execute=True):
        entry = services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="call", body="電話")
    notified = set(Notification.objects.filter(entry_id=entry.id).values_list("recipient__username", flat=True))
    assert {"penny", "otis"} <= notified and "olga" not in notified


def test_the_flag_page_offers_no_review_form_to_its_subject(cast):
    from django.test import Client
    from django.urls import reverse

    from tests.mfa import sign_in

    flag = _flag_about("penny")
    pages = {}
    for who in ("penny", "olga"):
        browser = sign_in(Client(), cast.users[who])
        pages[who] = browser.get(reverse("frontend:privacy_flag", args=[flag.pk])).content.decode()
    note_url = reverse("frontend:privacy_flag_note", args=[flag.pk])
    assert note_url not in pages["penny"] and "ご自身に関する指摘です" in pages["penny"]
    assert note_url in pages["olga"]
