"""Every service refuses through one helper (``audit.refusals``), so every refusal leaves exactly one denied event.

Each public function that takes an ``actor`` in a service, selector or review module is listed here: either run
with an actor it must refuse (the call must fail and leave exactly one ``denied`` event, nothing else), or named
with the reason it has no refusal (it shows the actor only what is theirs). A new service that is in neither list
fails ``test_every_service_is_listed``, so it cannot ship without its refusal being checked.
"""

import importlib
import inspect
import pkgutil
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from agencies.actors import Actor
from agencies.models import ApiKey
from audit import anomalies
from audit.flag_summaries import SummaryCode
from audit.models import AnomalyFlag, AnomalyRule, AuditEvent, AuditExport
from tests.meetings import convene
from tsunagu.errors import DomainError

MODULES = [
    "agencies.selectors",
    "agencies.services",
    "audit.review",
    "cases.attachment_selectors",
    "cases.convene_selectors",
    "cases.inquiry_selectors",
    "cases.meeting_pages",
    "cases.meeting_review",
    "cases.meeting_selectors",
    "cases.notifications",
    "cases.review",
    "cases.saved_filters",
    "cases.selectors",
    "cases.services.assignments",
    "cases.services.attachments",
    "cases.services.break_glass",
    "cases.services.clients",
    "cases.services.inquiries",
    "cases.services.meetings",
    "cases.services.shares",
    "cases.services.timeline",
    "cases.webhooks",
]

# Functions with no refusal, and why.
NO_REFUSAL = {
    "agencies.selectors.agency_choices": "agency names and kinds, not case data; empty without an agency",
    "agencies.selectors.agency_list": "the agency directory, readable with any key",
    "agencies.selectors.profile_get": "the actor's own profile",
    "audit.review.is_about": "a predicate used by the flag review, not an operation",
    "audit.review.officer.is_system": "a predicate (the periodic task or a command is acting), not an operation",
    "cases.notifications.notification_list": "the actor's own notices",
    "cases.notifications.notification_inbox": "the actor's own notices, naming only clients the actor may still see",
    "cases.notifications.notification_unread_count": "the actor's own notices",
    "cases.notifications.notification_mark_read": "the actor's own notices",
    "cases.selectors.client_list": "a list shows only what the actor may see (an empty page is not a refusal)",
    "cases.selectors.client_find_duplicates": "a list shows only what the actor may see",
    "cases.selectors.share_ended_list": "only the actor's own agency's past shares (empty for anyone else)",
    "cases.selectors.has_caseload": "the actor's own assignments",
    "cases.selectors.assignment_candidates": "names of the actor's own agency's staff (or none)",
    "cases.saved_filters.saved_filter_list": "the actor's own saved filters",
    "cases.saved_filters.saved_filter_get": "the actor's own saved filters (anyone else's is not found)",
    "cases.saved_filters.saved_filter_save": "the actor's own saved filters",
    "cases.saved_filters.saved_filter_delete": "the actor's own saved filters (anyone else's is not found)",
    "cases.selectors.break_glass_open_grants": "the actor's own open grants (client ids and expiry times)",
    "cases.convene_selectors.convene_client_choices": "the clients the actor's own agency manages (none for an "
    "actor who may not convene)",
    "cases.meeting_selectors.meeting_list": "a list shows only the meetings the actor's agency may see",
    "cases.meeting_selectors.task_list": "the actor's agency's own action items, for clients it sees",
    "cases.meeting_selectors.overdue_tasks_for_convener": "the actor's agency's own meetings, for clients it sees",
    "cases.meeting_selectors.pending_confirmations": "meetings awaiting the actor's own agency",
    "cases.inquiry_selectors.inquiry_list": "a list shows only the inquiries the actor's agency may see",
    "cases.inquiry_selectors.open_received_inquiry_count": "a count of the actor's own agency's inquiries",
    "cases.services.inquiries.check_inquiry_access": "raises Refusal for inquiry_access to record",
    "cases.services.inquiries.inquiry_access": "records the refusals of the block it wraps (listed services)",
    "cases.services.inquiries.require_inquiry_writer": "raises Refusal for inquiry_access to record",
    "cases.services.inquiries.inquiry_view": "builds the read model after the access check, reads nothing else",
    "cases.services.attachments.record_integrity_failure": "records what a check found (a refused download or "
    "the operator's nightly check)",
}


