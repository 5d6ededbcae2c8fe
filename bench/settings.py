"""The benchmark process's settings: the application's, plus django-auditlog when the bench environment has it
(``make bench`` installs ``bench/requirements.txt`` into ``var/bench/deps``, outside the application's
dependencies), for the "our audit write vs django-auditlog" comparison. gunicorn and Celery use the application's
own settings."""

import importlib.util

from tsunagu.settings import *  # noqa: F403
from tsunagu.settings import INSTALLED_APPS

if importlib.util.find_spec("auditlog") is not None:
    INSTALLED_APPS = [*INSTALLED_APPS, "auditlog"]
