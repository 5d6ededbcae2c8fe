"""What a write leaves besides its own change: a system entry on the timeline, an announcement through the outbox."""

from agencies.actors import Actor
from agencies.models import Agency

from ..models import Client, Meeting, TimelineEntry
from ..outbox import outbox_enqueue
from ..timeline_events import Event


def system_entry(*, actor: Actor, agency: Agency | None, client: Client, event: Event, body: str = "") -> TimelineEntry:
    """A system entry stores its event and the event's parameters, no sentence: each reader sees it rendered in
    their own language (``cases.timeline_events``). It happens, and is recorded, at the actor's moment
    (``Actor.now``): the same as the change it records and that change's audit event. ``agency`` is the agency the
    entry is recorded for (inside a ``client_access`` block, ``access.agency``); None for the system's own changes
    (the expiry sweep). ``body``: the words the actor gave with the change (a status change's reason), shown
    beneath the rendered event; never a sentence of the system's."""
    now = actor.now()
    return TimelineEntry.objects.create(
        client=client,
        kind=event.kind,
        occurred_at=now,
        recorded_at=now,
        body=body,
        event=event.event,
        event_params=event.params,
        author=actor.account,
        agency=agency,
    )


def announce(
    topic: str,
    *,
    client: Client,
    agency: Agency | None,
    entry: TimelineEntry | None = None,
    meeting: Meeting | None = None,
) -> None:
    """Tell the other sharing agencies, after commit, through the outbox (ids only). ``meeting``: the 支援会議 the
    change belongs to (its minutes), whose page the notice links to."""
    payload = {
        "client_id": str(client.pk),
        "entry_id": str(entry.pk) if entry else None,
        "agency_id": agency.pk if agency else None,
    }
    if meeting is not None:
        payload["meeting_id"] = str(meeting.pk)
    outbox_enqueue(topic=topic, payload=payload)
