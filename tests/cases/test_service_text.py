"""The text the collaboration services take (an inquiry's subject and question, a reply, a meeting's title and
minutes) is checked by one rule (``cases.services.validation.clean_text``): a string, present, within its limit,
and without NUL, which PostgreSQL text refuses. A bad value is a 400 by field and writes nothing."""

import pytest
from django.utils import timezone

from cases import services
from cases.models import Inquiry, Meeting, TimelineEntry
from tsunagu.errors import InvalidInput


def _ask(cast, **overrides):
    args = {
        "client_id": cast.client.id,
        "to": ["houkatsu"],
        "subject": "通所の状況",
        "body": "ご様子を教えてください。",
    }
    args.update(overrides)
    return services.inquiry_create(actor=cast.actor("alice"), **args)


@pytest.mark.parametrize(
    ("field", "value"),
    [("body", "ご様子を\x00教えてください。"), ("subject", "通所\x00"), ("subject", 42), ("body", ["a"])],
)
def test_an_inquiry_with_a_nul_or_a_non_string_is_refused_by_field(cast, field, value):
    entries = TimelineEntry.objects.count()
    with pytest.raises(InvalidInput) as caught:
        _ask(cast, **{field: value})
    assert field in caught.value.errors
    assert Inquiry.objects.count() == 0 and TimelineEntry.objects.count() == entries


def test_a_reply_with_a_nul_is_refused(cast):
    inquiry = _ask(cast)
    with pytest.raises(InvalidInput) as caught:
        services.inquiry_reply(actor=cast.actor("carol"), inquiry_id=inquiry.id, body="了解\x00しました")
    assert "body" in caught.value.errors


def test_a_meeting_title_with_a_nul_is_refused(cast):
    with pytest.raises(InvalidInput) as caught:
        services.meeting_create(
            actor=cast.actor("sam"),
            title="会議\x00",
            held_on=timezone.localdate(),
            clients=[cast.client.id],
            attendees=["shakyo"],
            share_level="read",
            share_days=7,
        )
    assert "title" in caught.value.errors and Meeting.objects.count() == 0
