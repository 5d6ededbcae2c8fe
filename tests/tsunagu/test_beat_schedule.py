"""The periodic schedule: every entry names a task the worker knows, and each task runs against the database."""

from django.conf import settings

from cases.models import Share
from tsunagu.celery import app


def test_every_scheduled_task_is_registered():
    app.autodiscover_tasks(force=True)
    unknown = {
        name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if entry["task"] not in app.tasks
    }
    assert unknown == {}
    assert "audit.tasks.detect_anomalies" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_every_scheduled_task_runs_against_the_database(cast, settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path)
    app.autodiscover_tasks(force=True)
    results = {
        name: app.tasks[entry["task"]].apply(throw=True).get()
        for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items())
    }
    assert results["sweep-expired-shares"] == 1  # the share that lapsed without the sweep
    assert Share.objects.get(pk=cast.shares["lapsed"].id).revoke_reason == "expired"
    assert results["audit-verify"]["ok"] is True