NO_INQUIRY = "00000000-0000-0000-0000-000000000000"


def _nobody():
    """An authenticated user without a staff record: no agency, no role."""
    user = get_user_model().objects.create_user(username="nobody", password=None)
    return Actor.for_user(user, channel="web")


def _flag_about(username):
    now = timezone.now()
    anomalies.raise_flag(
        rule=AnomalyRule.AFTER_HOURS,
        subject_key=f"user:{username}",
        username=username,
        window_start=now - timedelta(hours=1),
        window_end=now,
        seqs=[],
        summary=SummaryCode.AFTER_HOURS,
        params={"user": username, "day": "2026-11-24", "start": 8, "end": 19},
    )
    return AnomalyFlag.objects.get(subject_key=f"user:{username}")


def _export():
    return AuditExport.objects.create(requested_by_username="penny", filters={}, created_at=timezone.now())


def _ivan_key(c):
    return ApiKey.objects.create(user=c.users["ivan"], name="k", prefix="abcd1234", secret_hash="0" * 64)


cid = lambda c: c.client.id  # noqa: E731

# "module.function": (refused actor, arguments, the action its denied event records)
REFUSED = {
    "agencies.selectors.staff_of_agency": ("alice", lambda c: {}, "staff.list"),
    "agencies.selectors.apikey_holders": (_nobody, lambda c: {}, "apikey.issue"),
    "agencies.selectors.apikey_list": ("alice", lambda c: {}, "apikey.list"),
    "agencies.services.require_operator": ("alice", lambda c: {"action": "agency.create"}, "agency.create"),
    "agencies.services.require_agency_admin": ("alice", lambda c: {"action": "staff.list"}, "staff.list"),
    "agencies.services.agency_create": ("ada", lambda c: {"code": "x", "name": "x", "kind": "other"}, "agency.create"),
    "agencies.services.staff_create": (
        "ada",
        lambda c: {"username": "mallory", "agency_code": "fukushi", "role": "supervisor"},
        "staff.create",
    ),
    "agencies.services.apikey_issue": ("otis", lambda c: {"user": c.users["penny"], "name": "k"}, "apikey.issue"),
    "agencies.services.apikey_revoke": ("bob", lambda c: {"key_id": _ivan_key(c).pk}, "apikey.revoke"),
    "audit.review.require_privacy_officer": ("alice", lambda c: {}, "audit.view"),
    "audit.review.review_events": ("alice", lambda c: {}, "audit.view"),
    "audit.review.review_events_authorised_by": ("alice", lambda c: {"authorised_by": []}, "audit.view"),
    "audit.review.review_client_history": ("alice", lambda c: {"client_id": cid(c)}, "audit.view"),
    "audit.review.review_seal_status": ("alice", lambda c: {}, "audit.view"),
    "audit.review.review_disclosure": (
        "alice",
        lambda c: {"client_id": cid(c), "since": timezone.now() - timedelta(days=1), "until": timezone.now()},
        "audit.view",
    ),
    "audit.review.review_stats": ("alice", lambda c: {}, "audit.view"),
    "audit.review.review_term_search": ("alice", lambda c: {"terms": ["山田"]}, "audit.term_search"),
    "audit.review.detect_anomalies": ("alice", lambda c: {}, "audit.detect_anomalies"),
    "audit.review.flags_list": ("alice", lambda c: {}, "audit.view"),
    "audit.review.flag_get": ("alice", lambda c: {"flag_id": _flag_about("bob").pk}, "audit.view"),
    "audit.review.flag_add_note": (
        "penny",
        lambda c: {"flag_id": _flag_about("penny").pk, "note": "x"},
        "audit.flag_review",
    ),
    "audit.review.export_start": ("alice", lambda c: {"filters": {}}, "export"),
    "audit.review.export_get": ("alice", lambda c: {"export_id": _export().pk}, "audit.view"),
    "audit.review.export_open": ("alice", lambda c: {"export_id": _export().pk}, "export"),
    "cases.review.client_identify": ("alice", lambda c: {"client_ids": [cid(c)]}, "audit.client_lookup"),
    "cases.review.client_lookup": ("alice", lambda c: {"q": "山田"}, "audit.client_lookup"),
    "cases.review.break_glass_grants": ("alice", lambda c: {"grant_ids": []}, "audit.client_lookup"),
    "cases.selectors.client_get": ("charlie", lambda c: {"client_id": cid(c)}, "client.view"),
    "cases.selectors.timeline_list": ("charlie", lambda c: {"client_id": cid(c)}, "timeline.view"),
    "cases.selectors.share_list": ("charlie", lambda c: {"client_id": cid(c)}, "share.list"),
    "cases.selectors.client_page": ("charlie", lambda c: {"client_id": cid(c), "timeline": None}, "client.view"),
    "cases.services.clients.client_create": (
        _nobody,
        lambda c: {"name": "a", "name_kana": "あ", "birth_date": "1950-01-01"},
        "client.create",
    ),
    "cases.services.clients.client_update": (
        "bob",
        lambda c: {"client_id": cid(c), "changes": {"phone": "1"}},
        "client.update",
    ),
    "cases.services.clients.client_status_change": (
        "bob",
        lambda c: {"client_id": cid(c), "status": "closed", "reason": "転居のため"},
        "client.update",
    ),
    "cases.attachment_selectors.attachment_download": (
        "charlie",
        lambda c: {"attachment_id": NO_INQUIRY},
        "attachment.download",
    ),
    "cases.attachment_selectors.attachment_thumbnail": (
        "charlie",
        lambda c: {"attachment_id": NO_INQUIRY},
        "attachment.thumbnail",
    ),
    "cases.services.timeline.timeline_append": (
        "bob",
        lambda c: {"client_id": cid(c), "kind": "call", "body": "x"},
        "timeline.append",
    ),
    "cases.services.shares.share_grant": (
        "alice",
        lambda c: {"client_id": cid(c), "agency_code": "shisetsu", "level": "read", "basis": "consent"},
        "share.grant",
    ),
    "cases.services.shares.share_revoke": (
        "alice",
        lambda c: {"client_id": cid(c), "share_id": c.shares["reader"].id},
        "share.revoke",
    ),
    "cases.services.shares.share_expire_sweep": ("sam", lambda c: {}, "share.expire"),
    "cases.services.attachments.attachments_verify": ("sam", lambda c: {}, "attachment.verify"),
    "cases.services.attachments.attachments_purge": ("sam", lambda c: {}, "attachment.purge"),
    "cases.services.attachments.attachments_rekey": ("sam", lambda c: {}, "attachment.rekey"),
    "cases.review.attachment_names": (
        "alice",
        lambda c: {"client_id": cid(c), "attachment_ids": []},
        "audit.client_lookup",
    ),
    "cases.review.attachment_integrity": ("alice", lambda c: {}, "audit.view"),
    "cases.services.break_glass.break_glass_open": (
        "penny",
        lambda c: {"name_kana": "ヤマダ タロウ", "birth_date": "1948-04-01", "reason": "救急搬送のため"},
        "break_glass",
    ),
    "cases.services.assignments.assignment_add": (
        "ivan",
        lambda c: {"client_id": cid(c), "user_id": c.users["ivan"].pk},
        "assignment.add",
    ),
    "cases.services.assignments.assignment_remove": (
        "ivan",
        lambda c: {"client_id": cid(c), "assignment_id": "00000000-0000-0000-0000-000000000000"},
        "assignment.remove",
    ),
    "cases.inquiry_selectors.inquiry_detail": ("charlie", lambda c: {"inquiry_id": NO_INQUIRY}, "inquiry.view"),
    "cases.services.inquiries.inquiry_create": (
        "bob",
        lambda c: {"client_id": cid(c), "to": ["fukushi"], "subject": "件名", "body": "本文"},
        "inquiry.create",
    ),
    "cases.services.inquiries.inquiry_reply": (
        "charlie",
        lambda c: {"inquiry_id": NO_INQUIRY, "body": "回答"},
        "inquiry.reply",
    ),
    "cases.services.inquiries.inquiry_close": ("charlie", lambda c: {"inquiry_id": NO_INQUIRY}, "inquiry.close"),
    "cases.meeting_selectors.meeting_detail": ("carol", lambda c: {"meeting_id": convene(c).id}, "meeting.view"),
    "cases.meeting_pages.meeting_page": ("carol", lambda c: {"meeting_id": convene(c).id}, "meeting.view"),
    "cases.meeting_review.meeting_register": ("alice", lambda c: {}, "audit.view"),
    "cases.meeting_review.meeting_review_get": ("alice", lambda c: {"meeting_id": convene(c).id}, "audit.view"),
    "cases.services.meetings.meeting_create": (
        "alice",
        lambda c: {
            "title": "会議",
            "held_on": timezone.localdate(),
            "clients": [cid(c)],
            "attendees": ["shisetsu"],
            "share_level": "read",
            "share_days": 7,
        },
        "meeting.create",
    ),
    "cases.services.meetings.meeting_confirm": ("charlie", lambda c: {"meeting_id": convene(c).id}, "meeting.confirm"),
    "cases.services.meetings.meeting_minutes_record": (
        "carol",
        lambda c: {"meeting_id": convene(c).id, "summary": "x"},
        "meeting.minutes",
    ),
    "cases.services.meetings.task_done": (
        "charlie",
        lambda c: {"task_id": "00000000-0000-0000-0000-000000000000"},
        "task.done",
    ),
    "cases.webhooks.webhook_register": ("alice", lambda c: {"url": "https://partner.example/x"}, "webhook.register"),
}


