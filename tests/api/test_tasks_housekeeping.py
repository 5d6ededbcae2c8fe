from django.conf import settings

from api.tasks import purge_idempotency_keys


def test_idempotency_purge_is_scheduled_and_runs(db):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "api.tasks.purge_idempotency_keys" in schedule
    assert purge_idempotency_keys.delay().get() == 0
