"""The privacy officer and attachments: one client's history names the files its events are about (who uploaded,
viewed or downloaded which file); lists across clients never name a file; the dashboard and ``health`` show the
files' integrity state."""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from agencies.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from cases import review as case_review
from cases import services
from cases.attachment_selectors import attachment_download
from cases.attachments import Incoming
from cases.models import Attachment, AttachmentBlob, TimelineEntry
from cases.outbox import outbox_relay
from tests.frontend.conftest import text


def _attachment(entry_id, filename, *, position=0, failed=False):
    """An attachment row as the upload leaves it (its stored content is not under test here)."""
    entry = TimelineEntry.objects.get(pk=entry_id)
    attachment = Attachment.objects.create(
        entry=entry,
        client_id=entry.client_id,
        position=position,
        filename=filename,
        content_type="application/pdf",
        size=1234,
        sha256="0" * 64,
        agency_id=entry.agency_id,
        uploaded_by=entry.author,
    )
    AttachmentBlob.objects.create(
        attachment=attachment,
        storage_name=f"test/{attachment.pk}",
        key_id="dev",
        wrapped_key=b"-",
        failed_at=timezone.now() if failed else None,
    )
    return attachment


def _download(cast, who, attachment, action="attachment.download"):
    audit_record(
        actor=cast.actor(who),
        action=action,
        client_ids=[attachment.client_id],
        target_type="attachment",
        target_id=attachment.pk,
    )


@pytest.fixture
def files(cast):
    """Two files on the cast's client (alice uploaded them; bob downloaded one, carol viewed the other's
    thumbnail) and one on another client of alice's agency."""
    consent = _attachment(cast.entry.id, "同意書_山田.pdf")
    photo = _attachment(cast.entry.id, "自宅の様子.jpg", position=1)
    audit_record(
        actor=cast.actor("alice"),
        action="attachment.upload",
        client_ids=[cast.client.id],
        target_type="entry",
        target_id=cast.entry.id,
        details={"attachments": [str(consent.pk), str(photo.pk)]},
    )
    _download(cast, "bob", consent)
    _download(cast, "carol", photo, action="attachment.thumbnail")
    other = services.client_create(
        actor=cast.actor("alice"), name="佐藤 花子", name_kana="サトウ ハナコ", birth_date=date(1950, 5, 5)
    )
    entry = services.timeline_append(actor=cast.actor("alice"), client_id=other.id, kind="note", body="メモ")
    secret = _attachment(entry.id, "手帳_佐藤.pdf")
    _download(cast, "bob", secret)
    return {"consent": consent, "photo": photo, "other": secret, "other_client": other}


def test_one_clients_history_names_who_handled_which_file(files, cast, as_user):
    penny = as_user("penny")
    page = penny.get(reverse("frontend:privacy_client", args=[cast.client.id]))
    body = text(page)
    assert page.status_code == 200
    assert body.count('data-testid="event-files"') == 3  # alice's upload, bob's download, carol's thumbnail
    assert body.count("同意書_山田.pdf") == 2 and body.count("自宅の様子.jpg") == 2  # the upload names both
    assert "手帳_佐藤.pdf" not in body
    lookup = AuditEvent.objects.filter(action="audit.client_lookup", details__purpose="attachment_names").latest("seq")
    assert lookup.client_ids == [str(cast.client.id)] and "同意書" not in str(lookup.details)


def test_lists_across_clients_name_no_file(files, cast, as_user):
    penny = as_user("penny")
    for url in (
        reverse("frontend:privacy_events") + "?action=attachment.",
        reverse("frontend:privacy_user", args=["bob"]),
    ):
        body = text(penny.get(url))
        assert "添付ファイルのダウンロード" in body
        assert "同意書_山田.pdf" not in body and "手帳_佐藤.pdf" not in body and "event-files" not in body


def test_a_client_history_never_names_another_clients_file(files, cast):
    """An event of this client that names another client's attachment (it cannot happen through the services;
    the selector holds anyway) resolves to nothing."""
    penny = cast.actor("penny")
    names = case_review.attachment_names(
        actor=penny, client_id=cast.client.id, attachment_ids=[str(files["other"].pk), str(files["consent"].pk), "x"]
    )
    assert names == {files["consent"].pk: "同意書_山田.pdf"}


def test_the_file_names_are_for_privacy_officers_only(files, cast, as_user):
    assert as_user("alice").get(reverse("frontend:privacy_client", args=[cast.client.id])).status_code == 403
    with pytest.raises(Exception, match="個人情報保護管理者"):
        case_review.attachment_names(
            actor=cast.actor("sam"), client_id=cast.client.id, attachment_ids=[str(files["consent"].pk)]
        )


def test_the_dashboard_shows_the_file_check_and_links_the_failures(cast, as_user):
    penny = as_user("penny")
    card = text(penny.get(reverse("frontend:privacy_dashboard")))
    assert 'data-testid="attachment-integrity"' in card and "添付ファイルの整合性" in card
    assert "last-attachment-verification" not in card  # never ran
    _attachment(cast.entry.id, "同意書.pdf", failed=True)
    audit_record(
        actor=Actor.system(channel="task"),
        action="attachment.verify",
        details={"checked": 3, "passed": 2, "failed": 1, "unreachable": 0, "failed_total": 1},
    )
    body = text(penny.get(reverse("frontend:privacy_dashboard")))
    assert "1 件が不一致" in body and "（3 件を検査）" in body
    assert "?action=attachment.integrity_failed" in body
    assert "同意書.pdf" not in body


def test_health_reports_the_file_check_and_fails_on_a_failed_file(cast):
    outbox_relay()
    out = io.StringIO()
    call_command("health", stdout=out)
    assert "last attachment verification: none" in out.getvalue()
    assert "attachments failing their integrity check: 0" in out.getvalue()
    _attachment(cast.entry.id, "同意書.pdf", failed=True)
    with pytest.raises(CommandError, match="1 attachment"):
        call_command("health", stdout=io.StringIO())


def test_an_upload_and_a_download_through_the_services_show_in_the_history(cast, as_user, settings, tmp_path):
    """The same, end to end: bob's download of the consent form carol attached, on the client's page."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    entry = services.timeline_append(
        actor=cast.actor("carol"),
        client_id=cast.client.id,
        kind="visit",
        body="同意書を受領",
        files=[Incoming("同意書_控え.pdf", io.BytesIO(pdf), len(pdf))],
    )
    attachment = entry.attachments[0]
    assert b"".join(attachment_download(actor=cast.actor("bob"), attachment_id=attachment.id).chunks) == pdf
    body = text(as_user("penny").get(reverse("frontend:privacy_client", args=[cast.client.id])))
    assert body.count("同意書_控え.pdf") == 2  # carol's upload and bob's download
    listing = text(as_user("penny").get(reverse("frontend:privacy_events") + "?action=attachment."))
    assert "同意書_控え.pdf" not in listing