def _services():
    """Public functions taking an actor, named by the module callers import them from: a package's functions by
    the package when it re-exports them, by their own module when it does not."""
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        members = [(module_name, module)]
        if hasattr(module, "__path__"):
            for info in pkgutil.iter_modules(module.__path__, prefix=f"{module_name}."):
                members.append((info.name, importlib.import_module(info.name)))
        for defined_in, source in members:
            for name, func in inspect.getmembers(source, inspect.isfunction):
                if name.startswith("_") or func.__module__ != defined_in:
                    continue
                if "actor" in inspect.signature(func).parameters:
                    yield f"{module_name}.{name}" if getattr(module, name, None) is func else f"{defined_in}.{name}"


def test_every_service_is_listed():
    found = set(_services())
    unlisted = found - set(REFUSED) - set(NO_REFUSAL)
    assert not unlisted, f"add these to REFUSED (or, with a reason, NO_REFUSAL): {sorted(unlisted)}"
    assert not (set(REFUSED) | set(NO_REFUSAL)) - found, "listed but gone"


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_a_refused_actor_leaves_exactly_one_denied_event(cast, path):
    who, arguments, action = REFUSED[path]
    module_name, _, name = path.rpartition(".")
    func = getattr(importlib.import_module(module_name), name)
    actor = who() if callable(who) else cast.actor(who)
    kwargs = arguments(cast)
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    with pytest.raises(DomainError):
        func(actor=actor, **kwargs)
    events = list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", "outcome"))
    assert events == [(action, "denied")]


def test_a_block_names_its_target_as_it_goes_and_the_refusal_records_the_last_one(cast):
    """``refusals_audited`` yields the event's fields: a block checking several objects in turn (a meeting's
    clients, then the meeting) names the one a refusal is about; an id given as it came is stored only when
    well formed."""
    from audit.refusals import Refusal, refusals_audited
    from tsunagu.errors import NotFound

    actor = Actor.for_user(cast.users["alice"], channel="web")
    audited = refusals_audited(actor=actor, action="client.view", target_type="client", target_id="x\x00y")
    with pytest.raises(NotFound), audited as target:
        target["target_id"] = cast.client.id
        raise Refusal("no_share", NotFound())
    event = AuditEvent.objects.filter(outcome="denied").latest("seq")
    assert (event.target_type, event.target_id, event.reason) == ("client", str(cast.client.id), "no_share")
    audited = refusals_audited(actor=actor, action="client.view", target_type="client", target_id="x\x00y")
    with pytest.raises(NotFound), audited:
        raise Refusal("not_found", NotFound())
    assert AuditEvent.objects.filter(outcome="denied").latest("seq").target_id == ""
