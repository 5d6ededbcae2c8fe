"""The Celery application. Tasks run eagerly when no broker is configured (quick-start)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")

app = Celery("tsunagu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
