"""The privacy officer's review functions: officers only (others refused and audited), every read audited,
per-client history with exposures and denials, the disclosure report, stats, flags and notes, CSV exports."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit import review
from audit.models import AnomalyFlag, AuditEvent, AuditExposure, FlagNote
from cases import selectors
from cases.review import client_identify, client_lookup
from tests.cases.test_celery_worker import redis_server  # noqa: F401 - fixture
from tests.cast import build_cast
from tsunagu.errors import Forbidden, InvalidInput, NotFound

CASE_CONTENT = ("山田", "太郎", "ヤマダ", "タロウ", "三条市旭町", "0256-00-0000", "自宅を訪問")


def last(action: str, username: str = "penny") -> AuditEvent:
    return AuditEvent.objects.filter(action=action, actor_username=username).latest("seq")


def assert_no_case_content(events) -> None:
    for event in events:
        text = str(event.details) + event.reason + event.target_id
        for fragment in CASE_CONTENT:
            assert fragment not in text, (event.action, fragment)


def a_flag(**fields) -> AnomalyFlag:
    now = timezone.now()
    values = dict(
        rule="break_glass",
        subject_key=f"user:carol:{uuid.uuid4()}",
        subject_username="carol",
        subject_agency_code="houkatsu",
        window_start=now,
        window_end=now,
        event_seqs=[],
        summary="carol（houkatsu）が緊急アクセスを利用しました。",
        created_at=now,
    )
    values.update(fields)
    return AnomalyFlag.objects.create(**values)


CALLS = {
    "review_events": lambda actor: review.review_events(actor=actor),
    "review_seal_status": lambda actor: review.review_seal_status(actor=actor),
    "review_disclosure": lambda actor: review.review_disclosure(
        actor=actor, client_id=uuid.uuid4(), since=timezone.now() - timedelta(days=1), until=timezone.now()
    ),
    "review_stats": lambda actor: review.review_stats(actor=actor),
    "flags_list": lambda actor: review.flags_list(actor=actor),
    "flag_get": lambda actor: review.flag_get(actor=actor, flag_id=uuid.uuid4()),
    "flag_add_note": lambda actor: review.flag_add_note(actor=actor, flag_id=uuid.uuid4(), note="確認"),
    "export_start": lambda actor: review.export_start(actor=actor, filters={}),
    "export_get": lambda actor: review.export_get(actor=actor, export_id=uuid.uuid4()),
    "export_open": lambda actor: review.export_open(actor=actor, export_id=uuid.uuid4()),
    "client_identify": lambda actor: client_identify(actor=actor, client_ids=[uuid.uuid4()]),
    "client_lookup": lambda actor: client_lookup(actor=actor, q="山田"),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("who", ["alice", "sam", "charlie", "system"])
def test_only_privacy_officers(cast, name, who):
    from agencies.actors import Actor

    actor = Actor.system(channel="cli") if who == "system" else cast.actor(who)
    before = AuditEvent.objects.order_by("-seq").first().seq
    with pytest.raises(Forbidden):
        CALLS[name](actor)
    (denied,) = AuditEvent.objects.filter(seq__gt=before)
    assert (denied.outcome, denied.reason, denied.actor_username) == ("denied", "not_privacy_officer", actor.username)
    assert denied.action.startswith("audit.") or denied.action == "export"


def test_search_by_client_includes_exposures_and_denials_and_is_audited(cast):
    cid = cast.client.id
    selectors.client_list(actor=cast.actor("bob"))
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cid)
    penny = cast.actor("penny")
    page = review.review_events(actor=penny, client_id=str(cid), limit=200)
    expected = list(
        AuditEvent.objects.filter(seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"))
        .order_by("-seq")
        .values_list("seq", flat=True)
    )
    assert [e.seq for e in page.items] == expected
    actions = {(e.actor_username, e.action, e.outcome) for e in page.items}
    assert ("bob", "client.list", "allowed") in actions
    assert ("charlie", "client.view", "denied") in actions
    audited = last("audit.view")
    assert audited.details == {"filters": {"client": str(cid)}, "count": len(expected)}
    assert audited.client_ids == [] and audited.outcome == "allowed"


def test_search_filters_by_user_channel_and_outcome(cast):
    selectors.client_get(actor=cast.actor("bob", channel="api"), client_id=cast.client.id)
    penny = cast.actor("penny")
    page = review.review_events(actor=penny, username="bob", channel="api")
    assert [e.action for e in page.items] == ["client.view"]
    assert last("audit.view").details["filters"] == {"actor": "bob", "channel": "api"}
    assert not review.review_events(actor=penny, username="bob", channel="web", action="client.view").items
    prefix = review.review_events(actor=penny, action="share.", limit=200).items
    assert prefix and all(e.action.startswith("share.") for e in prefix)
    with pytest.raises(InvalidInput) as bad:
        review.review_events(actor=penny, channel="fax")
    assert "channel" in bad.value.errors
    with pytest.raises(InvalidInput):
        review.review_events(actor=penny, client_id="not-a-uuid")


def test_disclosure_report_matches_the_events_exactly(cast, monkeypatch):
    cid = cast.client.id
    since = timezone.now() - timedelta(hours=1)
    selectors.client_list(actor=cast.actor("carol"))
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("rick"), client_id=cid)
    until = timezone.now() + timedelta(seconds=1)
    penny = cast.actor("penny")
    report = review.review_disclosure(actor=penny, client_id=cid, since=since, until=until)
    expected = list(
        AuditEvent.objects.filter(
            seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"),
            occurred_at__gte=since,
            occurred_at__lt=until,
        )
        .order_by("occurred_at", "seq")
        .values_list("seq", flat=True)
    )
    assert [e.seq for e in report.events] == expected and not report.capped
    assert {"client.create", "client.list", "timeline.append"} <= {e.action for e in report.events}
    assert any(e.actor_username == "rick" and e.outcome == "denied" for e in report.events)
    audited = last("audit.view")
    assert audited.details["purpose"] == "disclosure" and audited.details["count"] == len(expected)
    # nothing outside the period
    empty = review.review_disclosure(actor=penny, client_id=cid, since=since - timedelta(days=2), until=since)
    assert empty.events == []
    monkeypatch.setattr(review.disclosure, "DISCLOSURE_CAP", 2)
    capped = review.review_disclosure(actor=penny, client_id=cid, since=since, until=until)
    assert capped.capped and [e.seq for e in capped.events] == expected[:2]
    with pytest.raises(InvalidInput):
        review.review_disclosure(actor=penny, client_id=cid, since=until, until=since)
    with pytest.raises(InvalidInput):
        review.review_disclosure(actor=penny, client_id=cid, since=None, until=until)


def test_seal_status_and_stats(cast):
    penny = cast.actor("penny")
    status = review.review_seal_status(actor=penny)
    assert status.seal is None and status.verification is None
    assert last("audit.view").details == {"purpose": "seal_status"}
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)
    a_flag()
    a_flag(status="closed")
    before_stats = {
        code: AuditEvent.objects.filter(actor_agency_code=code).count() for code in ("fukushi", "shisetsu", "")
    }
    denied = AuditEvent.objects.filter(outcome="denied").count()
    stats = review.review_stats(actor=penny, days=7)
    today = timezone.localdate()
    assert stats.last_day == today and stats.first_day == today - timedelta(days=6)
    assert list(stats.events_per_day_by_agency) == [today]
    for code, count in before_stats.items():
        assert stats.events_per_day_by_agency[today].get(code, 0) == count
    assert stats.denied_per_day == {today: denied}
    assert stats.open_flags == 1
    with pytest.raises(InvalidInput):
        review.review_stats(actor=penny, days=0)


def test_flags_notes_and_closing(cast):
    penny = cast.actor("penny")
    event = AuditEvent.objects.filter(action="client.create").get()
    old = a_flag(created_at=timezone.now() - timedelta(hours=1), event_seqs=[event.seq])
    new = a_flag(rule="after_hours")
    assert [f.id for f in review.flags_list(actor=penny).items] == [new.id, old.id]
    assert [f.id for f in review.flags_list(actor=penny, rule="break_glass").items] == [old.id]
    with pytest.raises(InvalidInput):
        review.flags_list(actor=penny, status="maybe")
    detail = review.flag_get(actor=penny, flag_id=old.id)
    assert detail.flag == old and [e.seq for e in detail.events] == [event.seq] and detail.notes == []
    assert last("audit.view").target_id == str(old.id)
    with pytest.raises(NotFound):
        review.flag_get(actor=penny, flag_id=uuid.uuid4())
    with pytest.raises(NotFound):
        review.flag_get(actor=penny, flag_id="nonsense")

    for bad in ("", "   ", "あ" * 2001):
        with pytest.raises(InvalidInput):
            review.flag_add_note(actor=penny, flag_id=old.id, note=bad)
    first = review.flag_add_note(actor=penny, flag_id=old.id, note="本人に確認中。")
    closing = review.flag_add_note(
        actor=penny, flag_id=old.id, note="山田 太郎 さんの緊急対応と確認。問題なし。", close=True
    )
    old.refresh_from_db()
    assert old.status == "closed" and old.closed_by_username == "penny" and old.closed_at is not None
    assert (first.closes_flag, closing.closes_flag) == (False, True)
    assert [n.pk for n in review.flag_get(actor=penny, flag_id=old.id).notes] == [first.pk, closing.pk]
    assert review.flags_list(actor=penny).items == [new]
    assert [f.id for f in review.flags_list(actor=penny, status="closed").items] == [old.id]
    with pytest.raises(InvalidInput):
        review.flag_add_note(actor=penny, flag_id=old.id, note="もう一度", close=True)
    audited = last("audit.flag_review")
    assert audited.target_id == str(old.id) and audited.details["close"] is True
    assert_no_case_content(AuditEvent.objects.filter(action__startswith="audit."))


def test_flag_notes_are_append_only(cast):
    note = review.flag_add_note(actor=cast.actor("penny"), flag_id=a_flag().id, note="確認しました。")
    with pytest.raises(DatabaseError), transaction.atomic():
        FlagNote.objects.filter(pk=note.pk).update(note="書き換え")
    with pytest.raises(DatabaseError), transaction.atomic():
        FlagNote.objects.filter(pk=note.pk).delete()
    assert FlagNote.objects.get(pk=note.pk).note == "確認しました。"


def _rows(content: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(encoding))))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "shift_jis"])
def test_export_csv(cast, settings, tmp_path, django_capture_on_commit_callbacks, encoding):
    settings.AUDIT_EXPORT_DIR = tmp_path
    penny = cast.actor("penny")
    cid = cast.client.id
    with django_capture_on_commit_callbacks(execute=True):
        export = review.export_start(
            actor=penny, filters={"client_id": cid, "action": "share.", "cursor": None, "limit": 50}, encoding=encoding
        )
    started = last("export")
    assert started.details["kind"] == "audit_csv" and started.details["filters"] == {
        "client": str(cid),
        "action": "share.",
    }
    export = review.export_get(actor=penny, export_id=export.id)
    assert (export.status, export.progress) == ("done", 100)
    name, content, file_encoding = review.export_open(actor=penny, export_id=export.id)
    assert file_encoding == encoding
    assert name.endswith(".csv") and name == export.file_name
    if encoding == "utf-8-sig":
        assert content.startswith(b"\xef\xbb\xbf")
    else:
        assert not content.startswith(b"\xef\xbb\xbf")
    rows = _rows(content, encoding)
    assert rows[0][:3] == ["連番", "日時(JST)", "利用者"] and rows[0][-1] == "IPアドレス" and len(rows[0]) == 17
    expected = list(
        AuditEvent.objects.filter(
            seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"), action__startswith="share."
        )
        .order_by("-seq")
        .values_list("seq", "action")
    )
    code = rows[0].index("操作コード")
    assert [(int(r[0]), r[code]) for r in rows[1:]] == expected
    assert export.row_count == len(expected) and rows[1][4] == "ブラウザ" and rows[1][6] == "許可"
    # People read labels, agency names and case numbers; the codes follow in columns of their own.
    share_labels = {"共有の設定", "共有の解除", "共有の期限切れ", "共有設定の閲覧", "共有設定の操作"}
    assert {r[5] for r in rows[1:]} <= share_labels
    assert rows[1][3] == "三条市 福祉課" and rows[1][8] == cast.client.case_number
    assert last("export").details == {"kind": "audit_csv_download", "rows": len(expected)}


def test_export_in_batches_reports_progress(cast, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    from audit import exports

    settings.AUDIT_EXPORT_DIR = tmp_path
    monkeypatch.setattr(exports, "BATCH_SIZE", 3)
    seen = []
    real_update = exports._update
    monkeypatch.setattr(exports, "_update", lambda pk, **f: (seen.append(f.get("progress")), real_update(pk, **f)))
    with django_capture_on_commit_callbacks(execute=True):
        export = review.export_start(actor=cast.actor("penny"), filters={}, encoding="shift_jis")
    export.refresh_from_db()
    total = AuditEvent.objects.filter(seq__lt=last("export").seq).count()
    assert export.status == "done" and export.row_count >= total
    progress = [p for p in seen if p is not None]
    assert progress == sorted(progress) and progress[-1] == 100 and len(progress) > 3
    _, content, _ = review.export_open(actor=cast.actor("penny"), export_id=export.id)
    assert len(_rows(content, "shift_jis")) == export.row_count + 1


def test_export_bad_input_and_unknown(cast, settings, tmp_path):
    settings.AUDIT_EXPORT_DIR = tmp_path
    penny = cast.actor("penny")
    with pytest.raises(InvalidInput):
        review.export_start(actor=penny, filters={}, encoding="latin-1")
    with pytest.raises(InvalidInput):
        review.export_start(actor=penny, filters={"outcome": "maybe"})
    with pytest.raises(InvalidInput):
        review.export_start(actor=penny, filters={"body": "x"})
    with pytest.raises(NotFound):
        review.export_get(actor=penny, export_id=uuid.uuid4())
    export = review.export_start(actor=penny, filters={})  # the task runs after commit, which never comes here
    with pytest.raises(InvalidInput):
        review.export_open(actor=penny, export_id=export.id)


def test_client_identifiers_for_officers(cast):
    penny = cast.actor("penny")
    cid = cast.client.id
    client = selectors.client_get(actor=cast.actor("alice"), client_id=cid)
    for q in (client.case_number, "山田", "やまだ", "ﾔﾏﾀﾞ"):
        found = client_lookup(actor=penny, q=q)
        assert [c.id for c in found] == [cid], q
    (identity,) = found
    assert (identity.case_number, identity.name, identity.owner_agency_code) == (
        client.case_number,
        "山田 太郎",
        "fukushi",
    )
    audited = last("audit.client_lookup")
    assert audited.client_ids == [str(cid)] and "q_hash" in audited.details
    assert client_lookup(actor=penny, q="存在しない人") == []
    with pytest.raises(InvalidInput):
        client_lookup(actor=penny, q=" ")
    assert client_identify(actor=penny, client_ids=[cid, "bad", uuid.uuid4()]) == {cid: identity}
    assert last("audit.client_lookup").client_ids == [str(cid)]
    assert_no_case_content(AuditEvent.objects.filter(action__startswith="audit."))


def test_flags_are_keyset_paged(cast):
    penny = cast.actor("penny")
    now = timezone.now()
    made = [a_flag(created_at=now - timedelta(minutes=i)) for i in range(5)]
    made.append(a_flag(created_at=made[0].created_at))  # a tie on created_at: the id breaks it
    seen, cursor = [], None
    while True:
        page = review.flags_list(actor=penny, cursor=cursor, limit=2)
        seen += [f.id for f in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(f.id for f in made) and len(seen) == len(set(seen))
    expected = sorted(made, key=lambda f: (f.created_at, f.id), reverse=True)
    assert seen == [f.id for f in expected]
    back = review.flags_list(actor=penny, cursor=page.prev_cursor, limit=2)
    assert [f.id for f in back.items] == seen[-4:-2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_server")
def test_export_through_a_real_worker(settings, tmp_path):
    """Queued after commit, built by a worker on a real broker, with its progress visible on the row."""
    from celery.contrib.testing.worker import start_worker

    from audit.models import AuditExport
    from tests.cases.test_celery_worker import _wait_for
    from tsunagu.celery import app as celery_app

    settings.AUDIT_EXPORT_DIR = tmp_path
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        cast = build_cast()
        penny = cast.actor("penny")
        export = review.export_start(actor=penny, filters={"actor": "alice"}, encoding="shift_jis")
        assert _wait_for(lambda: AuditExport.objects.get(pk=export.pk).status == "done")
    export.refresh_from_db()
    assert export.progress == 100 and export.row_count == AuditEvent.objects.filter(actor_username="alice").count()
    _, content, _ = review.export_open(actor=penny, export_id=export.id)
    assert len(_rows(content, "shift_jis")) == export.row_count + 1


def test_disclosure_report_leaves_out_the_privacy_office_s_own_lookups(cast):
    penny = cast.actor("penny")
    since, until = timezone.now() - timedelta(days=1), timezone.now() + timedelta(minutes=1)
    before = review.review_disclosure(actor=penny, client_id=cast.client.id, since=since, until=until).events
    client_lookup(actor=penny, q=cast.client.case_number)
    client_identify(actor=penny, client_ids=[cast.client.id])
    after = review.review_disclosure(actor=penny, client_id=cast.client.id, since=since, until=until).events
    assert [e.seq for e in after] == [e.seq for e in before]
    assert not [e for e in after if e.action.startswith("audit.")]
    history = review.review_events(actor=penny, client_id=cast.client.id).items
    assert any(e.action == "audit.client_lookup" for e in history)  # still in the per-client history
