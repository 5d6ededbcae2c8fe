"""Break-glass (緊急アクセス): exact フリガナ + birth date and a reason give 4 hours of read access."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from cases import selectors, services
from cases.models import BreakGlassGrant
from tsunagu.errors import Forbidden, InvalidInput, NotFound


def _open(
    cast, who="charlie", kana="ヤマダ タロウ", birth="1948-04-01", reason="救急搬送先から既往歴の照会があったため"
):
    return services.break_glass_open(actor=cast.actor(who), name_kana=kana, birth_date=birth, reason=reason)


def test_break_glass_grants_time_boxed_read_access(cast):
    charlie = cast.actor("charlie")
    with pytest.raises(NotFound):
        selectors.client_get(actor=charlie, client_id=cast.client.id)
    [view] = _open(cast, kana="やまだたろう")  # hiragana, no space: the same フリガナ
    assert view.id == cast.client.id and view.my_level == "read"
    assert selectors.client_get(actor=charlie, client_id=cast.client.id).my_level == "read"
    assert [c.id for c in selectors.client_list(actor=charlie).items] == [cast.client.id]
    with pytest.raises(Forbidden):  # read only
        services.timeline_append(actor=charlie, client_id=cast.client.id, kind="note", body="追記")
    event = AuditEvent.objects.get(action="break_glass")
    assert event.outcome == "allowed" and event.details["flag"] is True
    assert event.client_ids == [str(cast.client.id)]
    view_event = AuditEvent.objects.filter(action="client.view", outcome="allowed").latest("seq")
    assert view_event.authorised_by.startswith("break_glass:")
    assert "救急搬送" not in str(event.details)  # the reason is kept with the grant, not in the audit row
    latest = selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id).items[0]
    assert latest.kind == "break_glass"


def test_break_glass_expires_after_four_hours(cast):
    _open(cast)
    with time_machine.travel(timezone.now() + timedelta(hours=4, minutes=1)):
        with pytest.raises(NotFound):
            selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)
        assert selectors.client_list(actor=cast.actor("charlie")).items == []


def test_break_glass_is_personal(cast):
    from agencies.actors import Actor
    from agencies.services import staff_create

    _open(cast)
    colleague = staff_create(
        actor=Actor.system(channel="cli"), username="dave", agency_code="shisetsu", role="caseworker"
    ).user
    with pytest.raises(NotFound):
        selectors.client_get(actor=Actor.for_user(colleague, channel="web"), client_id=cast.client.id)


def test_no_match_is_not_found_and_audited_denied(cast):
    with pytest.raises(NotFound):
        _open(cast, birth="1948-04-02")
    assert AuditEvent.objects.get(action="break_glass").outcome == "denied"
    assert not BreakGlassGrant.objects.exists()


def test_reason_is_required_and_integrations_may_not(cast):
    with pytest.raises(InvalidInput):
        _open(cast, reason=" ")
    from agencies.actors import Actor
    from agencies.services import staff_create

    bot = staff_create(
        actor=Actor.system(channel="cli"), username="bot", agency_code="shisetsu", role="integration"
    ).user
    with pytest.raises(Forbidden):
        services.break_glass_open(
            actor=Actor.for_user(bot, channel="api"),
            name_kana="ヤマダ タロウ",
            birth_date="1948-04-01",
            reason="理由あり理由",
        )
    assert not BreakGlassGrant.objects.exists()


# --- one active grant per person and client; a renewal needs a new reason and raises its own flag -----------


def test_repeating_break_glass_with_the_same_reason_is_refused_while_the_grant_is_active(cast):
    _open(cast)
    seq = AuditEvent.objects.latest("seq").seq
    with pytest.raises(InvalidInput) as raised:
        _open(cast)
    assert "reason" in raised.value.errors
    [event] = AuditEvent.objects.filter(seq__gt=seq)
    assert (event.action, event.outcome, event.reason) == ("break_glass", "denied", "renewal_same_reason")
    assert BreakGlassGrant.objects.count() == 1


def test_a_renewal_with_a_new_reason_replaces_the_grant_and_raises_its_own_flag(cast):
    from agencies.actors import Actor
    from audit.models import AnomalyFlag
    from audit.review import detect_anomalies

    _open(cast)
    first = BreakGlassGrant.objects.get()
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        _open(cast, reason="搬送先で追加の服薬情報が必要になったため")
        active = BreakGlassGrant.objects.filter(ended_at=None)
        [second] = active
        assert second.pk != first.pk and second.renews_id == first.pk
        first.refresh_from_db()
        assert first.ended_at is not None
        renewal = AuditEvent.objects.filter(action="break_glass").latest("seq")
        assert renewal.details["renewal_of"] == str(first.pk)
        detect_anomalies(actor=Actor.system(channel="task"))
        flags = AnomalyFlag.objects.filter(rule="break_glass").order_by("created_at")
        assert flags.count() == 2
        assert sum("延長" in f.summary for f in flags) == 1
    # the renewal runs four hours from its own start, not forever
    with time_machine.travel(timezone.now() + timedelta(hours=7, minutes=1)), pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)


def test_after_expiry_a_new_grant_may_repeat_the_reason(cast):
    _open(cast)
    with time_machine.travel(timezone.now() + timedelta(hours=4, minutes=1)):
        _open(cast)
        assert BreakGlassGrant.objects.filter(ended_at=None).count() == 1
        assert selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)


def test_the_database_holds_one_open_grant_per_person_and_client(cast):
    from django.db import IntegrityError, transaction

    _open(cast)
    grant = BreakGlassGrant.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        BreakGlassGrant.objects.create(
            client=grant.client, user=grant.user, agency=grant.agency, reason="別の理由で", expires_at=grant.expires_at
        )
